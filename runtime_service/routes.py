"""Every runtime route, registered in one place."""

from __future__ import annotations

from aiohttp import web

from common.http import add_routes, not_routed
from common.metrics import metrics_handler
from runtime_service.embed.routes import setup_embed
from runtime_service.handlers import conversations, feedback, health, openapi, widget
from runtime_service.origins import origin_policy

PREFIX = "/core/public/web-widgets"


def setup_routes(app: web.Application) -> None:
    public = origin_policy
    add_routes(
        app,
        [
            web.get("/healthz", health.healthz),
            web.get("/readyz", health.readyz),
            web.get("/openapi.json", openapi.openapi_json),
            web.get("/metrics", metrics_handler),
            web.get(PREFIX + "/{id}", public(widget.get_public_widget)),
            web.post(PREFIX + "/{id}/conversations", public(conversations.start_conversation)),
            web.get(PREFIX + "/{id}/conversations", public(conversations.list_conversations)),
            web.post(
                PREFIX + "/{id}/conversations/{conversation_id}/feedback",
                public(feedback.submit_feedback),
            ),
            *setup_embed(app),
        ],
        # Preflights and 404s under the public prefix get CORS headers too.
        unrouted=public(not_routed),
    )
