"""What both services' CORS policies share: ``Vary: Origin`` and the preflight answer.

Preflights (OPTIONS with ``Access-Control-Request-Method``) reach the catch-all route, since no
route takes OPTIONS; the policy wrapping it answers them from the methods of the path's routes.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import hdrs, web

from common.errors import ApiError
from common.http import allowed_methods

PREFLIGHT_MAX_AGE = "600"


def is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )


def add_vary_origin(headers: MutableMapping[str, str]) -> None:
    vary = headers.get(hdrs.VARY, "")
    if "origin" not in vary.lower():
        headers[hdrs.VARY] = f"{vary}, Origin" if vary else "Origin"


async def preflight_methods(request: web.Request) -> set[str]:
    """The methods a preflight may allow on this path; 404 when no route has the path."""
    methods = await allowed_methods(request) - {hdrs.METH_OPTIONS, hdrs.METH_HEAD}
    if not methods:
        raise ApiError(404, "Not found")
    return methods


def preflight_response(methods: set[str], allow_headers: str) -> web.Response:
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": ", ".join(sorted(methods)),
            "Access-Control-Allow-Headers": allow_headers,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        },
    )
