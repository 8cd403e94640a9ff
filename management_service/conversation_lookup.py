"""Finding an organization's conversation by id: owner locator -> widget -> its organization.

Unknown, malformed and other organizations' ids all give None (404), so nothing reveals whether
another organization's conversation exists. Reused by the owner's read API (issue 18)."""

from __future__ import annotations

from typing import Any

import msgspec
from redis.asyncio import Redis

from common.errors import not_found
from common.ids import is_uuid
from common.redis_keys import RedisKeys


class _Owner(msgspec.Struct):
    organization_id: str


_OWNER = msgspec.json.Decoder(_Owner)


async def conversation_widget(
    redis: Redis, keys: RedisKeys, org_id: str, conversation_id: str
) -> str | None:
    """The id of the widget that holds the organization's conversation, or None."""
    if not is_uuid(conversation_id):
        return None
    raw: Any = await redis.get(keys.conversation_owner(conversation_id))
    if raw is None:
        return None
    widget_id: str = raw.decode()
    widget = await redis.get(keys.widget(widget_id))
    if widget is None or _OWNER.decode(widget).organization_id != org_id:
        return None
    return widget_id


async def conversation_widget_or_404(
    redis: Redis, keys: RedisKeys, org_id: str, conversation_id: str
) -> str:
    """As ``conversation_widget``, for a route naming the conversation: None is a 404."""
    widget_id = await conversation_widget(redis, keys, org_id, conversation_id)
    if widget_id is None:
        raise not_found("Conversation not found")
    return widget_id
