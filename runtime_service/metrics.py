"""The runtime's own metrics, read from the counts its parts keep (see common/metrics.py)."""

from __future__ import annotations

from common.lifecycle.lifecycle import Lifecycle
from common.metrics import Metrics
from runtime_service.cache import WidgetSource
from runtime_service.conversation_start import ConversationStarter
from runtime_service.conversations import ConversationStore
from runtime_service.invalidation import InvalidationListener
from runtime_service.livekit_webhook import WebhookOutcomes
from runtime_service.rate_limits import PublicRateLimits


def register_runtime_metrics(
    metrics: Metrics,
    source: WidgetSource,
    listener: InvalidationListener,
    conversations: ConversationStore,
    starter: ConversationStarter,
    limits: PublicRateLimits,
) -> None:
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
    metrics.counter(
        "rate_limited", "Requests refused by a rate limit (429), by action",
        lambda: limits.refused, "action",
    )


def register_lifecycle_metrics(
    metrics: Metrics, lifecycle: Lifecycle, outcomes: WebhookOutcomes,
    conversations: ConversationStore,
) -> None:
    metrics.counter(
        "livekit_webhooks",
        "LiveKit webhooks by outcome (applied, duplicate, terminal, ignored, "
        "unknown_conversation, unauthorized, malformed)",
        lambda: outcomes, "outcome",
    )
    metrics.counter(
        "lifecycle_sweep_actions",
        "What this pod's lifecycle sweeps did: ended conversations by final status "
        "(completed, failed, cancelled), republished outbox events, errors",
        lambda: lifecycle.sweep_actions, "action",
    )
    metrics.counter(
        "conversation_events_published",
        "Conversation events this pod appended to the events stream (and failed to: left to the "
        "sweep)",
        lambda: {
            "ok": lifecycle.publisher.published + conversations.publisher.published,
            "failed": lifecycle.publisher.failures + conversations.publisher.failures,
        },
        "outcome",
    )
