"""The /core/webhooks request and response bodies (the stored records are in
common/models/webhooks.py, shared with the delivery worker)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from common.models.webhooks import WebhookEndpoint

Url = Annotated[str, Meta(max_length=2048, description="Absolute `https` URL (plain `http` "
                          "only with `WEBHOOK_ALLOW_PRIVATE=true`), no `user:password@`")]
EventList = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(
    max_length=32, description="Event types to deliver; empty or absent: every type",
)]
Description = Annotated[str, Meta(max_length=500)]
# Anchored for ECMA-262 and Python alike (Python's `$` also matches before a final newline).
DELIVERY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$(?!\n)"
DeliveryId = Annotated[str, Meta(pattern=DELIVERY_ID_PATTERN)]
SecretText = Annotated[str, Meta(
    pattern=r"^whsec_[A-Za-z0-9+/]+={0,2}$(?!\n)",
    description="The signing secret (`whsec_` + Base64), shown only in this answer",
)]


class _ReadOnlyFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Accepted and ignored, so a client can send back an object it read (GET, edit, PUT).
    id: Any = UNSET
    organization_id: Any = UNSET
    disabled_reason: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class WebhookCreate(_ReadOnlyFields, kw_only=True, forbid_unknown_fields=True):
    url: Url
    events: EventList = []
    description: Description = ""
    enabled: bool = True


class WebhookUpdate(_ReadOnlyFields, kw_only=True, forbid_unknown_fields=True):
    """PUT body: a present field replaces the stored value; ``null`` is not a value."""

    url: Url | UnsetType = UNSET
    events: EventList | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class WebhookWithSecret(WebhookEndpoint, kw_only=True):
    """Create and rotate-secret answers: the endpoint plus its newest signing secret, shown this
    once (GET and the list never show a secret)."""

    secret: SecretText


class WebhookSendAccepted(msgspec.Struct, kw_only=True):
    """The 202 of a test send or a manual retry: what was queued on the events stream. The
    delivery itself appears in the endpoint's deliveries list once a worker picks it up."""

    endpoint_id: str
    event_id: str  # the `webhook-id` the receiver will see (a retry keeps the original's)
    event_type: str
    retry_of: str | None  # the delivery a manual retry repeats; null for a test send
