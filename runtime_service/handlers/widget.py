"""GET /core/public/web-widgets/{id}: the widget object, served from the per-pod cache."""

from __future__ import annotations

from aiohttp import hdrs, web

from common.bodies import CachedResponse
from common.errors import ApiError
from runtime_service.appkeys import RESOLVED_WIDGET, WIDGET_SOURCE
from runtime_service.public_widget import PublicWidget


def etag_matches(request: web.Request, etag: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/"x"`` matches ``"x"``; ``*`` matches any."""
    candidates = request.if_none_match
    if not candidates:
        return False
    value = etag.strip('"')
    return any(tag.value in ("*", value) for tag in candidates)


def published_or_404(widget: PublicWidget | None) -> PublicWidget:
    """What the public widget GET and the embed serve: published widgets only."""
    if widget is None or not widget.published:
        raise ApiError(404, "Widget not found")
    return widget


def resolved_widget(request: web.Request) -> PublicWidget | None:
    """The widget the origin policy already read, for a browser request (one with Origin)."""
    return request.get(RESOLVED_WIDGET) if hdrs.ORIGIN in request.headers else None


async def get_public_widget(request: web.Request) -> web.Response:
    headers = request.headers
    # A hit (CachedResponse) is counted, not timed, by the edge. A browser request with Origin
    # had its widget looked up by the origin policy, and is timed.
    answer: type[web.Response] = web.Response
    if hdrs.ORIGIN in headers and (resolved := request.get(RESOLVED_WIDGET)) is not None:
        widget = published_or_404(resolved)
    else:
        source = request.app[WIDGET_SOURCE]
        widget_id = request.match_info["id"]
        # The measured hot path: a cache hit costs no coroutine (docs/performance.md).
        cached = source.hit(widget_id)
        if cached is not None:
            answer = CachedResponse
        widget = published_or_404(cached or await source.get(widget_id))
    if_none_match = headers.get(hdrs.IF_NONE_MATCH)
    # The exact tag a browser echoes back is matched without parsing the header.
    if if_none_match is not None and (
        if_none_match == widget.etag or etag_matches(request, widget.etag)
    ):
        return answer(status=304, headers=widget.not_modified_headers)
    return answer(body=widget.body, headers=widget.ok_headers)
