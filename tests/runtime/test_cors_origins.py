"""Allowed domains and CORS on every public route: listed origins and the runtime's own origin
get CORS headers, others get 403 without them, an empty list allows any origin, preflights are
answered for every public route, and requests without Origin pass."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from common.settings import Settings
from runtime_service.appkeys import WIDGET_SOURCE
from tests.support.seed import FEEDBACK_CONFIG, seed_widget

PREFIX = "/core/public/web-widgets"
ALLOWED = "https://shop.example"
OTHER = "https://evil.example"
PUBLIC_ORIGIN = "https://widgets.test"
REFUSED = {"detail": "Origin not allowed for this widget"}

# (method, path suffix after /{id}, request body) for each public route.
ROUTES = [
    ("GET", "", None),
    ("POST", "/conversations", {"user_id": "guest_1"}),
    ("GET", "/conversations", None),
    ("POST", "/conversations/{conversation_id}/feedback", {"data": {"rating": 5}}),
]


def url(widget_id: str, suffix: str) -> str:
    return f"{PREFIX}/{widget_id}" + suffix.format(conversation_id=new_id())


@pytest.fixture
def client(client: Any, runtime_settings: Settings) -> Any:
    assert runtime_settings.public_origin == PUBLIC_ORIGIN
    return client


@pytest.fixture
async def restricted(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    return await seed_widget(
        redis, keys, version, domains=[ALLOWED, "http://localhost:3000"], config=FEEDBACK_CONFIG
    )


@pytest.fixture
async def open_widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    return await seed_widget(redis, keys, version, domains=[])


def assert_cors(resp: Any, origin: str) -> None:
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in resp.headers["Vary"]
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"ETag", "X-Next-Cursor", "X-Request-ID", "Retry-After"}
    assert "Access-Control-Allow-Credentials" not in resp.headers


def assert_no_cors(resp: Any) -> None:
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Access-Control-Expose-Headers" not in resp.headers


async def test_listed_origin_gets_cors_headers(client: Any, restricted: Any) -> None:
    resp = await client.get(f"{PREFIX}/{restricted.id}", headers={"Origin": ALLOWED})
    assert resp.status == 200
    assert_cors(resp, ALLOWED)
    assert (await resp.json())["id"] == restricted.id


async def test_second_listed_origin_with_port(client: Any, restricted: Any) -> None:
    origin = "http://localhost:3000"
    resp = await client.get(f"{PREFIX}/{restricted.id}", headers={"Origin": origin})
    assert resp.status == 200
    assert_cors(resp, origin)


@pytest.mark.parametrize(
    "origin",
    [OTHER, "https://www.shop.example", "http://shop.example", "https://shop.example:8443",
     "http://localhost:3001", "null"],
)  # fmt: skip
async def test_unlisted_origin_is_refused_on_widget_get(
    client: Any, restricted: Any, origin: str
) -> None:
    resp = await client.get(f"{PREFIX}/{restricted.id}", headers={"Origin": origin})
    assert resp.status == 403
    assert await resp.json() == REFUSED
    assert_no_cors(resp)


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_unlisted_origin_is_refused_on_every_route(
    client: Any, restricted: Any, method: str, suffix: str, body: Any
) -> None:
    resp = await client.request(
        method, url(restricted.id, suffix), json=body, headers={"Origin": OTHER}
    )
    assert resp.status == 403
    assert await resp.json() == REFUSED
    assert_no_cors(resp)


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_listed_origin_reaches_every_route(
    client: Any, restricted: Any, method: str, suffix: str, body: Any
) -> None:
    resp = await client.request(
        method, url(restricted.id, suffix), json=body, headers={"Origin": ALLOWED}
    )
    assert resp.status != 403
    assert_cors(resp, ALLOWED)


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_a_browser_request_reads_its_widget_once(
    client: Any, restricted: Any, method: str, suffix: str, body: Any
) -> None:
    """The handler answers with the widget the origin check read (runtime_service.appkeys
    RESOLVED_WIDGET) instead of reading the cache again."""
    source = client.server.app[WIDGET_SOURCE]
    assert (await client.get(f"{PREFIX}/{restricted.id}")).status == 200  # now cached
    stats = source.stats
    before = stats.hits + stats.misses
    resp = await client.request(
        method, url(restricted.id, suffix), json=body, headers={"Origin": ALLOWED}
    )
    assert resp.status < 500 and resp.status != 403
    assert_cors(resp, ALLOWED)
    assert stats.hits + stats.misses - before == 1


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_public_origin_is_always_allowed(
    client: Any, restricted: Any, method: str, suffix: str, body: Any
) -> None:
    resp = await client.request(
        method, url(restricted.id, suffix), json=body, headers={"Origin": PUBLIC_ORIGIN}
    )
    assert resp.status != 403
    assert_cors(resp, PUBLIC_ORIGIN)


@pytest.mark.parametrize("origin", [OTHER, "http://localhost:5173", PUBLIC_ORIGIN])
async def test_empty_domains_allow_any_origin(client: Any, open_widget: Any, origin: str) -> None:
    resp = await client.get(f"{PREFIX}/{open_widget.id}", headers={"Origin": origin})
    assert resp.status == 200
    assert_cors(resp, origin)


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_no_origin_passes(
    client: Any, restricted: Any, method: str, suffix: str, body: Any
) -> None:
    resp = await client.request(method, url(restricted.id, suffix), json=body)
    assert resp.status != 403
    assert_no_cors(resp)


async def test_unpublished_widget_still_enforces_its_domains(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    draft = await seed_widget(redis, keys, version, published=False, domains=[ALLOWED])
    refused = await client.post(
        f"{PREFIX}/{draft.id}/conversations", json={"user_id": "u"}, headers={"Origin": OTHER}
    )
    assert refused.status == 403
    allowed = await client.get(f"{PREFIX}/{draft.id}", headers={"Origin": ALLOWED})
    assert allowed.status == 404
    assert_cors(allowed, ALLOWED)


async def test_errors_for_allowed_origins_are_readable(client: Any) -> None:
    # An unknown widget has no domains to enforce: the handler's 404 is readable by the page.
    resp = await client.get(f"{PREFIX}/{new_id()}", headers={"Origin": OTHER})
    assert resp.status == 404
    assert await resp.json() == {"detail": "Widget not found"}
    assert_cors(resp, OTHER)


def preflight_headers(origin: str, method: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, x-request-id",
    }


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
@pytest.mark.parametrize("origin", [ALLOWED, PUBLIC_ORIGIN])
async def test_preflight_allowed(
    client: Any, restricted: Any, method: str, suffix: str, body: Any, origin: str
) -> None:
    resp = await client.options(
        url(restricted.id, suffix), headers=preflight_headers(origin, method)
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    methods = {m.strip() for m in resp.headers["Access-Control-Allow-Methods"].split(",")}
    assert method in methods and "OPTIONS" not in methods
    allow = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "if-none-match", "x-request-id"} <= allow
    assert resp.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in resp.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_preflight_lists_the_paths_methods(client: Any, restricted: Any) -> None:
    resp = await client.options(
        f"{PREFIX}/{restricted.id}/conversations", headers=preflight_headers(ALLOWED, "POST")
    )
    assert resp.headers["Access-Control-Allow-Methods"] == "GET, POST"


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_preflight_refused(
    client: Any, restricted: Any, method: str, suffix: str, body: Any
) -> None:
    resp = await client.options(
        url(restricted.id, suffix), headers=preflight_headers(OTHER, method)
    )
    assert resp.status == 403
    assert await resp.json() == REFUSED
    assert_no_cors(resp)
    assert "Access-Control-Allow-Methods" not in resp.headers


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_preflight_any_origin_for_empty_domains(
    client: Any, open_widget: Any, method: str, suffix: str, body: Any
) -> None:
    resp = await client.options(
        url(open_widget.id, suffix), headers=preflight_headers(OTHER, method)
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == OTHER


@pytest.mark.parametrize("widget_id", [new_id(), "not-a-uuid"])
async def test_preflight_for_an_unknown_widget_is_404(client: Any, widget_id: str) -> None:
    resp = await client.options(
        f"{PREFIX}/{widget_id}/conversations", headers=preflight_headers(OTHER, "POST")
    )
    assert resp.status == 404
    assert await resp.json() == {"detail": "Widget not found"}


async def test_preflight_for_an_unknown_path_is_404(client: Any, open_widget: Any) -> None:
    resp = await client.options(
        f"{PREFIX}/{open_widget.id}/nothing-here", headers=preflight_headers(OTHER, "GET")
    )
    assert resp.status == 404
    assert (await resp.json())["detail"]


async def test_options_that_is_not_a_preflight_is_405(client: Any, open_widget: Any) -> None:
    resp = await client.options(f"{PREFIX}/{open_widget.id}")
    assert resp.status == 405
    assert (await resp.json())["detail"]
    assert "GET" in resp.headers["Allow"]


async def test_non_public_routes_get_no_cors(client: Any) -> None:
    resp = await client.get("/healthz", headers={"Origin": OTHER})
    assert resp.status == 200
    assert_no_cors(resp)
