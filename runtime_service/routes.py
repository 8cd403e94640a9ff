"""Every runtime route, registered in one place."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from common.http import Handler, add_routes, add_unrouted, metrics_handler, not_routed
from runtime_service.browser_credentials import refuse_credentials
from runtime_service.embed.routes import embed_routes
from runtime_service.handlers import conversations, feedback, health, livekit, openapi, widget
from runtime_service.origins import origin_policy
from runtime_service.paths import PUBLIC_PREFIX as PREFIX


def _public(routes: Iterable[web.RouteDef]) -> list[web.RouteDef]:
    """Public routes refuse management credentials (runtime_service.browser_credentials)."""
    return [web.RouteDef(r.method, r.path, refuse_credentials(r.handler), r.kwargs) for r in routes]


def _public_policy(handler: Handler) -> Handler:
    # Outside the origin policy too: a refused origin's request, or a preflight, is reported.
    return refuse_credentials(origin_policy(handler))


def setup_routes(app: web.Application) -> None:
    add_routes(app, [
        web.get("/healthz", health.healthz),
        web.get("/readyz", health.readyz),
        web.get("/openapi.json", openapi.openapi_json),
        web.get("/metrics", metrics_handler),
        # LiveKit's server, not a browser: no CORS, no per-address limits, and its JWT in
        # Authorization is not a management credential to refuse.
        web.post("/livekit/webhook", livekit.livekit_webhook),
        *_public(embed_routes()),
    ])
    # The widget's allowed domains and CORS apply to browser requests (those with Origin).
    add_routes(app, _public([
        web.get(PREFIX + "/{id}", widget.get_public_widget),
        web.post(PREFIX + "/{id}/conversations", conversations.start_conversation),
        web.get(PREFIX + "/{id}/conversations", conversations.list_conversations),
        web.post(
            PREFIX + "/{id}/conversations/{conversation_id}/feedback", feedback.submit_feedback
        ),
    ]), cross_origin=_public_policy)
    # Last: preflights and 404s under the public prefix get CORS headers too.
    add_unrouted(app, refuse_credentials(not_routed), cross_origin=_public_policy)
