"""Outbound webhooks: the endpoint an organization registers and the deliveries made to it.

Shared by the management API (``/core/webhooks``) and the delivery worker
(``python -m management_service.webhooks``); stored as JSON under ``RedisKeys.webhook`` and
``RedisKeys.webhook_delivery``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

# Every event type an endpoint can subscribe to (``webhook.test`` is sent on request only).
EVENT_TYPES = (
    "conversation.started",
    "conversation.in_progress",
    "conversation.ended",
    "feedback.submitted",
    "widget.updated",
    "widget.deleted",
)
TEST_EVENT = "webhook.test"


class WebhookEndpoint(msgspec.Struct, kw_only=True):
    """What the API returns (never a secret, except once on create and rotate)."""

    id: str
    organization_id: str
    url: str
    events: list[str]  # empty: every event type
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: str
    updated_at: str


class SigningSecret(msgspec.Struct, kw_only=True):
    secret: str  # "whsec_" + Base64
    expires_ms: int | None = None  # a rotated-out secret keeps signing until then


class StoredEndpoint(WebhookEndpoint, kw_only=True):
    """The stored record: the secrets, newest first (the signer needs them in clear)."""

    secrets: list[SigningSecret]


DeliveryStatus = Literal["pending", "succeeded", "failed", "dropped"]


class WebhookDelivery(msgspec.Struct, kw_only=True):
    """One event sent (or being sent) to one endpoint: what the deliveries list returns."""

    id: str
    endpoint_id: str
    event_id: str  # the `webhook-id` header: the same on every attempt and manual retry
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    latency_ms: int | None  # of the last attempt
    next_attempt_at: str | None
    created_at: str
    updated_at: str


class StoredDelivery(WebhookDelivery, kw_only=True):
    """The stored record: the payload too, so a manual retry resends exactly what was sent."""

    payload: str
