"""Typed application keys of the runtime service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from runtime_service.agent_versions import AgentVersionSource
    from runtime_service.cache import WidgetSource
    from runtime_service.conversation_start import ConversationStarter
    from runtime_service.conversations import ConversationStore
    from runtime_service.invalidation import InvalidationListener
    from runtime_service.livekit_tokens import TokenMinter
    from runtime_service.rate_limits import PublicRateLimits

WIDGET_SOURCE: web.AppKey[WidgetSource] = web.AppKey("widget_source")
LISTENER: web.AppKey[InvalidationListener] = web.AppKey("invalidation_listener")
AGENT_VERSIONS: web.AppKey[AgentVersionSource] = web.AppKey("agent_versions")
CONVERSATIONS: web.AppKey[ConversationStore] = web.AppKey("conversations")
TOKEN_MINTER: web.AppKey[TokenMinter] = web.AppKey("token_minter")
STARTER: web.AppKey[ConversationStarter] = web.AppKey("conversation_starter")
RATE_LIMITS: web.AppKey[PublicRateLimits] = web.AppKey("rate_limits")
