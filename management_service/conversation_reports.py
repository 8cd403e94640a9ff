"""The agent's report and the end of a conversation (management), over the lifecycle script."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import aiohttp
import msgspec
from livekit.api import LiveKitAPI
from livekit.protocol.room import DeleteRoomRequest

from common.errors import ApiError
from common.lifecycle.lifecycle import Lifecycle, Outcome
from common.models.types import PATTERN_MESSAGES

log = logging.getLogger(__name__)

# The stored transcript's bounds (a JSON array in the conversation's hash): past either, 413.
MAX_TRANSCRIPT_ITEMS = 1000
MAX_TRANSCRIPT_BYTES = 256 * 1024
ROOM_DELETE_TIMEOUT = 5.0
# One report's share: small enough that a report one item past it still fits the 256 KiB body
# cap, so it is a clear 422 and not a 413.
MAX_REPORT_ITEMS = 50
MAX_TEXT = 4000


# An RFC 3339 date-time, as the agent's worker stamps each line.
_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$(?!\n)"
PATTERN_MESSAGES[_TIME] = "Expected a date-time such as 2026-01-01T10:00:00Z"
TranscriptTime = Annotated[str, msgspec.Meta(max_length=40, pattern=_TIME)]


class TranscriptItem(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: Literal["user", "agent"]
    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
    at: TranscriptTime


class ConversationReport(
    msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Any of these; an absent field is left as it is."""

    user_turn_count: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    summary: Annotated[str, msgspec.Meta(max_length=16_384)] | msgspec.UnsetType = msgspec.UNSET
    transcript: (
        Annotated[list[TranscriptItem], msgspec.Meta(max_length=MAX_REPORT_ITEMS)]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    ended_reason: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class ConversationEnded(msgspec.Struct, kw_only=True):
    conversation_id: str
    status: str
    duration: int | None
    summary: str | None


def checked(result: Outcome) -> Outcome:
    """The script's outcome as the API's answer: 404, 409, 413 or the outcome."""
    if result.outcome == "not_found":
        raise ApiError(404, "Conversation not found")
    if result.outcome == "terminal":
        raise ApiError(409, f"The conversation has ended ({result.status}); only a summary "
                       "may still be reported, for a short while after the end")
    if result.outcome == "too_large":
        raise ApiError(413, f"The transcript would exceed {MAX_TRANSCRIPT_ITEMS} items or "
                       f"{MAX_TRANSCRIPT_BYTES} bytes")
    return result


class RoomRemover:
    """Removes a LiveKit room through the server's Twirp API (RoomService.DeleteRoom)."""

    def __init__(self, url: str, api_key: str, api_secret: str) -> None:
        self.api = LiveKitAPI(
            url, api_key, api_secret,
            timeout=aiohttp.ClientTimeout(total=ROOM_DELETE_TIMEOUT), failover=False,
        )
        self.failures = 0

    async def remove(self, room: str) -> bool:
        try:
            await self.api.room.delete_room(DeleteRoomRequest(room=room))
        except Exception:
            # The end stands: LiveKit closes an empty room on its own.
            self.failures += 1
            log.warning("could not remove LiveKit room %s", room, exc_info=True)
            return False
        return True

    async def aclose(self) -> None:
        await self.api.aclose()


class ConversationEnds:
    def __init__(self, lifecycle: Lifecycle, remover: RoomRemover | None) -> None:
        self.lifecycle = lifecycle
        self.remover = remover

    async def end(self, widget_id: str, conversation_id: str, now_ms: int) -> ConversationEnded:
        result = checked(await self.lifecycle.end(widget_id, conversation_id, now_ms))
        if result.outcome == "ok" and self.remover is not None:
            room: Any = await self.lifecycle.redis.hget(
                self.lifecycle.keys.conversation(widget_id, conversation_id), "room"
            )
            if room:
                await self.remover.remove(room.decode())
        summary: Any = await self.lifecycle.redis.hget(
            self.lifecycle.keys.conversation(widget_id, conversation_id), "summary"
        )
        return ConversationEnded(
            conversation_id=conversation_id, status=result.status,
            duration=result.doc.get("duration"),
            summary=None if summary is None else summary.decode(),
        )
