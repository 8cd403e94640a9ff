"""The HTTP edge both services share: the wrapper every route is registered in (request ids,
JSON errors, security headers, metrics), its route registration and the check that no route
bypasses it, and the catch-all. Body reading and JSON responses are common/bodies.py."""

from __future__ import annotations

import functools
import itertools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter

from aiohttp import hdrs, web
from multidict import istr
from prometheus_client import CONTENT_TYPE_LATEST

from common.appkeys import METRICS
from common.bodies import SECURITY_HEADERS, CachedResponse, error_response, json_response
from common.errors import ApiError
from common.logs import current_request_id, request_id_var
from common.metrics import METHODS, CountHit, Observe
from common.redis_client import REDIS_UNAVAILABLE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger(__name__)
# The name of the catch-all route (add_routes): a request no other route matched.
UNROUTED = "unrouted"
# istr: looked up without case-folding the name on every request.
_X_REQUEST_ID, _NOSNIFF = istr("X-Request-ID"), istr("X-Content-Type-Options")
_CONTENT_ENCODING, _CACHE_CONTROL = istr("Content-Encoding"), istr("Cache-Control")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$(?!\n)")
# The statuses a shared cache keeps and serves again (with Cache-Control: public).
_CACHEABLE = frozenset({200, 304})

def _detail_for(exc: web.HTTPException) -> str:
    if exc.status == 413:
        return "Request body is too large"
    return exc.reason


def request_ids() -> Callable[[], str]:
    """New request ids: 32 characters, a random hex prefix per source and a 16-digit decimal
    counter. Unique across processes and restarts, and cheaper than a uuid4: no system call,
    and no Python frame (the iterator chain runs in C). A correlation id, not a secret."""
    prefix = secrets.token_hex(8)
    # 16 digits for the first 9e15 requests.
    return map(prefix.__add__, map(str, itertools.count(10**15))).__next__


def failure_response(request: web.Request, exc: Exception) -> web.Response | None:
    """The ``{"detail": ...}`` answer for what a handler raised (nothing internal leaks into a
    500), or None for a non-error HTTPException (a redirect), which is sent as it is."""
    response = _failure(request, exc)
    if response is not None:
        _drop_broken_body(request, response)
    return response


def _failure(request: web.Request, exc: Exception) -> web.Response | None:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.detail, exc.headers)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, _detail_for(exc), headers)
    if isinstance(exc, REDIS_UNAVAILABLE):
        # A dependency outage is the client's 503, never a 500.
        log.warning("redis unavailable: %s %s: %r", request.method, request.path, exc)
        return error_response(503, "Service temporarily unavailable", {"Retry-After": "1"})
    log.error("unhandled error: %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "Internal server error")


def _drop_broken_body(request: web.Request, response: web.StreamResponse) -> None:
    """A body aiohttp failed to decode (a corrupt gzip) or to frame holds its error: after the
    response aiohttp would read what is left of it, meet the error again and log it as an
    "Unhandled exception" ERROR with a traceback, for the client's own mistake. Nothing more of
    it is read, and the connection closes after the response (its parser state is unknown)."""
    content = request.content
    if content.exception() is not None and not content.is_eof():
        content.feed_eof()
        response.force_close()


async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        response = failure_response(request, exc)
        if response is None:
            raise
        return response


def _finish_headers(headers: MutableMapping[str, str], request_id: str | None) -> None:
    if request_id is not None:
        headers[_X_REQUEST_ID] = request_id
    if _NOSNIFF not in headers:  # json_response and friends have them already
        headers.update(SECURITY_HEADERS)


def edge(
    handler: Handler,
    observe: Observe,
    count_hit: CountHit,
    new_id: Callable[[], str],
    route: str,
    cross_origin: Handler | None = None,
) -> Handler:
    """``handler`` with what every response needs: a request id (the caller's ``X-Request-ID``
    when sane, else a new one) on the response and on every log line, JSON errors, security
    headers, and the request's metrics under the route's template ``route``. Browser requests
    that carry ``Origin`` go to ``cross_origin`` instead, when given (the handler behind the
    route's origin policy).

    A publicly cacheable response (a 200 or 304 with ``Cache-Control: public``) carries the
    caller's id when it sent a sane one and none otherwise: a shared cache would hand one
    visitor's id to every later visitor. So the id of a request without one is made only when
    something needs it (a log line, any other response: ``logs.current_request_id``). A
    publicly cacheable ``CachedResponse`` (a cache hit) is counted by route and status but not
    timed; everything else is timed in the latency histogram.

    A wrapper added at registration (``add_routes``) rather than aiohttp middlewares, with all
    it can know bound in advance: the cached public GET is measured against bare aiohttp, and
    any middleware at all makes aiohttp build a chain and an extra layer for every request
    (docs/performance.md).
    """
    if cross_origin is None:
        cross_origin = handler

    @functools.wraps(handler)
    async def edged(request: web.Request) -> web.StreamResponse:
        start = perf_counter()
        # The caller's X-Request-ID when sane (inline: the measured hot path); else the log
        # context holds new_id, and an id is made when first needed.
        headers = request.headers
        request_id = headers.get(_X_REQUEST_ID)
        if request_id is not None and not _REQUEST_ID_OK.match(request_id):
            request_id = None
        token = request_id_var.set(new_id if request_id is None else request_id)
        status = 500
        hit = False
        try:
            # render_errors' work, inline: one coroutine less per request, and a redirect's
            # status is known here.
            try:
                if hdrs.ORIGIN in headers:
                    response = await cross_origin(request)
                else:
                    response = await handler(request)
            except Exception as exc:
                failure = failure_response(request, exc)
                if failure is None:  # a redirect: sent as raised
                    assert isinstance(exc, web.HTTPException)
                    status = exc.status
                    _finish_headers(exc.headers, request_id or current_request_id())
                    raise
                response = failure
            status = response.status
            response_headers = response.headers
            # Publicly cacheable: any cache may keep it and hand it to other clients.
            if status in _CACHEABLE and (
                response_headers.get(_CACHE_CONTROL) or ""
            ).startswith("public"):
                hit = type(response) is CachedResponse
                if request_id is not None:
                    response_headers[_X_REQUEST_ID] = request_id
                if _NOSNIFF not in response_headers:
                    response_headers.update(SECURITY_HEADERS)
            else:
                _finish_headers(response_headers, request_id or current_request_id())
            if _CONTENT_ENCODING in headers:  # only what a client compressed can be undecodable
                _drop_broken_body(request, response)
            return response
        finally:
            request_id_var.reset(token)
            method = request.method
            if method not in METHODS:
                method = "OTHER"
            if hit:
                count_hit(route, method, status)
            else:
                observe(route, method, status, perf_counter() - start)

    # The mark check_routes_edged looks for: the function itself, so a wrapper that copies
    # attributes from an edged handler (functools.wraps) does not pass for one.
    edged.through_edge = edged  # type: ignore[attr-defined]
    return edged


def check_routes_edged(app: web.Application) -> None:
    """Refuse an app with a route outside the edge (create_app calls this last): a route added
    with ``router.add_*`` would answer without request ids, JSON errors, security headers and
    metrics, and nothing else would notice."""
    bypassing = [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if getattr(route.handler, "through_edge", None) is not route.handler
    ]
    if bypassing:
        raise RuntimeError(
            "routes registered outside the edge (register them with common.http.add_routes): "
            + ", ".join(bypassing)
        )


async def allowed_methods(request: web.Request) -> set[str]:
    """The methods the app's routes accept on this request's path (none: no such path)."""
    methods: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name != UNROUTED:
            methods |= (await resource.resolve(request))[1]
    return methods


async def not_routed(request: web.Request) -> web.Response:
    """What no route answers: 405 with ``Allow`` where the path exists, else 404."""
    methods = await allowed_methods(request)
    if methods:
        raise web.HTTPMethodNotAllowed(request.method, methods)
    raise web.HTTPNotFound()


Policy = Callable[[Handler], Handler]


def add_routes(
    app: web.Application, routes: Iterable[web.RouteDef], cross_origin: Policy | None = None
) -> None:
    """Register ``routes``, each inside ``edge`` (and, for requests with ``Origin``, behind
    ``cross_origin``'s policy when given)."""
    metrics, new_id = app[METRICS], request_ids()
    app.router.add_routes([
        web.RouteDef(
            r.method, r.path,
            edge(
                r.handler, metrics.observe, metrics.count_hit, new_id, r.path,
                cross_origin and cross_origin(r.handler),
            ),
            r.kwargs,
        )
        for r in routes
    ])


def add_unrouted(
    app: web.Application, handler: Handler = not_routed, cross_origin: Policy | None = None
) -> None:
    """Register, last, the catch-all that answers what no route does (JSON 404/405 by default,
    and preflights where a ``cross_origin`` policy answers them)."""
    app.router.add_route(
        "*", "/{path:.*}",
        edge(
            handler, app[METRICS].observe, app[METRICS].count_hit, request_ids(), "unmatched",
            cross_origin and cross_origin(handler),
        ),
        name=UNROUTED,
    )


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
