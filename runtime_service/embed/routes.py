"""The embed's route definitions, which runtime_service.routes registers with the others (the
assets they serve are loaded in runtime_service/app.py)."""

from __future__ import annotations

from aiohttp import web

from runtime_service.embed import handlers

PREFIX = "/public/embed"


def embed_routes() -> list[web.RouteDef]:
    return [
        # The static route first: "assets" would otherwise be read as a widget id (a 404 anyway).
        web.get(PREFIX + "/assets/{name}", handlers.asset),
        web.get(PREFIX + "/{id}", handlers.loader),
        web.get(PREFIX + "/{id}/frame", handlers.frame),
    ]
