"""JSON in and out, for both services' handlers: prebuilt response headers, JSON responses and
the request body read and decoded (the edge, common/http.py, wraps every route around them)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, TypeVar

import msgspec
from aiohttp import hdrs, web
from aiohttp.http_exceptions import PayloadEncodingError
from multidict import CIMultiDict

from common.appkeys import SETTINGS
from common.errors import ApiError, Detail, error_body
from common.validation import decode_json, invalid

T = TypeVar("T")
ENCODER = msgspec.json.Encoder()
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


class CachedResponse(web.Response):
    """An answer served from this process's cache (a hit, no Redis read): when it is publicly
    cacheable the edge counts it by route and status without timing it (common/http.py)."""

    __slots__ = ()


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


def raw_json_response(
    body: bytes, headers: dict[str, str] | None = None, base: CIMultiDict[str] = JSON_HEADERS
) -> web.Response:
    """``body``, already JSON (a stored document answered as it is), as ``json_response``."""
    if headers:
        base = base.copy()
        base.update(headers)
    return web.Response(body=body, headers=base)


def error_response(
    status: int, detail: Detail, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response(error_body(detail), status=status, headers=headers)


async def read_body(request: web.Request) -> bytes:
    """The whole body (413 past ``client_max_size``), within ``REQUEST_BODY_TIMEOUT`` (408), or
    415/400 when its Content-Encoding or framing is broken."""
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
    return body


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
    body = await read_body(request)
    if not body:
        raise invalid(["body"], "A JSON body is required", "missing")
    return decode_json(body, decoder)
