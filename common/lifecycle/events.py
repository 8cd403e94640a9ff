"""Conversation events: the snapshot the outbox and the events stream keep of each, the JSON the
webhook fan-out renders from it, and the XADD."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from common.ids import random_hex
from common.models.conversation import ConversationSummary
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
    body: bytes | str  # the event's snapshot (outbox_value, FEEDBACK_VALUE)


def new_event_id() -> str:
    """A caller's event id base: stable for the call, suffixed by the script per extra event."""
    return "evt_" + random_hex()


def outbox_field(event_id: str) -> str:
    return "outbox:" + event_id


# What an outbox field and the events stream hold of a conversation's event: its kind's letter
# and what its data had that may change later (status, timestamp = updated_at, duration, turns;
# a feedback event nothing: the feedback is written once), a few dozen bytes,
# so that the hash stays a listpack (common/conversation_record.py) and the stream small; the
# webhook fan-out renders the JSON from it and the stored record (``conversation_event``,
# ``feedback_event``).
OUTBOX_KINDS = {
    "conversation.started": "s", "conversation.in_progress": "i", "conversation.ended": "e",
    "feedback.submitted": "f",
}
_KIND_OF = {letter: kind for kind, letter in OUTBOX_KINDS.items()}
# A feedback event's: its letter alone (the feedback, written once, has its own time).
FEEDBACK_VALUE = "f"


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


def event_kind(value: bytes | str) -> str:
    """The type of an outbox value, from its letter."""
    letter = value[:1]
    return _KIND_OF[letter.decode() if isinstance(letter, bytes) else letter]


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

    With ``snapshot`` the event is a conversation's event's snapshot (``outbox_value``,
    ``FEEDBACK_VALUE``; field ``snapshot``) rather than its JSON (``data``): a tenth of the
    bytes on the stream; the webhook fan-out renders the JSON (``conversation_event``,
    ``feedback_event``) only when an endpoint wants the event.
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


def outbox_entry(
    field: str, value: bytes, organization_id: str, widget_id: str, conversation_id: str
) -> OutboxEvent:
    """What an outbox field holds, to publish as it is, with its routing."""
    return OutboxEvent(
        field, field.removeprefix("outbox:"), event_kind(value), organization_id, widget_id,
        conversation_id, value,
    )


class _Submitted(msgspec.Struct):
    submitted_at: str


_SUBMITTED = msgspec.json.Decoder(_Submitted)


def feedback_event(
    event_id: str, organization_id: str, widget_id: str, conversation_id: str, record: bytes
) -> bytes:
    """A feedback event's JSON from the stored record (``{data, submitted_at}``); its
    timestamp is the submission's."""
    return event_json(event_id, "feedback.submitted", _SUBMITTED.decode(record).submitted_at, {
        "conversation_id": conversation_id, "web_widget_id": widget_id,
        "organization_id": organization_id, "feedback": msgspec.Raw(record),
    })
