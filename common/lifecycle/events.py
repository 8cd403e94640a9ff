"""Conversation events: their JSON, and the XADD that publishes one to the events stream."""

from __future__ import annotations

from typing import Any

import msgspec

from common.ids import random_hex
from common.models.conversation import ConversationSummary
from common.redis_keys import RedisKeys

_ENCODE = msgspec.json.Encoder().encode
_EVENT = msgspec.json.Decoder(dict[str, Any])


def new_event_id() -> str:
    """A caller's event id base: stable for the call, suffixed by the script per extra event."""
    return "evt_" + random_hex()


def outbox_field(event_id: str) -> str:
    return "outbox:" + event_id


# What an outbox field holds for a conversation event: its kind's letter and what the event's data
# had that may change later (status, timestamp = updated_at, duration, turns), a few dozen bytes,
# so that the hash stays a listpack (common/conversation_record.py). The script of a caller that
# died before publishing rebuilds the event from it and the unchanging columns
# (conversation_lifecycle.lua `rebuild`). A feedback event's outbox holds its whole JSON.
OUTBOX_KINDS = {
    "conversation.started": "s", "conversation.in_progress": "i", "conversation.ended": "e",
}
_KIND_OF = {letter: kind for kind, letter in OUTBOX_KINDS.items()}


def outbox_value(
    kind: str, status: str, timestamp: str, duration: int | None = None,
    turns: int | None = None,
) -> str:
    return "|".join((
        OUTBOX_KINDS[kind], status, timestamp,
        "" if duration is None else str(duration), "" if turns is None else str(turns),
    ))


def event_json(event_id: str, kind: str, timestamp: str, data: Any) -> bytes:
    return _ENCODE({"id": event_id, "type": kind, "timestamp": timestamp, "data": data})


def event_around(event_id: str, kind: str, timestamp: str, data: bytes) -> bytes:
    """The same JSON around ``data`` already encoded (the start's hot path encodes it once)."""
    head = _ENCODE({"id": event_id, "type": kind, "timestamp": timestamp})
    return head[:-1] + b',"data":' + data + b"}"


def event_kind(value: bytes) -> str:
    """The type of an outbox value: a snapshot's letter, or a feedback event's JSON."""
    if value[:1] == b"{":
        kind: str = _EVENT.decode(value)["type"]
        return kind
    return _KIND_OF[value[:1].decode()]


def conversation_event(
    event_id: str, kind: str, snapshot: str, columns: ConversationSummary, summary: str | None
) -> bytes:
    """A conversation event's JSON from its snapshot (``outbox_value``) and the conversation's
    columns, which change only in what the snapshot holds: the same JSON as when it happened.
    The ended event carries the agent's ``summary`` when there is one."""
    _, status, timestamp, duration, turns = snapshot.split("|")
    doc = msgspec.structs.replace(
        columns, status=status, updated_at=timestamp,
        duration=int(duration) if duration else None,
        user_turn_count=int(turns) if turns else None,
    )
    if kind == "conversation.ended" and summary is not None:
        return event_json(event_id, kind, timestamp, {
            **msgspec.structs.asdict(doc), "summary": summary,
        })
    return event_json(event_id, kind, timestamp, doc)


def xadd_command(
    keys: RedisKeys, event_id: str, kind: str, organization_id: str, widget_id: str,
    conversation_id: str, event: bytes | str, now_ms: int, retention: int,
    *, endpoint_id: str = "", retry_of: str = "", snapshot: bool = False,
) -> tuple[Any, ...]:
    """The XADD of one event, trimming what is older than ``retention`` seconds (entry ids are
    the server's ms timestamps: MINID ~ drops whole old nodes, cheaply).

    With ``snapshot`` the event is a conversation event's ``outbox_value`` (field ``snapshot``)
    rather than its JSON (``data``): a tenth of the bytes on the stream; the webhook fan-out
    renders the JSON (``conversation_event``) only when an endpoint wants the event.
    ``endpoint_id`` targets one webhook endpoint only (a test send or a manual retry, whatever
    the endpoint's ``events`` filter); ``retry_of`` names the delivery a manual retry repeats.
    Both fields are left out when empty, so ordinary entries are unchanged."""
    command: tuple[Any, ...] = (
        "XADD", keys.events_stream(), "MINID", "~", max(now_ms - retention * 1000, 0), "*",
        "id", event_id, "type", kind, "organization_id", organization_id,
        "web_widget_id", widget_id, "conversation_id", conversation_id,
        "snapshot" if snapshot else "data", event,
    )
    if endpoint_id:
        command += ("endpoint_id", endpoint_id)
    if retry_of:
        command += ("retry_of", retry_of)
    return command


def xadd_args(
    keys: RedisKeys, event: bytes | str, now_ms: int, retention: int
) -> tuple[Any, ...]:
    """The XADD of one event as the script wrote it (its routing read from its data: a
    conversation's safe columns, or a feedback's ``conversation_id``)."""
    decoded = _EVENT.decode(event)
    data = decoded.get("data") or {}
    conversation_id = data.get("conversation_id") or data.get("id") or ""
    return xadd_command(
        keys, decoded["id"], decoded["type"], data.get("organization_id") or "",
        data.get("web_widget_id") or "", conversation_id, event, now_ms, retention,
    )


def outbox_xadd(
    keys: RedisKeys, field: str, value: bytes, organization_id: str, widget_id: str,
    conversation_id: str, now_ms: int, retention: int,
) -> tuple[Any, ...]:
    """The XADD of an outbox field's event: a conversation event's snapshot as it is, a feedback
    event's JSON as the script wrote it."""
    if value[:1] == b"{":
        return xadd_args(keys, value, now_ms, retention)
    return xadd_command(
        keys, field.removeprefix("outbox:"), event_kind(value), organization_id, widget_id,
        conversation_id, value, now_ms, retention, snapshot=True,
    )
