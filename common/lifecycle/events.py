"""Conversation events: their JSON, and the XADD that publishes one to the events stream."""

from __future__ import annotations

from typing import Any

import msgspec

from common.redis_keys import RedisKeys
from common.timeutil import random_hex

_ENCODE = msgspec.json.Encoder().encode
_EVENT = msgspec.json.Decoder(dict[str, Any])
# Every stream entry names these, so a reader can route it without decoding the event.
_ROUTED = ("organization_id", "web_widget_id", "conversation_id")


def new_event_id() -> str:
    """A caller's event id base: stable for the call, suffixed by the script per extra event."""
    return "evt_" + random_hex()


def outbox_field(event_id: str) -> str:
    return "outbox:" + event_id


def event_json(event_id: str, kind: str, timestamp: str, data: dict[str, Any]) -> bytes:
    return _ENCODE({"id": event_id, "type": kind, "timestamp": timestamp, "data": data})


def xadd_args(
    keys: RedisKeys, event: bytes | str, now_ms: int, retention: int
) -> tuple[Any, ...]:
    """The XADD of one event (its JSON as the script or the caller wrote it), trimming what is
    older than ``retention`` seconds by entry id (entry ids are ms timestamps)."""
    decoded = _EVENT.decode(event)
    data = decoded.get("data") or {}
    routed: list[Any] = []
    for name in _ROUTED:
        value = data.get("id") if name == "conversation_id" and "id" in data else data.get(name)
        routed += [name, value or ""]
    return (
        "XADD", keys.events_stream(), "MINID", "~", max(now_ms - retention * 1000, 0), "*",
        "id", decoded["id"], "type", decoded["type"], *routed, "data", event,
    )
