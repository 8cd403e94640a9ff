"""The runtime service's app factory: plain, no I/O; resources live in cleanup contexts, all
wired here (the domain modules only define the classes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from common.app_base import build_app
from common.appkeys import KEYS, METRICS, REDIS, REDIS_BATCH, SETTINGS
from common.lifecycle.lifecycle import Lifecycle
from common.periodic import Periodic, running
from common.redis_client import redis_batch_ctx, subscriber_factory
from common.settings import Settings
from common.timeutil import now_ms
from runtime_service.agent_versions import AgentVersionSource
from runtime_service.appkeys import (
    AGENT_VERSIONS,
    CONVERSATIONS,
    EMBED_ASSETS,
    LIFECYCLE,
    LISTENER,
    RATE_LIMITS,
    STARTER,
    SWEEPER,
    TOKEN_MINTER,
    WEBHOOK_OUTCOMES,
    WEBHOOK_RECEIVER,
    WIDGET_SOURCE,
)
from runtime_service.cache import WidgetSource, redis_loader
from runtime_service.conversation_start import ConversationStarter
from runtime_service.conversations import ConversationStore
from runtime_service.embed import assets as embed_assets
from runtime_service.invalidation import InvalidationListener
from runtime_service.livekit_tokens import TokenMinter
from runtime_service.livekit_webhook import WebhookOutcomes, webhook_receiver
from runtime_service.metrics import register_lifecycle_metrics, register_runtime_metrics
from runtime_service.public_widget import route_headers
from runtime_service.rate_limits import PublicRateLimits, RateLimiter
from runtime_service.routes import setup_routes

log = logging.getLogger(__name__)

# Public bodies are small (start: user_id + capped custom_metadata; feedback: 16 KiB of data).
# A body past this is refused with 413 before it is read whole.
CLIENT_MAX_SIZE = 64 * 1024


async def widget_source_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    source = WidgetSource(
        redis_loader(
            app[REDIS], app[KEYS], settings.redis_timeout,
            route_headers(settings.public_cache_max_age),
        ),
        max_size=settings.widget_cache_size,
        ttl=settings.widget_cache_ttl,
        negative_ttl=settings.negative_cache_ttl,
    )
    app[WIDGET_SOURCE] = source
    yield
    await source.aclose()


async def invalidation_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    listener = InvalidationListener(
        subscriber_factory(settings, app[REDIS]),
        app[KEYS].invalidation_channel(),
        app[WIDGET_SOURCE],
        pong_timeout=settings.redis_timeout,
    )
    app[LISTENER] = listener
    async with listener.running("invalidation-listener", settings.redis_timeout) as live:
        # Start serving with a live subscription when Redis allows; /readyz reports it either way.
        if not live:
            log.warning(
                "invalidation subscription not confirmed yet; /readyz answers 503 until it is"
            )
        yield


async def services_ctx(app: web.Application) -> AsyncIterator[None]:
    """What the public routes use, over the Redis client and batch (no teardown of their own),
    and the metrics read from them."""
    settings, keys, batch = app[SETTINGS], app[KEYS], app[REDIS_BATCH]
    versions = app[AGENT_VERSIONS] = AgentVersionSource(
        app[REDIS], keys, settings.widget_cache_size
    )
    conversations = app[CONVERSATIONS] = ConversationStore(
        batch, keys, settings.conversation_retention,
        settings.lifecycle_settle, settings.events_retention, settings.stats_retention,
    )
    minter = app[TOKEN_MINTER] = TokenMinter(
        settings.livekit_api_key, settings.livekit_api_secret, settings.livekit_token_ttl
    )
    lifecycle = app[LIFECYCLE] = Lifecycle(
        app[REDIS], keys, settings.lifecycle_settle, settings.events_retention,
        settings.stats_retention, batch=batch,
    )
    starter = app[STARTER] = ConversationStarter(
        versions, conversations, minter, settings.livekit_url, lifecycle
    )
    app[WEBHOOK_RECEIVER] = webhook_receiver(settings.livekit_api_key, settings.livekit_api_secret)
    outcomes = app[WEBHOOK_OUTCOMES] = WebhookOutcomes()
    limits = app[RATE_LIMITS] = PublicRateLimits(RateLimiter(batch), keys, settings)
    register_runtime_metrics(
        app[METRICS], app[WIDGET_SOURCE], app[LISTENER], conversations, starter, limits
    )
    register_lifecycle_metrics(app[METRICS], lifecycle, outcomes, conversations)
    yield


async def lifecycle_sweep_ctx(app: web.Application) -> AsyncIterator[None]:
    """The lifecycle sweep (docs/lifecycle.md): every LIFECYCLE_SWEEP_INTERVAL, one pass over
    the due index; safe with any number of pods, each claims what it sweeps."""
    lifecycle = app[LIFECYCLE]
    interval = app[SETTINGS].lifecycle_sweep_interval
    sweeper = Periodic("lifecycle sweep", lambda: lifecycle.sweep(now_ms()), interval)
    app[SWEEPER] = sweeper
    async with running(sweeper, app[SETTINGS].redis_timeout * 2):
        yield


async def embed_assets_ctx(app: web.Application) -> AsyncIterator[None]:
    # Read at start-up (a few hundred KB), not at import, so tests can point STATIC_DIR elsewhere.
    app[EMBED_ASSETS] = embed_assets.EmbedAssets.load(embed_assets.STATIC_DIR)
    yield


def create_app(settings: Settings) -> web.Application:
    # Order matters: all need Redis (build_app starts it first); the listener needs the cache it
    # invalidates.
    contexts = [
        redis_batch_ctx, widget_source_ctx, invalidation_listener_ctx, services_ctx,
        lifecycle_sweep_ctx, embed_assets_ctx,
    ]
    return build_app(settings, CLIENT_MAX_SIZE, contexts, setup_routes)
