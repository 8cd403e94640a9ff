"""CORS for the management API: browser dashboards on the origins of ``MANAGEMENT_CORS_ORIGINS``.

A policy for common.http's ``edge`` (``add_routes``' ``cross_origin``), as the runtime's public
routes have, rather than aiohttp-cors: that library answers preflights from OPTIONS routes of its
own, outside the edge (no request id, no security headers, plain-text 403s) and adds a signal to
every response (docs/decisions.md). With no origins configured, nothing is registered at all.

Only requests carrying ``Origin`` reach the policy:

* from a listed origin, every answer (errors included, so the page can read them) gets
  ``Access-Control-Allow-Origin: <origin>`` and the exposed headers, never credentials (the API
  takes bearer tokens, not cookies); a preflight is answered here, in the catch-all, with the
  path's methods and the headers a dashboard sends, or a JSON 404 for an unknown path;
* from any other origin, a preflight is a JSON 403 without CORS headers, and other requests are
  answered as without CORS (the browser keeps the answer from the page).
"""

from __future__ import annotations

import functools

from aiohttp import hdrs, web

from common.cors import add_vary_origin, is_preflight, preflight_methods, preflight_response
from common.errors import ApiError
from common.http import Handler, Policy, render_errors

ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Anyreach-Org, X-Request-ID"
EXPOSE_HEADERS = "X-Next-Cursor, X-Request-ID, Retry-After"


def cors_policy(origins: tuple[str, ...]) -> Policy | None:
    """The policy for these (normalized) origins; None, no policy at all, for none."""
    if not origins:
        return None
    allowed = frozenset(origins)

    def policy(handler: Handler) -> Handler:
        async def listed(request: web.Request) -> web.StreamResponse:
            if is_preflight(request):
                return preflight_response(await preflight_methods(request), ALLOW_HEADERS)
            return await handler(request)

        async def unlisted(request: web.Request) -> web.StreamResponse:
            if is_preflight(request):
                raise ApiError(403, "Origin not allowed")
            return await handler(request)

        @functools.wraps(handler)
        async def cross_origin(request: web.Request) -> web.StreamResponse:
            origin = request.headers[hdrs.ORIGIN]
            if origin in allowed:
                # Errors are rendered here, inside, so that they get the CORS headers too.
                response = await render_errors(request, listed)
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
                response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSE_HEADERS
            else:
                response = await render_errors(request, unlisted)
            add_vary_origin(response.headers)
            return response

        return cross_origin

    return policy
