"""HTTP plumbing both services share: JSON responses, body reading, the error and request-id
middlewares, and security headers."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import redis.exceptions
from aiohttp import web

from common.errors import ApiError
from common.logs import request_id_var
from common.metrics import metrics_middleware
from common.validation import decode_json, invalid

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger(__name__)
ENCODER = msgspec.json.Encoder()
REQUEST_ID = web.RequestKey("request_id", str)
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_JSON_TYPES = ("application/json", "application/problem+json")


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=ENCODER.encode(obj), status=status, content_type="application/json", headers=headers
    )


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"detail": detail}, status=status, headers=headers)


async def read_json(request: web.Request, decoder: msgspec.json.Decoder[T]) -> T:
    """Read the whole body (413 past ``client_max_size``) and decode it with ``decoder``."""
    if request.content_type not in _JSON_TYPES and request.body_exists:
        raise ApiError(415, "Content-Type must be application/json")
    body = await request.read()
    if not body:
        raise invalid(["body"], "A JSON body is required", "missing")
    return decode_json(body, decoder)


def _detail_for(exc: web.HTTPException) -> str:
    if exc.status == 413:
        return "Request body is too large"
    return exc.reason


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-ID"] = request_id
        raise
    finally:
        request_id_var.reset(token)
    response.headers["X-Request-ID"] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes ``{"detail": ...}``; nothing internal leaks into a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.detail, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, _detail_for(exc), headers)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        # Includes BusyLoadingError; a dependency outage is the client's 503, never a 500.
        log.warning("redis unavailable: %s %s: %r", request.method, request.path, exc)
        return error_response(503, "Service temporarily unavailable", {"Retry-After": "1"})
    except Exception:
        log.exception("unhandled error: %s %s", request.method, request.path)
        return error_response(500, "Internal server error")


@web.middleware
async def security_headers_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


# Outermost first: metrics see the final status and the whole time; the request id is known to
# every log line; errors are rendered before the security headers are added, so error bodies
# get them too.
BASE_MIDDLEWARES = (
    metrics_middleware, request_id_middleware, security_headers_middleware, error_middleware
)


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})
