"""The runtime's own metrics, read from the counts its parts keep (see common/metrics.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from common.appkeys import METRICS, REDIS_BATCH
from runtime_service.appkeys import CONVERSATIONS, LISTENER, RATE_LIMITS, STARTER, WIDGET_SOURCE


async def runtime_metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    metrics = app[METRICS]
    source, listener = app[WIDGET_SOURCE], app[LISTENER]
    conversations, starter, limits = app[CONVERSATIONS], app[STARTER], app[RATE_LIMITS]
    metrics.counter(
        "widget_cache_events",
        "Widget cache: hits, negative_hits (unknown ids), misses (Redis reads, shared by "
        "concurrent requests), stale_served (Redis down), evictions, invalidations, clears",
        source.stats.as_dict, "event",
    )
    metrics.gauge("widget_cache_entries", "Widgets (and unknown ids) cached now", source.__len__)
    metrics.counter(
        "invalidation_subscriptions",
        "Confirmed subscriptions to the invalidation channel (1 + reconnects)",
        lambda: listener.subscriptions,
    )
    metrics.gauge(
        "invalidation_subscription_live", "1 while the invalidation subscription is live",
        lambda: float(listener.live),
    )
    metrics.counter(
        "conversations", "Conversations started and resumed by this pod",
        lambda: {"start": conversations.created, "resume": starter.resumed}, "action",
    )
    metrics.counter(
        "feedback_submissions",
        "Feedback submissions by the Lua script's outcome (ok, duplicate, too_large, not_found)",
        lambda: conversations.feedback_outcomes, "outcome",
    )
    batch = app[REDIS_BATCH]
    metrics.counter(
        "redis_batched_pipelines", "Pipelines that carried the requests' batched Redis commands",
        lambda: batch.pipelines,
    )
    metrics.counter(
        "redis_batched_commands", "Redis commands sent through those pipelines",
        lambda: batch.commands,
    )
    metrics.counter(
        "rate_limited", "Requests refused by a rate limit (429), by action",
        lambda: limits.refused, "action",
    )
    yield
