"""Invalidation events that management publishes after every committed widget write."""

from __future__ import annotations

from typing import Literal

import msgspec


class WidgetChanged(msgspec.Struct, kw_only=True, frozen=True):
    widget_id: str
    op: Literal["upsert", "delete"]


EVENT_ENCODER = msgspec.json.Encoder()
EVENT_DECODER = msgspec.json.Decoder(WidgetChanged)
