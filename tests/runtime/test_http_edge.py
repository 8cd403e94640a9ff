"""One error shape everywhere: ``{"detail": ...}``; a 500 reveals nothing; Redis outages are 503;
every response carries a request id (the caller's, when it is sane)."""

from __future__ import annotations

import functools
import io
import json
import logging
from typing import Any

import pytest
import redis.exceptions
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from common.appkeys import METRICS
from common.bodies import CachedResponse
from common.errors import ApiError
from common.http import add_routes, add_unrouted, check_routes_edged
from common.logs import JsonFormatter
from common.metrics import Metrics
from common.settings import Settings
from management_service import app as management_app
from management_service.cors import cors_policy
from runtime_service import app as runtime_app


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internal state")


async def _redis_down(request: web.Request) -> web.Response:
    raise redis.exceptions.ConnectionError("connection refused")


async def _api_error(request: web.Request) -> web.Response:
    raise ApiError(409, "conflict here")


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _app() -> web.Application:
    app = web.Application(client_max_size=10)
    app[METRICS] = Metrics()

    async def read(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({})

    add_routes(app, [
        web.get("/boom", _boom),
        web.get("/redis", _redis_down),
        web.get("/conflict", _api_error),
        web.get("/ok", _ok),
        web.post("/ok", _ok),
        web.post("/read", read),
    ])
    add_unrouted(app)
    return app


async def test_unexpected_exception_is_plain_500(aiohttp_client: Any, caplog: Any) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert resp.status == 500
    assert await resp.json() == {"detail": "Internal server error"}
    assert "secret" not in await resp.text()
    assert resp.headers["X-Request-ID"] == "req-123"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


async def test_redis_outage_is_503_with_retry_after(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/redis")
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert (await resp.json())["detail"]


async def test_api_error_and_router_errors_are_json(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/conflict")
    assert (resp.status, await resp.json()) == (409, {"detail": "conflict here"})
    resp = await client.get("/missing")
    assert resp.status == 404 and "detail" in await resp.json()
    resp = await client.delete("/ok")
    assert resp.status == 405 and "GET" in resp.headers["Allow"]
    assert "detail" in await resp.json()
    resp = await client.post("/read", data=b"x" * 100)
    assert resp.status == 413 and "detail" in await resp.json()


async def test_request_id_generated_when_missing_or_unsafe(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/ok", headers={"X-Request-ID": "bad id\twith spaces"})
    assert resp.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(resp.headers["X-Request-ID"]) == 32
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def _with_a_bare_route(monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
    """The service's routes plus one added straight to the router, outside the edge."""
    setup_routes = module.setup_routes

    def setup_with_bare_route(app: web.Application) -> None:
        setup_routes(app)
        app.router.add_get("/bare", _ok)

    monkeypatch.setattr(module, "setup_routes", setup_with_bare_route)


@pytest.mark.parametrize("service", ["runtime", "management"])
def test_create_app_refuses_a_route_outside_the_edge(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    module = runtime_app if service == "runtime" else management_app
    settings = Settings(service=service)
    module.create_app(settings)  # every route of the service goes through the edge
    _with_a_bare_route(monkeypatch, module)
    with pytest.raises(RuntimeError, match=r"outside the edge.*GET /bare"):
        module.create_app(settings)


def test_a_wrapper_copying_an_edged_handler_does_not_pass_for_edged() -> None:
    app = web.Application()
    app[METRICS] = Metrics()
    add_routes(app, [web.get("/edged", _ok)])
    edged = next(iter(app.router.routes())).handler

    @functools.wraps(edged)
    async def around(request: web.Request) -> web.StreamResponse:
        return await edged(request)

    app.router.add_get("/around", around)
    with pytest.raises(RuntimeError, match="GET /around"):
        check_routes_edged(app)


def _app_with_a_cross_origin_policy() -> web.Application:
    """_app's routes with a CORS policy that renders errors itself (as the runtime's origin
    policy and the management API's do, to put CORS headers on them)."""
    app = web.Application(client_max_size=10)
    app[METRICS] = Metrics()
    policy = cors_policy(("https://dash.example",))
    add_routes(app, [
        web.get("/boom", _boom),
        web.get("/redis", _redis_down),
        web.get("/conflict", _api_error),
        web.post("/read", _read),
    ], cross_origin=policy)
    add_unrouted(app, cross_origin=policy)
    return app


async def _read(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({})


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/boom", None),
        ("GET", "/redis", None),
        ("GET", "/conflict", None),
        ("POST", "/read", b"x" * 100),
        ("GET", "/missing", None),
        ("DELETE", "/conflict", None),
    ],
)
async def test_errors_render_the_same_inside_a_cross_origin_policy(
    aiohttp_client: Any, method: str, path: str, body: bytes | None
) -> None:
    """One renderer: an error answered inside a policy (with Origin) is the edge's answer."""
    client = await aiohttp_client(_app_with_a_cross_origin_policy())
    answers = []
    for origin in (None, "https://dash.example"):
        headers = {"X-Request-ID": "same"} | ({"Origin": origin} if origin else {})
        resp = await client.request(method, path, data=body, headers=headers)
        kept = {
            name: value for name, value in resp.headers.items()
            if not name.startswith("Access-Control-") and name not in ("Date", "Vary")
        }
        answers.append((resp.status, await resp.read(), kept))
    assert answers[0][0] >= 400
    assert answers[0] == answers[1]


# Publicly cacheable answers: the caller's request id only, and hits counted but not timed.

_PUBLIC = {"Cache-Control": "public, max-age=30"}


async def _hit(request: web.Request) -> web.Response:
    return CachedResponse(body=b"{}", headers=_PUBLIC)


async def _hit_304(request: web.Request) -> web.Response:
    return CachedResponse(status=304, headers=_PUBLIC)


async def _miss(request: web.Request) -> web.Response:
    logging.getLogger("tests.edge").warning("read from Redis")
    return web.Response(body=b"{}", headers=_PUBLIC)


async def _private_hit(request: web.Request) -> web.Response:
    # Served from a cache but not publicly cacheable: today's behaviour.
    return CachedResponse(body=b"{}", headers={"Cache-Control": "no-store"})


async def _public_error(request: web.Request) -> web.Response:
    logging.getLogger("tests.edge").warning("about to fail")
    raise ApiError(404, "Widget not found")


def _cache_app() -> tuple[web.Application, Metrics]:
    app = web.Application()
    metrics = app[METRICS] = Metrics()
    add_routes(app, [
        web.get("/hit", _hit), web.get("/hit304", _hit_304), web.get("/miss", _miss),
        web.get("/private", _private_hit), web.get("/gone", _public_error), web.get("/ok", _ok),
    ])
    add_unrouted(app)
    return app, metrics


@pytest.mark.parametrize("path", ["/hit", "/hit304", "/miss"])
async def test_a_publicly_cacheable_answer_echoes_a_valid_id_and_generates_none(
    aiohttp_client: Any, path: str
) -> None:
    app, _ = _cache_app()
    client = await aiohttp_client(app)
    resp = await client.get(path, headers={"X-Request-ID": "visitor-1"})
    assert resp.headers["X-Request-ID"] == "visitor-1"
    for headers in ({}, {"X-Request-ID": "bad id\twith spaces"}):
        resp = await client.get(path, headers=headers)
        assert resp.status in (200, 304)
        assert "X-Request-ID" not in resp.headers
        assert resp.headers["X-Content-Type-Options"] == "nosniff"  # the rest is unchanged


@pytest.mark.parametrize("path", ["/gone", "/private", "/ok", "/no/such/route"])
async def test_other_answers_still_get_a_generated_id(aiohttp_client: Any, path: str) -> None:
    app, _ = _cache_app()
    client = await aiohttp_client(app)
    resp = await client.get(path)
    assert len(resp.headers["X-Request-ID"]) == 32
    resp = await client.get(path, headers={"X-Request-ID": "visitor-1"})
    assert resp.headers["X-Request-ID"] == "visitor-1"


async def test_a_deferred_id_is_the_one_in_the_log_lines_and_on_the_error(
    aiohttp_client: Any, caplog: Any
) -> None:
    """On a public route the id is made when first needed, and then it is one id."""
    app, _ = _cache_app()
    client = await aiohttp_client(app)
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    logging.getLogger("tests.edge").addHandler(handler)
    try:
        resp = await client.get("/gone")
    finally:
        logging.getLogger("tests.edge").removeHandler(handler)
    assert isinstance(handler.stream, io.StringIO)
    logged = json.loads(handler.stream.getvalue().splitlines()[-1])
    assert resp.status == 404
    assert logged["request_id"] == resp.headers["X-Request-ID"]
    assert len(logged["request_id"]) == 32


async def test_cache_hits_are_counted_not_timed_and_misses_timed(aiohttp_client: Any) -> None:
    app, metrics = _cache_app()
    client = await aiohttp_client(app)
    for path in ("/hit", "/hit", "/hit304", "/miss", "/gone", "/private"):
        await client.get(path)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }

    def labels(route: str, status: int | None = None) -> tuple[tuple[str, str], ...]:
        pairs = {"route": route, "method": "GET"} | ({"status": str(status)} if status else {})
        return tuple(sorted(pairs.items()))

    assert samples[("http_cache_hits_total", labels("/hit", 200))] == 2
    assert samples[("http_cache_hits_total", labels("/hit304", 304))] == 1
    # Hits are still answered requests...
    assert samples[("http_requests_total", labels("/hit", 200))] == 2
    # ...but not in the histogram; misses, errors and non-public answers are timed.
    count = "http_request_duration_seconds_count"
    assert (count, labels("/hit")) not in samples
    assert (count, labels("/hit304")) not in samples
    assert samples[(count, labels("/miss"))] == 1
    assert samples[(count, labels("/gone"))] == 1
    assert samples[(count, labels("/private"))] == 1
    assert not any(
        name == "http_cache_hits_total" and dict(key)["route"] in ("/miss", "/gone", "/private")
        for name, key in samples
    )
