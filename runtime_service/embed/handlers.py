"""GET /public/embed/{id} (loader), /public/embed/{id}/frame (iframe page) and
/public/embed/assets/{name} (the bundled app). Page-view traffic: cached, never rate limited."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import SETTINGS
from common.errors import ApiError
from runtime_service.appkeys import WIDGET_SOURCE
from runtime_service.embed import render
from runtime_service.embed.assets import EMBED_ASSETS
from runtime_service.embed.csp import LOADER_POLICY, frame_policy
from runtime_service.handlers.widget import etag_matches
from runtime_service.public_widget import PublicWidget

# Hashed file names never change content: a year, and no revalidation.
IMMUTABLE = "public, max-age=31536000, immutable"


async def published_widget(request: web.Request) -> PublicWidget:
    widget = await request.app[WIDGET_SOURCE].get(request.match_info["id"])
    if widget is None or not widget.published:
        raise ApiError(404, "Widget not found")
    return widget


def _cached(request: web.Request, etag: str, headers: dict[str, str]) -> web.Response | None:
    headers["ETag"] = etag
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return None


async def loader(request: web.Request) -> web.Response:
    widget = await published_widget(request)
    settings = request.app[SETTINGS]
    base = settings.public_origin.rstrip("/")
    headers = {
        "Cache-Control": f"public, max-age={settings.public_cache_max_age}",
        "Content-Security-Policy": LOADER_POLICY,
    }
    etag = render.loader_etag(widget, base)
    not_modified = _cached(request, etag, headers)
    if not_modified is not None:
        return not_modified
    return web.Response(
        body=render.render_loader(widget, base),
        content_type="application/javascript",
        charset="utf-8",
        headers=headers,
    )


async def frame(request: web.Request) -> web.Response:
    widget = await published_widget(request)
    assets = request.app[EMBED_ASSETS]
    if not assets.built:
        raise ApiError(503, "The widget app is not built on this server (run `make embed`)")
    settings = request.app[SETTINGS]
    policy = frame_policy(widget.domains, settings.livekit_url)
    headers = {
        "Cache-Control": f"public, max-age={settings.public_cache_max_age}",
        "Content-Security-Policy": policy,
    }
    not_modified = _cached(request, render.frame_etag(widget, assets, policy), headers)
    if not_modified is not None:
        return not_modified
    return web.Response(
        body=render.render_frame(widget, assets),
        content_type="text/html",
        charset="utf-8",
        headers=headers,
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
