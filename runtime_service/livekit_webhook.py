"""LiveKit's signed webhooks: verification, and what an event says about a conversation.

LiveKit signs each webhook with the API key and secret of the room tokens: the Authorization
header is a JWT (with or without ``Bearer ``) whose ``sha256`` claim is the body's hash.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from google.protobuf.json_format import ParseError
from livekit.api import TokenVerifier, WebhookReceiver
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from common.errors import ApiError
from common.lifecycle.lifecycle import WebhookFact

# The rooms this service hands out (runtime_service.conversation_start.new_room).
_ROOM = re.compile(r"ww-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-[0-9a-f]{8}")
USED_EVENTS = frozenset({
    "room_started", "room_finished", "participant_joined", "participant_left",
    "participant_connection_aborted",
})


class WebhookOutcomes(Counter[str]):
    """Webhooks by outcome: applied, duplicate, terminal, ignored, unknown_conversation,
    unauthorized, malformed (the metric ``livekit_webhooks``)."""


def webhook_receiver(api_key: str, api_secret: str) -> WebhookReceiver:
    return WebhookReceiver(TokenVerifier(api_key, api_secret))


def verify(receiver: WebhookReceiver, body: bytes, authorization: str | None) -> WebhookEvent:
    """The event, once its signature, body hash and expiry check out: else 401 (nothing is
    written), or 400 for a signed body that is not a webhook event."""
    if not authorization:
        raise ApiError(401, "Missing webhook signature")
    token = authorization.removeprefix("Bearer ").strip()
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "The body is not UTF-8") from None
    try:
        return receiver.receive(text, token)
    except ParseError:
        raise ApiError(400, "The body is not a LiveKit webhook event") from None
    except Exception:  # jwt's errors, "hash mismatch", a sha256 claim that is not base64
        raise ApiError(401, "Invalid webhook signature") from None


def conversation_of(room: str) -> str | None:
    match = _ROOM.fullmatch(room)
    return None if match is None else match.group(1)


def fact_of(event: WebhookEvent, body: bytes, now_s: int) -> tuple[str, WebhookFact] | None:
    """The conversation and the fact an event adds, or None when it is not ours to use."""
    if event.event not in USED_EVENTS:
        return None
    room = event.room.name
    conversation_id = conversation_of(room)
    if conversation_id is None:
        return None
    at = event.created_at or now_s
    who, sid = "other", ""
    if event.event.startswith("participant_"):
        participant = event.participant
        sid = participant.sid
        if participant.identity == f"visitor-{conversation_id}":
            who = "visitor"
        elif participant.kind == ParticipantInfo.Kind.AGENT:
            who = "agent"
        if event.event == "participant_joined" and participant.joined_at:
            at = participant.joined_at
    # LiveKit gives every event an id; a body without one is identified by its hash.
    event_id = event.id or "sha256:" + hashlib.sha256(body).hexdigest()
    return conversation_id, WebhookFact(
        event_id=event_id, kind=event.event, room=room, at=int(at), who=who, sid=sid
    )
