"""The public conversation list's query string, checked and turned into a filter and a page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

from multidict import MultiMapping

from common.models.conversation import Status
from common.pagination import decode_cursor, parse_limit
from common.query_params import CHANNELS, query_choice, query_instant
from common.validation import invalid
from runtime_service.conversations import ConversationFilter

_STATUSES = frozenset(get_args(Status))
_USER_ID = re.compile(r"^[A-Za-z0-9_.:@+=-]{1,128}$(?!\n)")


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: ConversationFilter
    start: str
    limit: int
    # Widgets only start WEBRTC conversations: asking for another channel is an empty list.
    webrtc: bool


def parse_list_query(query: MultiMapping[str], *, visitor_only: bool = True) -> ListQuery:
    """``visitor_only`` (the widget's ``conversation_list`` is "visitor"): one visitor's own
    conversations, so ``user_id`` is required; otherwise every parameter is optional."""
    user_id = query.get("user_id")
    if user_id is not None and not _USER_ID.match(user_id):
        raise invalid(["query", "user_id"], "Invalid user id")
    channel = query_choice(query, "channel", CHANNELS) or "webrtc"
    filters = ConversationFilter(
        user_id=user_id,
        status=query_choice(query, "status", _STATUSES),
        created_after_ms=query_instant(query, "created_after"),
        created_before_ms=query_instant(query, "created_before"),
    )
    start = decode_cursor(query["cursor"]) if "cursor" in query else "+"
    limit = parse_limit(query)
    if user_id is None and visitor_only:
        raise invalid(
            ["query", "user_id"],
            "Field required: this widget lists only one visitor's conversations",
            "missing",
        )
    return ListQuery(filters, start, limit, channel == "webrtc")
