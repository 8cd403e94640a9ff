"""Every runtime route, registered in one place."""

from __future__ import annotations

from aiohttp import web

from common.http import add_routes, add_unrouted, metrics_handler
from runtime_service.embed.routes import embed_routes
from runtime_service.handlers import conversations, feedback, health, openapi, widget
from runtime_service.origins import origin_policy

PREFIX = "/core/public/web-widgets"


def setup_routes(app: web.Application) -> None:
    add_routes(app, [
        web.get("/healthz", health.healthz),
        web.get("/readyz", health.readyz),
        web.get("/openapi.json", openapi.openapi_json),
        web.get("/metrics", metrics_handler),
        *embed_routes(),
    ])
    # The widget's allowed domains and CORS apply to browser requests (those with Origin).
    add_routes(app, [
        web.get(PREFIX + "/{id}", widget.get_public_widget),
        web.post(PREFIX + "/{id}/conversations", conversations.start_conversation),
        web.get(PREFIX + "/{id}/conversations", conversations.list_conversations),
        web.post(
            PREFIX + "/{id}/conversations/{conversation_id}/feedback", feedback.submit_feedback
        ),
    ], cross_origin=origin_policy)
    # Last: preflights and 404s under the public prefix get CORS headers too.
    add_unrouted(app, cross_origin=origin_policy)
