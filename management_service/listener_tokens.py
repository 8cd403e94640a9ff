"""Live monitoring: a LiveKit token that lets an owner listen to a conversation in progress.

Minted with livekit-api's ``AccessToken`` (management is not a hot path): a hidden participant
(the visitor and the agent do not see it), subscribe-only (no audio, video or data of its own),
joining only the conversation's current room, for ``LISTENER_TOKEN_TTL`` seconds.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import msgspec
from livekit.api import AccessToken, VideoGrants
from redis.asyncio import Redis

from common.errors import ApiError
from common.redis_client import as_bytes
from common.redis_keys import RedisKeys


class ListenerToken(msgspec.Struct, kw_only=True):
    url: str
    token: str
    room: str


def listener_identity() -> str:
    # Random per token: two listeners never replace each other (LiveKit removes the older of
    # two participants with one identity), and nothing names the person listening.
    return f"listener-{secrets.token_hex(8)}"


def mint_listener_token(api_key: str, api_secret: str, room: str, ttl: int) -> str:
    grants = VideoGrants(
        room_join=True, room=room, hidden=True, can_subscribe=True, can_publish=False,
        can_publish_data=False, can_update_own_metadata=False,
    )
    return (
        AccessToken(api_key, api_secret)
        .with_identity(listener_identity())
        .with_name("Listener")
        .with_grants(grants)
        .with_ttl(timedelta(seconds=ttl))
        .to_jwt()
    )


async def current_room(
    redis: Redis, keys: RedisKeys, widget_id: str, conversation_id: str
) -> str:
    """The room of a conversation in progress: 404 when gone, 409 in any other status."""
    # `s`: the status (common/conversation_record.py)
    raw_status, room = await redis.hmget(
        keys.conversation(widget_id, conversation_id), "s", "room"
    )
    if raw_status is None:
        raise ApiError(404, "Conversation not found")
    status = as_bytes(raw_status).decode()
    if status != "in_progress" or not room:
        raise ApiError(409, f"Only a conversation in progress can be listened to ({status})")
    value: Any = room
    return str(value.decode())
