"""Conversations started from a widget, and the public runtime request/response bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from common.models.agent import Capabilities
from common.models.types import PATTERN_MESSAGES, Locale, UUIDStr

Status = Literal[
    "token_created", "triggered", "ringing", "in_progress",
    "completed", "failed", "cancelled", "transferred", "unanswered",
]
# The statuses a webrtc conversation takes, each with a per-widget index (the lifecycle script
# moves a conversation between them); the others never occur here.
INDEXED_STATUSES = ("token_created", "in_progress", "completed", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "transferred", "unanswered"})

# Visitor ids are opaque strings chosen by the embed (guest ids start with "guest_").
USER_ID_PATTERN = r"^[A-Za-z0-9_.:@+=-]+$(?!\n)"
PATTERN_MESSAGES[USER_ID_PATTERN] = "Expected letters, digits or `_.:@+=-` only"
UserId = Annotated[str, Meta(min_length=1, max_length=128, pattern=USER_ID_PATTERN)]


class ConversationSummary(msgspec.Struct, kw_only=True):
    """The safe columns: what the public API returns (never ``custom_metadata``)."""

    id: str
    organization_id: str
    direction: Literal["inbound", "outbound"]
    channel: Literal["webrtc"]
    status: Status
    user_id: str
    agent_id: str
    agent_version_id: str
    web_widget_id: str
    duration: int | None
    user_turn_count: int | None
    created_at: str
    updated_at: str


class Conversation(ConversationSummary, kw_only=True):
    """The stored record. Feedback is stored beside it and merged into ``custom_metadata``."""

    custom_metadata: dict[str, Any]


# The owner's conversations API (management): the safe columns for `conversations:read`, and
# this shape for `conversations:read_sensitive`.
class OwnerConversation(ConversationSummary, kw_only=True):
    """The safe columns plus what only `conversations:read_sensitive` may read."""

    custom_metadata: dict[str, Any]
    summary: str | None
    # The stored JSON list, passed through as it is (written only by the validated report).
    transcript: msgspec.Raw | None


class ConversationStart(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    user_id: UserId
    custom_metadata: dict[str, Any] = {}
    conversation_id: UUIDStr | None = None
    # The language the widget shows (config.v1.locale or the browser's); handed to the agent in
    # the dispatch metadata so it can answer in kind. Not stored with the conversation.
    locale: Annotated[Locale, Meta(description=(
        "The widget's resolved language (BCP 47), passed to the agent as `locale` in the "
        "LiveKit dispatch metadata; not stored"
    ))] | None = None


class ConnectionDetails(msgspec.Struct, kw_only=True):
    url: str
    token: str
    room: str


class ConversationStarted(msgspec.Struct, kw_only=True):
    conversation: ConversationSummary
    connection_details: ConnectionDetails
    capabilities: Capabilities


class FeedbackSubmit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    data: dict[str, Any]


class FeedbackRecord(msgspec.Struct, kw_only=True):
    data: dict[str, Any]
    submitted_at: str


class OkStatus(msgspec.Struct, kw_only=True):
    status: Literal["ok"] = "ok"
