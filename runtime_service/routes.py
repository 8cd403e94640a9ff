"""Every runtime route, registered in one place."""

from __future__ import annotations

from aiohttp import web

from common.metrics import metrics_handler
from runtime_service.handlers import conversations, feedback, health, openapi, widget

PREFIX = "/core/public/web-widgets"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/openapi.json", openapi.openapi_json)
    app.router.add_get("/metrics", metrics_handler)

    app.router.add_get(PREFIX + "/{id}", widget.get_public_widget)
    app.router.add_post(PREFIX + "/{id}/conversations", conversations.start_conversation)
    app.router.add_get(PREFIX + "/{id}/conversations", conversations.list_conversations)
    app.router.add_post(
        PREFIX + "/{id}/conversations/{conversation_id}/feedback", feedback.submit_feedback
    )
