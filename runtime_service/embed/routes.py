"""The embed's routes and resources: ``setup_embed`` adds the assets' cleanup context and returns
the route definitions, which runtime_service.routes registers with the others."""

from __future__ import annotations

from aiohttp import web

from runtime_service.embed import handlers
from runtime_service.embed.assets import embed_assets_ctx

PREFIX = "/public/embed"


def setup_embed(app: web.Application) -> list[web.RouteDef]:
    app.cleanup_ctx.append(embed_assets_ctx)
    return [
        # The static route first: "assets" would otherwise be read as a widget id (a 404 anyway).
        web.get(PREFIX + "/assets/{name}", handlers.asset),
        web.get(PREFIX + "/{id}", handlers.loader),
        web.get(PREFIX + "/{id}/frame", handlers.frame),
    ]
