"""Typed application keys of the management service."""

from __future__ import annotations

from aiohttp import ClientSession, web

from common.invalidation import InvalidationListener
from management_service.agents_store import AgentStore
from management_service.branding.service import BrandService
from management_service.conversation_erasure import ConversationEraser
from management_service.conversation_reports import ConversationEnds
from management_service.conversations_store import OwnerConversations
from management_service.credential_cache import CredentialCache
from management_service.credentials import CredentialStore
from management_service.idempotency import IdempotencyStore
from management_service.webhook_store import WebhookStore
from management_service.widget_eraser import WidgetEraser
from management_service.widget_events import WidgetEvents
from management_service.widgets_store import WidgetStore

CREDENTIALS = web.AppKey("credentials", CredentialStore)
CREDENTIAL_CACHE = web.AppKey("credential_cache", CredentialCache)
CREDENTIAL_LISTENER = web.AppKey("credential_listener", InvalidationListener)
AGENTS: web.AppKey[AgentStore] = web.AppKey("agents")
WIDGETS: web.AppKey[WidgetStore] = web.AppKey("widgets")
HTTP_SESSION = web.AppKey("http_session", ClientSession)
BRANDS: web.AppKey[BrandService] = web.AppKey("brands")
IDEMPOTENCY: web.AppKey[IdempotencyStore] = web.AppKey("idempotency")
CONVERSATION_ENDS: web.AppKey[ConversationEnds] = web.AppKey("conversation_ends")
OWNER_CONVERSATIONS: web.AppKey[OwnerConversations] = web.AppKey("owner_conversations")
# Erasure (management_service/conversation_erasure.py, widget_eraser.py).
CONVERSATION_ERASER: web.AppKey[ConversationEraser] = web.AppKey("conversation_eraser")
WIDGET_ERASER: web.AppKey[WidgetEraser] = web.AppKey("widget_eraser")
WEBHOOKS: web.AppKey[WebhookStore] = web.AppKey("webhooks")
WIDGET_EVENTS: web.AppKey[WidgetEvents] = web.AppKey("widget_events")
