"""HTTP plumbing both services share: JSON responses, body reading, and the edge every route is
wrapped in (request ids, JSON errors, security headers, metrics), with its route registration."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import Any, TypeVar

import msgspec
from aiohttp import hdrs, web
from aiohttp.http_exceptions import PayloadEncodingError
from multidict import CIMultiDict, istr

from common.appkeys import METRICS, SETTINGS
from common.errors import ApiError, Detail, error_body
from common.logs import request_id_var
from common.metrics import METHODS, Observe
from common.redis_client import REDIS_UNAVAILABLE
from common.validation import decode_json, invalid

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger(__name__)
ENCODER = msgspec.json.Encoder()
# The name of the catch-all route (add_routes): a request no other route matched.
UNROUTED = "unrouted"
# istr: looked up without case-folding the name on every request.
_X_REQUEST_ID, _NOSNIFF = istr("X-Request-ID"), istr("X-Content-Type-Options")
_CONTENT_ENCODING = istr("Content-Encoding")
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$(?!\n)")
_JSON_TYPES = ("application/json", "application/problem+json")
_CODINGS = frozenset({"identity", "gzip", "deflate", "br", "zstd"})


# Headers are prebuilt and copied: aiohttp turns a plain dict of headers (and ``content_type=``)
# into a CIMultiDict on every response, which costs more than a cached GET's handler itself.
SECURITY_HEADERS: CIMultiDict[str] = CIMultiDict({
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # In place of aiohttp's default, which names the Python and aiohttp versions.
    "Server": "web-widgets",
})
JSON_HEADERS: CIMultiDict[str] = CIMultiDict(
    SECURITY_HEADERS, **{"Content-Type": "application/json"}
)


def strong_etag(data: bytes) -> str:
    """A quoted ETag for ``data``: 128 bits of its SHA-256."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


# For tokens and visitors' conversations, which no cache may keep.
NO_STORE_JSON_HEADERS: CIMultiDict[str] = CIMultiDict(
    JSON_HEADERS, **{"Cache-Control": "no-store"}
)


def json_response(
    obj: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    base: CIMultiDict[str] = JSON_HEADERS,
) -> web.Response:
    """``obj`` as JSON with the ``base`` headers (which aiohttp copies) plus ``headers``."""
    if headers:
        base = base.copy()
        base.update(headers)
    return web.Response(body=ENCODER.encode(obj), status=status, headers=base)


def error_response(
    status: int, detail: Detail, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response(error_body(detail), status=status, headers=headers)


async def read_json(request: web.Request, decoder: msgspec.json.Decoder[T]) -> T:
    """Read the whole body (413 past ``client_max_size``) and decode it with ``decoder``."""
    headers = request.headers
    # The exact header first: parsing it (request.content_type) costs two Python calls.
    exact = headers.get(hdrs.CONTENT_TYPE)
    if exact not in _JSON_TYPES and request.content_type not in _JSON_TYPES and request.body_exists:
        raise ApiError(415, "Content-Type must be application/json")
    # aiohttp decodes exactly these and passes any other coding through undecoded.
    coding = headers.get(hdrs.CONTENT_ENCODING)
    if coding is not None and coding.lower() not in _CODINGS:
        raise ApiError(415, "Unsupported Content-Encoding")
    try:
        if request.content.is_eof():  # the usual case: the body came with the head
            body = await request.read()
        else:  # a client that sends slowly or stalls must not hold the handler for ever
            async with asyncio.timeout(request.app[SETTINGS].request_body_timeout):
                body = await request.read()
    except TimeoutError:
        raise ApiError(
            408, "The request body did not arrive in time", {"Connection": "close"}
        ) from None
    except web.RequestPayloadError as exc:
        # A body that its Content-Encoding cannot decode (RFC 9110: 415), or broken framing.
        if isinstance(exc.__cause__, PayloadEncodingError):
            raise ApiError(415, "The body could not be decoded per its Content-Encoding") from None
        raise ApiError(400, "The request body could not be read") from None
    if not body:
        raise invalid(["body"], "A JSON body is required", "missing")
    return decode_json(body, decoder)


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


def _finish_headers(headers: MutableMapping[str, str], request_id: str) -> None:
    headers[_X_REQUEST_ID] = request_id
    if _NOSNIFF not in headers:  # json_response and friends have them already
        headers.update(SECURITY_HEADERS)


def edge(
    handler: Handler,
    observe: Observe,
    new_id: Callable[[], str],
    route: str,
    cross_origin: Handler | None = None,
) -> Handler:
    """``handler`` with what every response needs: a request id (the caller's ``X-Request-ID``
    when sane, else a new one) on the response and on every log line, JSON errors, security
    headers, and the request's metrics under the route's template ``route``. Browser requests
    that carry ``Origin`` go to ``cross_origin`` instead, when given (the handler behind the
    route's origin policy).

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
        # The caller's X-Request-ID when sane, else a new one (inline: the measured hot path).
        headers = request.headers
        request_id = headers.get(_X_REQUEST_ID)
        if request_id is None or not _REQUEST_ID_OK.match(request_id):
            request_id = new_id()
        token = request_id_var.set(request_id)
        status = 500
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
                    _finish_headers(exc.headers, request_id)
                    raise
                response = failure
            status = response.status
            _finish_headers(response.headers, request_id)
            if _CONTENT_ENCODING in headers:  # only what a client compressed can be undecodable
                _drop_broken_body(request, response)
            return response
        finally:
            request_id_var.reset(token)
            method = request.method
            observe(route, method if method in METHODS else "OTHER", status, perf_counter() - start)

    return edged


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
    observe, new_id = app[METRICS].observe, request_ids()
    app.router.add_routes([
        web.RouteDef(
            r.method, r.path,
            edge(r.handler, observe, new_id, r.path, cross_origin and cross_origin(r.handler)),
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
            handler, app[METRICS].observe, request_ids(), "unmatched",
            cross_origin and cross_origin(handler),
        ),
        name=UNROUTED,
    )


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})
