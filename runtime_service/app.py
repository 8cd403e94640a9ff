"""The runtime service's app factory: plain, no I/O; resources live in cleanup contexts."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import KEYS, METRICS, SETTINGS
from common.metrics import Metrics
from common.redis_batch import redis_batch_ctx
from common.redis_client import redis_ctx
from common.redis_keys import RedisKeys
from common.settings import Settings
from runtime_service.agent_versions import agent_versions_ctx
from runtime_service.cache import widget_source_ctx
from runtime_service.conversation_start import conversation_starter_ctx
from runtime_service.conversations import conversations_ctx
from runtime_service.invalidation import invalidation_listener_ctx
from runtime_service.livekit_tokens import token_minter_ctx
from runtime_service.metrics import runtime_metrics_ctx
from runtime_service.rate_limits import rate_limits_ctx
from runtime_service.routes import setup_routes

# Public bodies are small (start: user_id + capped custom_metadata; feedback: 16 KiB of data).
# A body past this is refused with 413 before it is read whole.
CLIENT_MAX_SIZE = 64 * 1024


def create_app(settings: Settings) -> web.Application:
    # No middlewares: routes are wrapped where they are registered (common.http.add_routes).
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    app[SETTINGS] = settings
    app[KEYS] = RedisKeys(settings.redis_key_prefix)
    app[METRICS] = Metrics()
    # Order matters: everything below needs Redis; the listener needs the cache it invalidates.
    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.append(redis_batch_ctx)
    app.cleanup_ctx.append(widget_source_ctx)
    app.cleanup_ctx.append(invalidation_listener_ctx)
    app.cleanup_ctx.append(agent_versions_ctx)
    app.cleanup_ctx.append(conversations_ctx)
    app.cleanup_ctx.append(token_minter_ctx)
    app.cleanup_ctx.append(conversation_starter_ctx)
    app.cleanup_ctx.append(rate_limits_ctx)
    app.cleanup_ctx.append(runtime_metrics_ctx)
    setup_routes(app)
    return app
