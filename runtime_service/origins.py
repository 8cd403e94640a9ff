"""Allowed domains and CORS for the public widget routes.

A handler wrapper rather than aiohttp-cors: the allowed origins differ per widget (its ``domains``
list, read from the cache), which aiohttp-cors' static per-route configuration cannot express.
It wraps the public routes and the catch-all route (common.http.add_routes).

For a browser request (one with ``Origin``) to ``/core/public/web-widgets/{id}...``:

* the widget exists, its ``domains`` list is non-empty and the origin is neither in it nor the
  runtime's own public origin: 403, with no CORS headers;
* otherwise the response carries ``Access-Control-Allow-Origin: <that origin>`` (never
  credentials), including error responses, so the page can read them;
* a preflight (OPTIONS with ``Access-Control-Request-Method``) is answered here, in the
  catch-all, since no route takes OPTIONS: 204 listing the path's methods, 404 for an unknown
  widget or path.

Requests without ``Origin`` are not cross-origin browser requests and pass untouched.
"""

from __future__ import annotations

import functools

from aiohttp import hdrs, web

from common.appkeys import SETTINGS
from common.cors import add_vary_origin, preflight_methods, preflight_response
from common.errors import ApiError
from common.http import Handler, render_errors
from runtime_service.appkeys import WIDGET_SOURCE
from runtime_service.public_widget import PublicWidget

PREFIX = "/core/public/web-widgets/"
ALLOW_HEADERS = "Content-Type, If-None-Match, X-Request-ID"
EXPOSE_HEADERS = "ETag, X-Next-Cursor, X-Request-ID, Retry-After"


def public_widget_id(path: str) -> str | None:
    if not path.startswith(PREFIX):
        return None
    return path[len(PREFIX) :].split("/", 1)[0] or None


def origin_allowed(widget: PublicWidget, origin: str, public_origin: str) -> bool:
    return not widget.domains or origin in widget.domains or origin == public_origin


async def _preflight(request: web.Request, widget: PublicWidget | None) -> web.Response:
    methods = await preflight_methods(request)
    if widget is None:
        raise ApiError(404, "Widget not found")
    return preflight_response(methods, ALLOW_HEADERS)


def origin_policy(handler: Handler) -> Handler:
    """``handler`` behind the widget's allowed domains, with CORS headers on every answer."""

    @functools.wraps(handler)
    async def policed(request: web.Request) -> web.StreamResponse:
        widget_id = public_widget_id(request.path)
        origin = request.headers.get(hdrs.ORIGIN)
        if widget_id is None or origin is None:
            return await handler(request)
        refused = False

        async def checked(request: web.Request) -> web.StreamResponse:
            nonlocal refused
            widget = await request.app[WIDGET_SOURCE].get(widget_id)
            public_origin = request.app[SETTINGS].public_origin.rstrip("/")
            if widget is not None and not origin_allowed(widget, origin, public_origin):
                refused = True
                raise ApiError(403, "Origin not allowed for this widget")
            if (
                request.method == hdrs.METH_OPTIONS
                and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
            ):
                # The router has no OPTIONS routes: preflights reach the catch-all.
                return await _preflight(request, widget)
            # An unknown widget is the handler's 404 (with CORS headers, so the page can read it).
            return await handler(request)

        # Errors are rendered here, inside, so that they get CORS headers too: without them an
        # error is an opaque network failure to the page.
        response = await render_errors(request, checked)
        if not refused:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSE_HEADERS
        add_vary_origin(response.headers)
        return response

    return policed
