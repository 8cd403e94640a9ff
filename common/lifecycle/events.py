"""Conversation events: their JSON, what routes one on the events stream, and its XADD."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from common.ids import random_hex
from common.redis_keys import RedisKeys

_ENCODE = msgspec.json.Encoder().encode


class OutboxEvent(NamedTuple):
    """An event waiting in a conversation's outbox field, with the columns the stream entry
    routes it by (common/lifecycle/publisher.py publishes it)."""

    field: str  # outbox:<id>
    id: str
    kind: str
    organization_id: str
    widget_id: str
    conversation_id: str
    body: bytes | str  # the event's JSON


class _Data(msgspec.Struct):
    # Any: whatever a script wrote is routed as before, never refused here.
    id: Any = None
    conversation_id: Any = None
    organization_id: Any = None
    web_widget_id: Any = None


class _Routing(msgspec.Struct):
    id: str
    type: str
    data: _Data | None = None


# Only the routing columns: the rest of the event (the whole document) is skipped, not decoded.
_ROUTING = msgspec.json.Decoder(_Routing)


def new_event_id() -> str:
    """A caller's event id base: stable for the call, suffixed by the script per extra event."""
    return "evt_" + random_hex()


def outbox_field(event_id: str) -> str:
    return "outbox:" + event_id


def event_json(event_id: str, kind: str, timestamp: str, data: dict[str, Any]) -> bytes:
    return _ENCODE({"id": event_id, "type": kind, "timestamp": timestamp, "data": data})


def event_around(event_id: str, kind: str, timestamp: str, data: bytes) -> bytes:
    """The same JSON around ``data`` already encoded (the start's hot path encodes it once)."""
    head = _ENCODE({"id": event_id, "type": kind, "timestamp": timestamp})
    return head[:-1] + b',"data":' + data + b"}"


def xadd_command(
    keys: RedisKeys, event_id: str, kind: str, organization_id: str, widget_id: str,
    conversation_id: str, event: bytes | str, now_ms: int, retention: int,
    *, endpoint_id: str = "", retry_of: str = "",
) -> tuple[Any, ...]:
    """The XADD of one event, trimming what is older than ``retention`` seconds (entry ids are
    the server's ms timestamps: MINID ~ drops whole old nodes, cheaply).

    ``endpoint_id`` targets one webhook endpoint only (a test send or a manual retry, whatever
    the endpoint's ``events`` filter); ``retry_of`` names the delivery a manual retry repeats.
    Both fields are left out when empty, so ordinary entries are unchanged."""
    command: tuple[Any, ...] = (
        "XADD", keys.events_stream(), "MINID", "~", max(now_ms - retention * 1000, 0), "*",
        "id", event_id, "type", kind, "organization_id", organization_id,
        "web_widget_id", widget_id, "conversation_id", conversation_id, "data", event,
    )
    if endpoint_id:
        command += ("endpoint_id", endpoint_id)
    if retry_of:
        command += ("retry_of", retry_of)
    return command


def outbox_event(field: str, event: bytes | str) -> OutboxEvent:
    """An event as a script wrote it to ``field``, its routing read from its data: a
    conversation's safe columns, or a feedback's ``conversation_id``."""
    routing = _ROUTING.decode(event)
    data = routing.data or _Data()
    return OutboxEvent(
        field, routing.id, routing.type, data.organization_id or "", data.web_widget_id or "",
        data.conversation_id or data.id or "", event,
    )
