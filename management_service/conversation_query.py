"""The owner's conversation list (GET /core/conversations): its query string, checked, and the
filters evaluated on each conversation while an index is walked.

Unknown parameters are ignored, as on the widgets list. A bad value is a 422 at
``["query", <name>]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import msgspec
from multidict import MultiMapping

from common.ids import is_uuid
from common.models.conversation import ConversationSummary, OwnerConversation, Status
from common.models.types import UUID_MESSAGE
from common.pagination import decode_cursor, parse_limit
from common.query_params import CHANNELS, query_choice, query_instant
from common.validation import invalid

DIRECTIONS = frozenset({"inbound", "outbound"})
STATUSES = frozenset(get_args(Status))
MAX_USER_ID_FILTER = 128
# The custom_metadata filter's JSON, as sent: short enough that a request line with it, percent-
# encoded, stays within the 8 KiB that aiohttp reads.
MAX_METADATA_FILTER = 256
_BOUNDS = ("duration_above", "duration_below", "user_turn_count_above", "user_turn_count_below")
_OBJECT = msgspec.json.Decoder(dict[str, Any])


def contains(value: Any, wanted: Any) -> bool:
    """JSON containment like PostgreSQL's ``@>``: objects contain every wanted key with a
    contained value (recursively), arrays contain every wanted element somewhere, scalars are
    equal (``1`` and ``1.0`` alike, ``true`` never ``1``)."""
    if isinstance(wanted, dict):
        return isinstance(value, dict) and all(
            key in value and contains(value[key], item) for key, item in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(value, list) and all(
            any(contains(have, item) for have in value) for item in wanted
        )
    if isinstance(value, (dict, list)) or isinstance(value, bool) != isinstance(wanted, bool):
        return False
    return bool(value == wanted)


@dataclass(frozen=True, slots=True)
class OwnerFilter:
    """What the walk checks on each conversation; ``None`` matches anything. ``status`` and
    ``web_widget_id`` choose the index (conversations_store.py) and are checked again here, so
    a conversation that moved on between the index read and the document read is not listed."""

    direction: str | None = None
    status: str | None = None
    user_id: str | None = None  # casefolded substring
    agent_id: str | None = None
    agent_version_id: str | None = None
    web_widget_id: str | None = None
    duration_above: int | None = None
    duration_below: int | None = None
    user_turn_count_above: int | None = None
    user_turn_count_below: int | None = None
    custom_metadata: dict[str, Any] | None = None

    @property
    def walked(self) -> bool:
        """Whether a filter is evaluated per conversation (not answered by the index)."""
        return any(
            value is not None for value in (
                self.direction, self.user_id, self.agent_id, self.agent_version_id,
                self.duration_above, self.duration_below, self.user_turn_count_above,
                self.user_turn_count_below, self.custom_metadata,
            )
        )

    def __call__(self, item: ConversationSummary) -> bool:
        return (
            self.direction in (None, item.direction)
            and self.status in (None, item.status)
            and self.agent_id in (None, item.agent_id)
            and self.agent_version_id in (None, item.agent_version_id)
            and self.web_widget_id in (None, item.web_widget_id)
            and (self.user_id is None or self.user_id in item.user_id.casefold())
            and _within(item.duration, self.duration_above, self.duration_below)
            and _within(item.user_turn_count, self.user_turn_count_above,
                        self.user_turn_count_below)
            and (
                self.custom_metadata is None
                or (isinstance(item, OwnerConversation)
                and contains(item.custom_metadata, self.custom_metadata))
            )
        )


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    # An unknown value (null) is outside any bound, as in SQL.
    if low is None and high is None:
        return True
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


@dataclass(frozen=True, slots=True)
class OwnerQuery:
    filters: OwnerFilter
    start: str  # exclusive upper lex bound of the index ("+": the newest)
    limit: int
    created_after_ms: int | None
    created_before_ms: int | None
    # Only webrtc conversations exist (they start from widgets): another channel lists nothing.
    webrtc: bool


def _uuid(query: MultiMapping[str], name: str) -> str | None:
    value = query.get(name)
    if value is not None and not is_uuid(value):
        raise invalid(["query", name], UUID_MESSAGE)
    return value


def _count(query: MultiMapping[str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    # Length first: int() refuses more than 4300 digits with a ValueError.
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        raise invalid(["query", name], "Expected a non-negative integer (at most 10 digits)")
    return int(value)


def _user_id(query: MultiMapping[str]) -> str | None:
    value = query.get("user_id")
    if value is not None and not 1 <= len(value) <= MAX_USER_ID_FILTER:
        raise invalid(["query", "user_id"], f"Expected 1 to {MAX_USER_ID_FILTER} characters")
    return None if value is None else value.casefold()


def _metadata(query: MultiMapping[str]) -> dict[str, Any] | None:
    value = query.get("custom_metadata")
    if value is None:
        return None
    loc: list[str | int] = ["query", "custom_metadata"]
    if len(value) > MAX_METADATA_FILTER:
        raise invalid(loc, f"Expected at most {MAX_METADATA_FILTER} characters")
    try:
        return _OBJECT.decode(value)
    except msgspec.DecodeError:
        raise invalid(loc, 'Expected a JSON object such as {"order_id": "123"}') from None


def parse_owner_query(query: MultiMapping[str]) -> OwnerQuery:
    bounds = {name: _count(query, name) for name in _BOUNDS}
    filters = OwnerFilter(
        direction=query_choice(query, "direction", DIRECTIONS),
        status=query_choice(query, "status", STATUSES),
        user_id=_user_id(query),
        agent_id=_uuid(query, "agent_id"),
        agent_version_id=_uuid(query, "agent_version_id"),
        web_widget_id=_uuid(query, "web_widget_id"),
        custom_metadata=_metadata(query),
        **bounds,
    )
    channel = query_choice(query, "channel", CHANNELS)
    created_after_ms = query_instant(query, "created_after")
    created_before_ms = query_instant(query, "created_before")
    start = decode_cursor(query["cursor"]) if "cursor" in query else "+"
    return OwnerQuery(
        filters, start, parse_limit(query), created_after_ms, created_before_ms,
        channel in (None, "webrtc"),
    )
