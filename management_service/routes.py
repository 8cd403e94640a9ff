"""Every management route, registered in one place."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import SETTINGS
from common.domains import origin_list
from common.http import add_routes, add_unrouted, healthz, metrics_handler
from management_service.cors import cors_policy
from management_service.handlers import (
    agents,
    auto_brand,
    conversation_erasure,
    conversations,
    listener,
    openapi,
    webhooks,
    widget_stats,
    widgets,
)

VERSION = "/core/agents/{id}/versions/{version}"
# Only a UUID matches, so `/core/conversations/erase` is never also read as a conversation id
# (its 405 then allows only POST); any other id is the catch-all's 404, as unknown ids are.
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CONVERSATION = "/core/conversations/{conversation_id:" + _UUID + "}"
WEBHOOK = "/core/webhooks/{id}"


def setup_routes(app: web.Application) -> None:
    # Browser dashboards' CORS (MANAGEMENT_CORS_ORIGINS); None, the default, adds nothing.
    cors = cors_policy(origin_list(app[SETTINGS].management_cors_origins))
    add_routes(app, [
        web.get("/healthz", healthz),
        web.get("/readyz", widgets.readyz),
        web.get("/openapi.json", openapi.openapi_json),
        web.get("/metrics", metrics_handler),
        web.get("/core/web-widgets", widgets.list_widgets),
        web.post("/core/web-widgets", widgets.create_widget),
        web.get("/core/web-widgets/{id}", widgets.get_widget),
        web.put("/core/web-widgets/{id}", widgets.update_widget),
        web.delete("/core/web-widgets/{id}", widgets.delete_widget),
        web.post("/core/web-widgets/{id}/auto-brand", auto_brand.auto_brand),
        web.get("/core/web-widgets/{id}/stats", widget_stats.widget_stats),
        web.post("/core/agents", agents.create_agent),
        web.get("/core/agents/{id}", agents.get_agent),
        web.post("/core/agents/{id}/versions", agents.create_version),
        web.get(VERSION, agents.get_version),
        web.put(VERSION, agents.update_version),
        web.post(VERSION + "/publish", agents.publish_version),
        web.get("/core/conversations", conversations.list_conversations),
        web.get(CONVERSATION, conversations.get_conversation),
        web.post(CONVERSATION + "/report", conversations.report_conversation),
        web.post(CONVERSATION + "/end", conversations.end_conversation),
        web.delete(CONVERSATION, conversation_erasure.delete_conversation),
        web.post("/core/conversations/erase", conversation_erasure.erase_conversations),
        web.post(CONVERSATION + "/listener-token", listener.listener_token),
        web.get("/core/webhooks", webhooks.list_webhooks),
        web.post("/core/webhooks", webhooks.create_webhook),
        web.get(WEBHOOK, webhooks.get_webhook),
        web.put(WEBHOOK, webhooks.update_webhook),
        web.delete(WEBHOOK, webhooks.delete_webhook),
        web.post(WEBHOOK + "/rotate-secret", webhooks.rotate_secret),
        web.post(WEBHOOK + "/test", webhooks.send_test),
        web.get(WEBHOOK + "/deliveries", webhooks.list_deliveries),
        web.post(WEBHOOK + "/deliveries/{delivery_id}/retry", webhooks.retry_delivery),
    ], cross_origin=cors)
    # Last: preflights reach the catch-all (no route takes OPTIONS).
    add_unrouted(app, cross_origin=cors)
