"""Starting and resuming a widget's WEBRTC conversation: the rules, the record, the credentials."""

from __future__ import annotations

from typing import Any

import msgspec

from common.errors import ApiError
from common.ids import new_id, random_hex
from common.lifecycle.events import new_event_id, outbox_value
from common.lifecycle.lifecycle import LIVEKIT_LEEWAY_MS, Lifecycle
from common.models.conversation import (
    TERMINAL_STATUSES,
    ConnectionDetails,
    ConversationStart,
    ConversationStarted,
    ConversationSummary,
)
from common.models.widget_config import effective_retention
from common.timeutil import iso_from_ms, now_ms
from common.validation import invalid
from runtime_service.agent_versions import AgentVersionSource, Dispatch
from runtime_service.conversations import ConversationStore, StartRecord
from runtime_service.livekit_tokens import TokenMinter
from runtime_service.public_widget import PublicWidget
from runtime_service.start_metadata import check_start_metadata

MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_DEPTH = 5
# Written by the feedback endpoint only; a visitor must not be able to pre-fill it.
RESERVED_METADATA_KEYS = frozenset({"feedback_form"})

_ENCODE = msgspec.json.Encoder().encode


def nested_deeper_than(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether objects/arrays nest more than ``limit`` levels (``value`` itself is level 1).

    Iterative and stops at the limit: a recursive walk would hit Python's recursion limit (a
    500) on a few hundred levels, which fit easily in a request body.
    """
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        for child in container.values() if isinstance(container, dict) else container:
            if isinstance(child, dict | list):
                if depth == limit:
                    return True
                stack.append((child, depth + 1))
    return False


def encode_metadata(metadata: dict[str, Any]) -> bytes:
    """The visitor's ``custom_metadata``, checked and serialized (422 when it breaks a cap)."""
    if not metadata:  # what a widget without a pre-conversation form sends
        return b"{}"
    loc: list[str | int] = ["body", "custom_metadata"]
    for key in RESERVED_METADATA_KEYS & metadata.keys():
        raise invalid([*loc, key], f"`{key}` is reserved")
    if nested_deeper_than(metadata, MAX_METADATA_DEPTH):
        raise invalid(loc, f"Nesting deeper than {MAX_METADATA_DEPTH} levels")
    encoded = _ENCODE(metadata)
    if len(encoded) > MAX_METADATA_BYTES:
        raise invalid(loc, f"Larger than {MAX_METADATA_BYTES} bytes as JSON")
    return encoded


def new_room(conversation_id: str) -> str:
    # A fresh room on every start and resume: LiveKit dispatches a token's agents only when
    # the room is created, and a reused room could still hold the previous session.
    return f"ww-{conversation_id}-{random_hex()[:8]}"


def identity_of(conversation: ConversationSummary) -> str:
    return f"visitor-{conversation.id}"


def dispatch_metadata(conversation: ConversationSummary, locale: str | None = None) -> str:
    """What the dispatched agent learns about the session (no visitor-supplied metadata but
    the widget's language, validated as a BCP 47 tag)."""
    extra = {"locale": locale} if locale else {}
    return _ENCODE({
        "conversation_id": conversation.id,
        "web_widget_id": conversation.web_widget_id,
        "organization_id": conversation.organization_id,
        "agent_id": conversation.agent_id,
        "agent_version_id": conversation.agent_version_id,
        "user_id": conversation.user_id,
        **extra,
    }).decode()


class ConversationStarter:
    """Start and resume, over the stores a pod owns."""

    def __init__(
        self,
        versions: AgentVersionSource,
        store: ConversationStore,
        minter: TokenMinter,
        livekit_url: str,
        lifecycle: Lifecycle,
    ) -> None:
        self.lifecycle = lifecycle
        self.versions = versions
        self.store = store
        self.minter = minter
        self.livekit_url = livekit_url
        self.resumed = 0

    async def published_version(self, agent_id: str, version_id: str) -> Dispatch:
        dispatch = await self.versions.get(agent_id, version_id)
        if dispatch is None or not dispatch.published:
            raise ApiError(409, "The widget's agent version is not published")
        return dispatch

    async def start(self, widget: PublicWidget, body: ConversationStart) -> ConversationStarted:
        metadata = encode_metadata(body.custom_metadata)
        check_start_metadata(body.custom_metadata, widget.pre_conversation_fields)
        if not widget.published:
            raise ApiError(409, "The widget is not published")
        # A pod holds the published versions it served: most starts find theirs without a
        # coroutine (hit returns published versions only).
        version = widget.agent_id, widget.agent_version_id
        dispatch = self.versions.hit(*version) or await self.published_version(*version)
        created_ms = now_ms()
        now = iso_from_ms(created_ms)
        conversation = ConversationSummary(
            id=new_id(), organization_id=widget.organization_id, direction="inbound",
            channel="webrtc", status="token_created", user_id=body.user_id,
            agent_id=widget.agent_id, agent_version_id=widget.agent_version_id,
            web_widget_id=widget.id, duration=None, user_turn_count=None,
            created_at=now, updated_at=now,
        )
        room = new_room(conversation.id)
        start = StartRecord(
            room=room, deadline_ms=self.deadline_ms(created_ms), event_id=new_event_id(),
            snapshot=outbox_value("conversation.started", "token_created", now),
        )
        retention = effective_retention(widget.retention_days, self.store.retention)
        await self.store.create(conversation, created_ms, metadata, start, retention)
        await self.store.publish_started(conversation, start, created_ms)
        return self._credentials(conversation, dispatch, room, body.locale)

    async def resume(
        self, widget: PublicWidget, conversation_id: str, user_id: str, locale: str | None = None
    ) -> ConversationStarted:
        if not widget.published:
            raise ApiError(409, "The widget is not published")
        conversation = await self.store.get(widget.id, conversation_id)
        if conversation is None:
            if await self.store.owner(conversation_id) not in (None, widget.id):
                raise ApiError(403, "The conversation belongs to another widget")
            raise ApiError(404, "Conversation not found")
        if conversation.user_id != user_id:
            raise ApiError(403, "The conversation belongs to another visitor")
        if conversation.status in TERMINAL_STATUSES:
            raise ApiError(409, f"The conversation has ended ({conversation.status})")
        # It continues on the version it started with (its record and the dispatch metadata
        # name that version), even if the widget now points at another one.
        version = conversation.agent_id, conversation.agent_version_id
        dispatch = self.versions.hit(*version) or await self.published_version(*version)
        # The new room becomes the current one (and the token deadline moves) through the
        # lifecycle script, which refuses a conversation that ended since it was read.
        room = new_room(conversation.id)
        now = now_ms()
        moved = await self.lifecycle.resume(
            widget.id, conversation_id, room, self.deadline_ms(now), now
        )
        if moved.outcome == "terminal":
            raise ApiError(409, f"The conversation has ended ({moved.status})")
        if moved.outcome == "not_found":
            raise ApiError(404, "Conversation not found")
        self.resumed += 1
        return self._credentials(moved.summary(), dispatch, room, locale)

    def deadline_ms(self, now: int) -> int:
        """When a token minted now can no longer join: its TTL plus LiveKit's leeway."""
        return now + self.minter.ttl * 1000 + LIVEKIT_LEEWAY_MS

    def _credentials(
        self,
        conversation: ConversationSummary,
        dispatch: Dispatch,
        room: str,
        locale: str | None = None,
    ) -> ConversationStarted:
        metadata = dispatch_metadata(conversation, locale)
        token = self.minter.mint(identity_of(conversation), room, dispatch.agent_name, metadata)
        return ConversationStarted(
            conversation=conversation,
            connection_details=ConnectionDetails(url=self.livekit_url, token=token, room=room),
            capabilities=dispatch.capabilities,
        )
