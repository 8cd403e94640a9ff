"""The management service's app factory: plain, no I/O; resources live in cleanup contexts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from common.app_base import build_app
from common.appkeys import KEYS, METRICS, REDIS, REDIS_BATCH, SETTINGS
from common.invalidation import InvalidationListener
from common.lifecycle.lifecycle import Lifecycle
from common.models.events import CREDENTIAL_EVENT_DECODER
from common.periodic import Periodic, running
from common.redis_client import redis_batch_ctx, subscriber_factory
from common.settings import Settings
from management_service.agents_store import AgentStore
from management_service.appkeys import (
    AGENTS,
    BRANDS,
    CONVERSATION_ENDS,
    CONVERSATION_ERASER,
    CREDENTIAL_CACHE,
    CREDENTIAL_LISTENER,
    CREDENTIALS,
    HTTP_SESSION,
    IDEMPOTENCY,
    OWNER_CONVERSATIONS,
    WEBHOOKS,
    WIDGET_ERASER,
    WIDGET_EVENTS,
    WIDGETS,
)
from management_service.branding.cache import BrandCache
from management_service.branding.fetch import Fetcher
from management_service.branding.service import BrandService
from management_service.branding.session import build_session, egress_policy
from management_service.conversation_erasure import ConversationEraser
from management_service.conversation_reports import ConversationEnds, RoomRemover
from management_service.conversations_store import OwnerConversations
from management_service.credential_cache import CredentialCache
from management_service.credentials import CredentialStore
from management_service.idempotency import IdempotencyStore
from management_service.routes import setup_routes
from management_service.webhook_egress import default_resolver, webhook_egress_policy
from management_service.webhook_store import WebhookStore
from management_service.widget_eraser import WidgetEraser
from management_service.widget_events import WidgetEvents
from management_service.widgets_store import WidgetStore

log = logging.getLogger(__name__)

# Widget configs are capped at 64 KiB; the rest of a body is small. Larger bodies answer 413
# before they are buffered.
CLIENT_MAX_SIZE = 256 * 1024


def _credential_id(data: bytes) -> str:
    return CREDENTIAL_EVENT_DECODER.decode(data).credential_id


async def credential_cache_ctx(app: web.Application) -> AsyncIterator[None]:
    """Verified credentials kept by this process, and the listener that drops them on a
    revocation (management_service/credential_cache.py)."""
    settings = app[SETTINGS]
    cache = app[CREDENTIAL_CACHE] = CredentialCache(
        max_size=settings.credential_cache_size, ttl=settings.credential_cache_ttl
    )
    listener = app[CREDENTIAL_LISTENER] = InvalidationListener(
        subscriber_factory(settings, app[REDIS]), app[KEYS].credential_channel(), cache,
        decode=_credential_id, pong_timeout=settings.redis_timeout, what="credential",
    )
    metrics = app[METRICS]
    metrics.counter(
        "credential_cache_events",
        "Credential cache: hits, misses (Redis reads), evictions, invalidations, clears",
        cache.stats.as_dict, "event",
    )
    metrics.gauge("credential_cache_entries", "Verified credentials cached now", cache.__len__)
    metrics.gauge(
        "credential_subscription_live", "1 while the credential channel's subscription is live",
        lambda: float(listener.live),
    )
    async with listener.running("credential-listener", settings.redis_timeout) as live:
        # Until the subscription is confirmed every request reads Redis: correct, only slower.
        if not live:
            log.warning("credential subscription not confirmed yet; credentials read from Redis")
        yield


async def stores_ctx(app: web.Application) -> AsyncIterator[None]:
    # The hot reads (a credential, a pat_'s membership, a widget, a list page) and the widget
    # write go through the command batch; the rest through the client.
    redis, keys, batch = app[REDIS], app[KEYS], app[REDIS_BATCH]
    app[CREDENTIALS] = CredentialStore(redis, keys, app[CREDENTIAL_CACHE], batch)
    app[AGENTS] = AgentStore(redis, keys)
    events = app[WIDGET_EVENTS] = WidgetEvents(
        redis, keys, app[SETTINGS].events_retention, batch
    )
    app[WIDGETS] = WidgetStore(redis, keys, events=events, batch=batch)
    app[IDEMPOTENCY] = IdempotencyStore(redis, keys)
    app[OWNER_CONVERSATIONS] = OwnerConversations(redis, keys, batch)
    app[METRICS].counter(
        "widget_events_published",
        "widget.updated/widget.deleted events appended to the events stream (failed: lost, "
        "logged; the widget write itself succeeded)",
        lambda: events.outcomes, "outcome",
    )
    yield


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Webhook endpoints (management_service/webhook_store.py) and the resolver their
    registration's egress check looks names up with."""
    settings = app[SETTINGS]
    resolver = default_resolver()
    app[WEBHOOKS] = WebhookStore(
        app[REDIS], app[KEYS], webhook_egress_policy(settings), resolver,
        settings.events_retention, app[REDIS_BATCH],
    )
    try:
        yield
    finally:
        await resolver.close()


async def http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    """One client session for outbound calls (auto-brand), never one per request. Its connector
    can only reach addresses the egress policy allows (see management_service/branding/ssrf.py)."""
    settings = app[SETTINGS]
    policy = egress_policy(settings)
    async with build_session(settings, policy) as session:
        app[HTTP_SESSION] = session
        fetcher = Fetcher(
            session, policy, settings.auto_brand_max_bytes, settings.auto_brand_max_redirects
        )
        cache = BrandCache(
            app[REDIS], app[KEYS], settings.auto_brand_cache_ttl, settings.auto_brand_negative_ttl
        )
        brands = app[BRANDS] = BrandService(fetcher, cache, settings.auto_brand_timeout)
        metrics = app[METRICS]
        metrics.counter(
            "auto_brand_fetches", "Auto-brand lookups that read a site, by outcome",
            lambda: brands.fetched, "outcome",
        )
        metrics.counter(
            "auto_brand_cache_hits", "Auto-brand lookups answered from the Redis cache",
            lambda: brands.cache_hits,
        )
        yield
        await app[BRANDS].close()


async def lifecycle_ctx(app: web.Application) -> AsyncIterator[None]:
    """The agent's report and end (docs/lifecycle.md); with LIVEKIT_API_URL, a LiveKit API
    client that removes ended conversations' rooms."""
    settings = app[SETTINGS]
    lifecycle = Lifecycle(
        app[REDIS], app[KEYS], settings.lifecycle_settle, settings.events_retention,
        settings.stats_retention, batch=app[REDIS_BATCH],
    )
    remover = None
    if settings.livekit_api_url:
        remover = RoomRemover(
            settings.livekit_api_url, settings.livekit_api_key, settings.livekit_api_secret
        )
    app[CONVERSATION_ENDS] = ConversationEnds(lifecycle, remover)
    try:
        yield
    finally:
        if remover is not None:
            await remover.aclose()


async def erasure_ctx(app: web.Application) -> AsyncIterator[None]:
    """Erasing conversations (DELETE, erase by visitor), and the background task that erases
    deleted widgets' conversations (management_service/widget_eraser.py): every management
    process runs one; they share the jobs through leases."""
    settings = app[SETTINGS]
    eraser = app[CONVERSATION_ERASER] = ConversationEraser(
        app[REDIS], app[KEYS], settings.conversation_tombstone_ttl
    )
    widgets = app[WIDGET_ERASER] = WidgetEraser(
        app[REDIS], app[KEYS], eraser, batch=settings.conversation_erase_batch,
        recheck_ms=settings.widget_eraser_recheck * 1000,
        retry_ms=int(settings.widget_eraser_interval * 1000),
    )
    metrics = app[METRICS]
    metrics.counter(
        "conversations_erased", "Conversations erased, by what asked (delete, user, widget)",
        lambda: eraser.erased, "via",
    )
    metrics.counter(
        "widget_erasures", "Deleted widgets' erasure jobs: finished, abandoned (the widget "
        "was not deleted after all), error (retried)", lambda: widgets.jobs, "outcome",
    )
    loop = Periodic("widget eraser", widgets.run_once, settings.widget_eraser_interval)
    async with running(loop, settings.redis_timeout * 2):
        yield


def create_app(settings: Settings) -> web.Application:
    # Order matters: after the Redis client, which build_app starts first, and the command batch,
    # as the stores need them.
    return build_app(
        settings, CLIENT_MAX_SIZE,
        [redis_batch_ctx, credential_cache_ctx, stores_ctx, webhooks_ctx, http_session_ctx,
         lifecycle_ctx, erasure_ctx],
        setup_routes,
    )
