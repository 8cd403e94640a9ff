"""Credentials sent to the public API are refused: an ``ak_`` API key or ``pat_`` personal token
in ``Authorization`` (with or without ``Bearer``), or an ``X-Anyreach-Org`` header, means a page
carries a management credential where every visitor can read it. The answer is 400 saying so,
and a WARNING names the credential's id (never its secret) so its owner can rotate it.

A wrapper on every public route (runtime_service.routes): outside the origin policy, so that a
request from a refused origin, and a preflight announcing those headers, is reported too.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable

from aiohttp import hdrs, web
from multidict import istr

from common.bodies import error_response
from common.cors import add_vary_origin
from common.credential_tokens import credential_name
from common.http import Handler

log = logging.getLogger(__name__)

ORG_HEADER = istr("X-Anyreach-Org")
_AUTHORIZATION = istr("Authorization")
DETAIL = (
    "Credentials never belong in browser code: the public API takes no API key (ak_...), "
    "personal access token (pat_...) or X-Anyreach-Org header. Remove it from the page and "
    "rotate the credential, which anyone who loaded the page can read."
)
_ANNOUNCED = frozenset({"authorization", "x-anyreach-org"})


def sent_credential(request: web.Request) -> str | None:
    """What the request carries that only a management client may send, named for a log line
    (``ak_<id>``, ``pat_<id>``, ``X-Anyreach-Org``), or None."""
    headers = request.headers
    authorization = headers.get(_AUTHORIZATION)
    if authorization is not None:
        scheme, _, rest = authorization.strip().partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
        name = credential_name(token)
        if name is not None:
            return name
    if ORG_HEADER in headers:
        return "an X-Anyreach-Org header"
    if request.method == hdrs.METH_OPTIONS:
        announced = headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "")
        if _ANNOUNCED.intersection(name.strip().lower() for name in announced.split(",")):
            return "a preflight announcing Authorization or X-Anyreach-Org"
    return None


def refusal(request: web.Request, credential: str) -> web.Response:
    origin = request.headers.get(hdrs.ORIGIN)
    log.warning(
        "credential sent to the public API, rotate it: %s on %s %r from origin %r",
        credential, request.method, request.path[:200], (origin or "-")[:200],
    )
    response = error_response(400, DETAIL)
    if origin is not None:
        # Readable by the page, so its developer sees why: the answer reveals nothing.
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        add_vary_origin(response.headers)
    return response


async def _refused(request: web.Request, credential: str) -> web.StreamResponse:
    return refusal(request, credential)


def refuse_credentials(handler: Handler) -> Handler:
    # A plain function returning the handler's own coroutine: no extra coroutine per request on
    # the hot path (the cached GET is measured against bare aiohttp, docs/performance.md).
    @functools.wraps(handler)
    def guarded(request: web.Request) -> Awaitable[web.StreamResponse]:
        headers = request.headers
        # Three lookups per request; the rest only for requests that carry such a header.
        if (
            _AUTHORIZATION in headers
            or ORG_HEADER in headers
            or hdrs.ACCESS_CONTROL_REQUEST_HEADERS in headers
        ):
            credential = sent_credential(request)
            if credential is not None:
                return _refused(request, credential)
        return handler(request)

    return guarded
