"""GET /core/public/web-widgets/{id}: the widget object, served from the per-pod cache."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import SETTINGS
from common.errors import ApiError
from runtime_service.appkeys import WIDGET_SOURCE


def etag_matches(request: web.Request, etag: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/"x"`` matches ``"x"``; ``*`` matches any."""
    candidates = request.if_none_match
    if not candidates:
        return False
    value = etag.strip('"')
    return any(tag.value in ("*", value) for tag in candidates)


async def get_public_widget(request: web.Request) -> web.Response:
    widget = await request.app[WIDGET_SOURCE].get(request.match_info["id"])
    if widget is None or not widget.published:
        raise ApiError(404, "Widget not found")
    max_age = request.app[SETTINGS].public_cache_max_age
    headers = {
        "ETag": widget.etag,
        "Cache-Control": f"public, max-age={max_age}",
        # CORS headers depend on the Origin, so shared caches must key on it.
        "Vary": "Origin",
    }
    if etag_matches(request, widget.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=widget.body, content_type="application/json", headers=headers)
