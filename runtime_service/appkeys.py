"""Typed application keys of the runtime service (set in runtime_service/app.py), and its request
key."""

from __future__ import annotations

from aiohttp import web
from livekit.api import WebhookReceiver

from common.lifecycle.lifecycle import Lifecycle
from common.periodic import Periodic
from runtime_service.agent_versions import AgentVersionSource
from runtime_service.cache import WidgetSource
from runtime_service.conversation_start import ConversationStarter
from runtime_service.conversations import ConversationStore
from runtime_service.embed.assets import EmbedAssets
from runtime_service.invalidation import InvalidationListener
from runtime_service.livekit_tokens import TokenMinter
from runtime_service.livekit_webhook import WebhookOutcomes
from runtime_service.public_widget import PublicWidget
from runtime_service.rate_limits import PublicRateLimits

WIDGET_SOURCE = web.AppKey("widget_source", WidgetSource)
LISTENER = web.AppKey("invalidation_listener", InvalidationListener)
AGENT_VERSIONS = web.AppKey("agent_versions", AgentVersionSource)
CONVERSATIONS = web.AppKey("conversations", ConversationStore)
TOKEN_MINTER = web.AppKey("token_minter", TokenMinter)
STARTER = web.AppKey("conversation_starter", ConversationStarter)
RATE_LIMITS = web.AppKey("rate_limits", PublicRateLimits)
EMBED_ASSETS = web.AppKey("embed_assets", EmbedAssets)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
SWEEPER = web.AppKey("lifecycle_sweeper", Periodic)
WEBHOOK_RECEIVER = web.AppKey("webhook_receiver", WebhookReceiver)
WEBHOOK_OUTCOMES = web.AppKey("webhook_outcomes", WebhookOutcomes)

# The widget the origin policy read for a browser request (runtime_service/origins.py), handed
# to the handler so that it is not looked up twice (and the answer is the widget checked).
RESOLVED_WIDGET = web.RequestKey("resolved_widget", PublicWidget)
