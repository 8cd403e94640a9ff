"""Invalidation events that management publishes with every committed widget write and every
credential revocation."""

from __future__ import annotations

from typing import Literal

import msgspec


class WidgetChanged(msgspec.Struct, kw_only=True, frozen=True):
    widget_id: str
    op: Literal["upsert", "delete"]


EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER = msgspec.json.Decoder(WidgetChanged)


class CredentialChanged(msgspec.Struct, kw_only=True, frozen=True):
    """A credential was revoked (or otherwise changed): every management process drops its
    cached copy (management_service/credential_cache.py)."""

    credential_id: str
    op: Literal["revoke"] = "revoke"


CREDENTIAL_EVENT_DECODER = msgspec.json.Decoder(CredentialChanged)
