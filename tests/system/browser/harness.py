"""What the browser tests run against: a real redis-server, the real runtime service on a
loopback port (served from a thread with its own event loop, so Playwright's sync API can
drive the browser from the test thread), and the demo host page on a second port.

Two host origins come from one server: http://127.0.0.1:P and http://localhost:P differ.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from redis.asyncio import Redis

from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess, free_port
from runtime_service.app import create_app
from runtime_service.embed.assets import MANIFEST, STATIC_DIR
from runtime_service.embed.demo import DemoServer
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

T = TypeVar("T")
# Playwright's wait for each action (its default is 30 s).
TIMEOUT = 15_000
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the `playwright` Python package is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "no chromium executable (run `make browser`, or apt-get install chromium)"
    if not (STATIC_DIR / MANIFEST).is_file():
        return f"the widget bundle is not built ({STATIC_DIR}): run `make embed` (needs npm)"
    return None


def chromium_path() -> str | None:
    if env := os.environ.get("CHROMIUM_BIN"):
        return env if Path(env).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


class LoopThread:
    """An asyncio loop in a daemon thread; ``run`` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="embed-servers")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Stack:
    """Redis + runtime + demo host page. ``seed(fn)`` runs ``fn(redis, keys)`` in the loop."""

    def __init__(self) -> None:
        self.redis_proc = RedisProcess().start()
        self.loop = LoopThread()
        self.runtime_port = free_port()
        self.demo_port = free_port()
        # Nothing listens here: the LiveKit connection is attempted and fails, as without a
        # LiveKit server; the test sees the attempt.
        self.livekit_port = free_port()
        self.runtime = f"http://127.0.0.1:{self.runtime_port}"
        self.livekit_url = f"ws://127.0.0.1:{self.livekit_port}"
        self.keys = RedisKeys("test")
        self.redis: Redis = self.loop.run(self._client())
        self.runner: web.AppRunner | None = None
        self.demo: DemoServer | None = None

    async def _client(self) -> Redis:
        return Redis.from_url(self.redis_proc.url)

    def seed(self, fn: Any) -> Any:
        return self.loop.run(fn(self.redis, self.keys))

    def start(self, default_widget: str) -> Stack:
        settings = make_settings(
            "runtime",
            self.redis_proc.url,
            port=self.runtime_port,
            public_origin=self.runtime,
            livekit_url=self.livekit_url,
        )
        self.runner = self.loop.run(self._serve(create_app(settings)))
        self.demo = DemoServer(self.runtime, default_widget, port=self.demo_port).start()
        return self

    async def _serve(self, app: web.Application) -> web.AppRunner:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.runtime_port).start()
        return runner

    def host(self, name: str = "127.0.0.1") -> str:
        return f"http://{name}:{self.demo_port}"

    def close(self) -> None:
        if self.demo is not None:
            self.demo.stop()
        if self.runner is not None:
            self.loop.run(self.runner.cleanup())
        self.loop.run(self.redis.aclose())
        self.loop.close()
        self.redis_proc.cleanup()


# --- driving the demo page (shared by the browser test modules) ---------------------------

IFRAME = "iframe[data-anyreach-widget]"


def visit(page: Page, stack: Stack, widget_id: str, host: str = "127.0.0.1", **query: str) -> None:
    url = f"{stack.host(host)}/?widget={widget_id}"
    for key, value in query.items():
        url += f"&{key}={quote(value, safe='')}"
    page.goto(url)


def wait_event(page: Page, name: str, count: int = 1) -> list[dict[str, Any]]:
    page.wait_for_function(
        "([name, count]) => window.widgetEvents.filter(e => e.name === name).length >= count",
        arg=[name, count],
    )
    events = page.evaluate("window.widgetEvents")
    return [event["detail"] for event in events if event["name"] == name]


def refusal(message: Any) -> bool:
    return message.type == "error" and "[Anyreach widget]" in message.text


def widget_frame(page: Page) -> Any:
    handle = page.wait_for_selector(IFRAME)
    frame = handle.content_frame()
    assert frame is not None
    return frame


def open_widget(page: Page) -> Any:
    frame = widget_frame(page)
    wait_event(page, "ready")
    frame.locator(".aw-launcher").click()
    wait_event(page, "opened")
    return frame


@contextmanager
def chromium(*args: str) -> Iterator[Browser]:
    """Headless Chromium with ``args`` besides --no-sandbox (CI runs as root)."""
    from playwright.sync_api import sync_playwright  # only once missing_requirement() is None

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox", *args]
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_context(browser: Browser, *scripts: Path, **options: Any) -> Iterator[BrowserContext]:
    """A new context (its own localStorage and sessionStorage) with ``options``, TIMEOUT for
    each action, and ``scripts`` run first in every page."""
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT)
    for script in scripts:
        context.add_init_script(path=str(script))
    try:
        yield context
    finally:
        context.close()
