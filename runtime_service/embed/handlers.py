"""GET /public/embed/{id} (loader), /public/embed/{id}/frame (iframe page) and
/public/embed/assets/{name} (the bundled app). Page-view traffic: cached, never rate limited."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from common.appkeys import SETTINGS
from common.bodies import CachedResponse
from common.errors import ApiError
from runtime_service.appkeys import EMBED_ASSETS, WIDGET_SOURCE
from runtime_service.embed import render
from runtime_service.embed.csp import LOADER_POLICY, frame_policy
from runtime_service.handlers.widget import etag_matches, published_or_404
from runtime_service.public_widget import PublicWidget

# Hashed file names never change content: a year, and no revalidation.
IMMUTABLE = "public, max-age=31536000, immutable"


async def published_widget(request: web.Request) -> tuple[PublicWidget, type[web.Response]]:
    """The widget, and the response class: a CachedResponse when it came from the pod's cache
    (the edge counts such hits without timing them)."""
    source, widget_id = request.app[WIDGET_SOURCE], request.match_info["id"]
    cached = source.hit(widget_id)
    if cached is not None:
        return published_or_404(cached), CachedResponse
    return published_or_404(await source.get(widget_id)), web.Response


def _cached(
    request: web.Request, etag: str, headers: dict[str, str],
    answer: type[web.Response] = web.Response,
) -> web.Response | None:
    headers["ETag"] = etag
    if etag_matches(request, etag):
        return answer(status=304, headers=headers)
    return None


def _page(
    request: web.Request,
    etag: str,
    policy: str,
    content_type: str,
    render_body: Callable[[], bytes],
    answer: type[web.Response],
) -> web.Response:
    """A widget's loader or frame: short public caching, its CSP, 304 on a matching ETag."""
    headers = {
        "Cache-Control": f"public, max-age={request.app[SETTINGS].public_cache_max_age}",
        "Content-Security-Policy": policy,
    }
    not_modified = _cached(request, etag, headers, answer)
    if not_modified is not None:
        return not_modified
    return answer(
        body=render_body(), content_type=content_type, charset="utf-8", headers=headers
    )


async def loader(request: web.Request) -> web.Response:
    widget, answer = await published_widget(request)
    base = request.app[SETTINGS].public_origin.rstrip("/")
    return _page(
        request, render.loader_etag(widget, base), LOADER_POLICY, "application/javascript",
        lambda: render.render_loader(widget, base), answer,
    )


async def frame(request: web.Request) -> web.Response:
    widget, answer = await published_widget(request)
    assets = request.app[EMBED_ASSETS]
    if not assets.built:
        raise ApiError(503, "The widget app is not built on this server (run `make embed`)")
    avatar = render.config_v1(widget).agent_avatar
    policy = frame_policy(widget.domains, request.app[SETTINGS].livekit_url, avatar)
    return _page(
        request, render.frame_etag(widget, assets, policy), policy, "text/html",
        lambda: render.render_frame(widget, assets), answer,
    )


async def asset(request: web.Request) -> web.Response:
    found = request.app[EMBED_ASSETS].files.get(request.match_info["name"])
    if found is None:
        raise ApiError(404, "Not found")
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    packed = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    not_modified = _cached(request, found.gzip_etag if packed else found.etag, headers)
    if not_modified is not None:
        return not_modified
    if packed:
        headers["Content-Encoding"] = "gzip"
    body = found.gzipped if packed else found.body
    return web.Response(body=body, content_type=found.content_type, headers=headers)
