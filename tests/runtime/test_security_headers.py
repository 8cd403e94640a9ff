"""Security headers on every kind of public response: one sweep over the runtime's routes.

Every answer (200, 204, 304, 4xx, 500, 503, with and without ``Origin``) carries
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy``, and the two embed documents (loader
and iframe page) carry a strict Content-Security-Policy on 200 and 304 alike. The sweep is checked
against the app's own route table, so a new route without a case fails here; management's
answers share the same wrapper and are sampled. What each header's value means for one route is
tested beside the route (tests/runtime/test_embed.py, test_cors_origins.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.exceptions
from redis.asyncio import Redis

from common.http import UNROUTED
from common.ids import new_id
from common.redis_keys import RedisKeys
from runtime_service.conversation_start import ConversationStarter
from tests.support.bundle import JS_NAME
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget

# The app reads the bundle at start-up: a stand-in one, before the client.
pytestmark = pytest.mark.usefixtures("bundle")

PREFIX = "/core/public/web-widgets"
EMBED = "/public/embed"
ORIGIN = "https://shop.example"
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


@dataclass
class Case:
    name: str
    route: str  # the route template it exercises (UNROUTED for the catch-all)
    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    csp: bool = False  # an embed document: a strict CSP is required too


@dataclass
class Ids:
    widget: str
    restricted: str
    conversation: str
    rated: str  # a conversation whose feedback was already given
    etags: dict[str, str]


async def seed(client: Any, redis: Redis, keys: RedisKeys) -> Ids:
    version = await seed_agent_version(redis, keys, new_id())
    widget = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    restricted = await seed_widget(redis, keys, version, domains=["https://other.example"])
    url = f"{PREFIX}/{widget.id}/conversations"

    async def conversation() -> str:
        resp = await client.post(url, json={"user_id": "u1"})
        assert resp.status == 200
        return (await resp.json())["conversation"]["id"]

    conversation_id, rated = await conversation(), await conversation()
    resp = await client.post(f"{url}/{rated}/feedback", json={"data": {"rating": 5}})
    assert resp.status == 200
    etags = {}
    for path in (f"{PREFIX}/{widget.id}", f"{EMBED}/{widget.id}", f"{EMBED}/{widget.id}/frame",
                 f"{EMBED}/assets/{JS_NAME}"):
        resp = await client.get(path)
        assert resp.status == 200, path
        etags[path] = resp.headers["ETag"]
    return Ids(widget.id, restricted.id, conversation_id, rated, etags)


def cases(ids: Ids) -> list[Case]:
    widget_route = PREFIX + "/{id}"
    list_route = PREFIX + "/{id}/conversations"
    feedback_route = PREFIX + "/{id}/conversations/{conversation_id}/feedback"
    w = f"{PREFIX}/{ids.widget}"
    feedback = f"{w}/conversations/{ids.conversation}/feedback"

    def revalidate(path: str) -> dict[str, str]:
        return {"If-None-Match": ids.etags[path]}

    found = [
        Case("health", "/healthz", "GET", "/healthz", 200),
        Case("ready", "/readyz", "GET", "/readyz", 200),
        Case("openapi", "/openapi.json", "GET", "/openapi.json", 200),
        Case("metrics", "/metrics", "GET", "/metrics", 200),
        Case("widget", widget_route, "GET", w, 200),
        Case("widget 304", widget_route, "GET", w, 304, revalidate(w)),
        Case("widget 404", widget_route, "GET", f"{PREFIX}/{new_id()}", 404),
        Case("widget, origin", widget_route, "GET", w, 200, {"Origin": ORIGIN}),
        Case("widget, origin refused", widget_route, "GET", f"{PREFIX}/{ids.restricted}", 403,
             {"Origin": ORIGIN}),
        Case("start", list_route, "POST", f"{w}/conversations", 200, json={"user_id": "u2"}),
        Case("start, origin", list_route, "POST", f"{w}/conversations", 200, {"Origin": ORIGIN},
             json={"user_id": "u2"}),
        Case("start 422", list_route, "POST", f"{w}/conversations", 422, json={"user_id": ""}),
        Case("list", list_route, "GET", f"{w}/conversations?user_id=u2", 200),
        Case("list 422", list_route, "GET", f"{w}/conversations?limit=0", 422),
        Case("feedback", feedback_route, "POST", feedback, 200, json={"data": {"rating": 3}}),
        Case("feedback 409", feedback_route, "POST", f"{w}/conversations/{ids.rated}/feedback",
             409, json={"data": {"rating": 1}}),
        Case("preflight", UNROUTED, "OPTIONS", f"{w}/conversations", 204,
             {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}),
        Case("preflight 404", UNROUTED, "OPTIONS", f"{PREFIX}/{new_id()}", 404,
             {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}),
        # Unsigned: 401 (the signed answers are in tests/runtime/test_livekit_webhook.py).
        Case("livekit webhook 401", "/livekit/webhook", "POST", "/livekit/webhook", 401,
             json={"event": "room_started"}),
        Case("405", UNROUTED, "DELETE", w, 405),
        Case("unmatched", UNROUTED, "GET", "/no/such/path", 404),
        Case("unmatched, origin", UNROUTED, "GET", f"{w}/nothing", 404, {"Origin": ORIGIN}),
    ]
    embed = [
        Case("loader", EMBED + "/{id}", "GET", f"{EMBED}/{ids.widget}", 200, csp=True),
        Case("loader 304", EMBED + "/{id}", "GET", f"{EMBED}/{ids.widget}", 304,
             revalidate(f"{EMBED}/{ids.widget}"), csp=True),
        Case("loader 404", EMBED + "/{id}", "GET", f"{EMBED}/{new_id()}", 404),
        Case("frame", EMBED + "/{id}/frame", "GET", f"{EMBED}/{ids.widget}/frame", 200, csp=True),
        Case("frame 304", EMBED + "/{id}/frame", "GET", f"{EMBED}/{ids.widget}/frame", 304,
             revalidate(f"{EMBED}/{ids.widget}/frame"), csp=True),
        Case("frame 404", EMBED + "/{id}/frame", "GET", f"{EMBED}/{new_id()}/frame", 404),
        Case("asset", EMBED + "/assets/{name}", "GET", f"{EMBED}/assets/{JS_NAME}", 200),
        Case("asset gzip", EMBED + "/assets/{name}", "GET", f"{EMBED}/assets/{JS_NAME}", 200,
             {"Accept-Encoding": "gzip"}),
        Case("asset 304", EMBED + "/assets/{name}", "GET", f"{EMBED}/assets/{JS_NAME}", 304,
             revalidate(f"{EMBED}/assets/{JS_NAME}")),
        Case("asset 404", EMBED + "/assets/{name}", "GET", f"{EMBED}/assets/none.js", 404),
    ]
    return found + embed


def assert_security_headers(resp: Any, what: str) -> None:
    for name, value in SECURITY.items():
        assert resp.headers.get(name) == value, (what, resp.status, name, dict(resp.headers))
    # A publicly cacheable answer carries only the caller's own id (none was sent here).
    public = resp.status in (200, 304) and resp.headers.get(
        "Cache-Control", ""
    ).startswith("public")
    assert bool(resp.headers.get("X-Request-ID")) != public, (what, dict(resp.headers))


def assert_strict_csp(resp: Any, what: str) -> None:
    header = resp.headers.get("Content-Security-Policy")
    assert header, (what, "no CSP")
    directives = {
        words[0]: words[1:]
        for words in (part.split() for part in header.split(";") if part.strip())
    }
    assert directives.get("default-src") == ["'none'"], (what, header)
    script = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, (what, header)
    assert "*" not in script, (what, header)
    assert "frame-ancestors" in directives, (what, header)


async def send(client: Any, case: Case) -> Any:
    resp = await client.request(case.method, case.path, headers=case.headers, json=case.json)
    await resp.read()
    assert resp.status == case.status, (case.name, resp.status, await resp.text())
    return resp


async def test_every_runtime_response_kind_has_the_security_headers(
    client: Any, redis: Redis, keys: RedisKeys
) -> None:
    ids = await seed(client, redis, keys)
    sweep = cases(ids)
    for case in sweep:
        resp = await send(client, case)
        assert_security_headers(resp, case.name)
        if case.csp:
            assert_strict_csp(resp, case.name)

    # Every (method, route) the app serves has at least one case.
    served = {
        (route.method, resource.canonical if resource.name != UNROUTED else UNROUTED)
        for resource in client.app.router.resources()
        for route in resource
        if route.method != "HEAD"
    }
    covered = {(case.method, case.route) for case in sweep}
    covered |= {("*", UNROUTED)}  # the catch-all takes any method; cases above use three
    assert served <= covered, served - covered


Raiser = Callable[..., Awaitable[Any]]


def raising(exc: Exception) -> Raiser:
    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return boom


@pytest.mark.parametrize(
    ("exc", "status"),
    [(RuntimeError("boom"), 500), (redis.exceptions.ConnectionError("down"), 503)],
)
@pytest.mark.parametrize("origin", [None, ORIGIN])
async def test_failures_have_the_security_headers(
    client: Any,
    redis: Redis,
    keys: RedisKeys,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    status: int,
    origin: str | None,
) -> None:
    ids = await seed(client, redis, keys)
    monkeypatch.setattr(ConversationStarter, "start", raising(exc))
    headers = {"Origin": origin} if origin else {}
    resp = await client.post(
        f"{PREFIX}/{ids.widget}/conversations", json={"user_id": "u1"}, headers=headers
    )
    assert resp.status == status
    assert set(await resp.json()) == {"detail"}
    assert_security_headers(resp, f"{status} {origin}")
    if origin:
        assert resp.headers["Access-Control-Allow-Origin"] == origin


async def test_management_answers_have_the_security_headers(
    management_client: Any, org_with_key: Any
) -> None:
    """The management API shares the wrapper (common.http.edge): a few answers of each kind."""
    _, auth = await org_with_key()
    answers = [
        ("GET", "/core/web-widgets", auth, None, 200),
        ("POST", "/core/web-widgets", auth, {"agent_id": "x"}, 422),
        ("GET", f"/core/web-widgets/{new_id()}", auth, None, 404),
        ("GET", "/core/web-widgets", {}, None, 401),
        ("DELETE", "/core/web-widgets", auth, None, 405),
        ("GET", "/no/such/path", {}, None, 404),
    ]
    for method, path, headers, body, status in answers:
        resp = await management_client.request(method, path, headers=headers, json=body)
        assert resp.status == status, (method, path, resp.status, await resp.text())
        assert_security_headers(resp, f"{method} {path} {status}")


async def test_server_header_names_no_versions(runtime_client: Any, management_client: Any) -> None:
    for client, path in ((runtime_client, f"/core/public/web-widgets/{new_id()}"),
                         (runtime_client, "/healthz"), (management_client, "/core/web-widgets"),
                         (management_client, "/no/such/path")):
        resp = await client.get(path)
        assert resp.headers["Server"] == "web-widgets", (path, resp.headers["Server"])
