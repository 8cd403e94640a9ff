"""Starting conversations through the public runtime API, reading their tokens, and their stored
columns."""

from __future__ import annotations

from typing import Any

import msgspec
from livekit.api import TokenVerifier

from common.conversation_record import SAFE_FIELDS, stored_fields, summary_from
from common.models.conversation import ConversationSummary
from common.redis_keys import RedisKeys
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET

PREFIX = "/core/public/web-widgets"
VERIFIER = TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET)


async def start(client: Any, widget_id: str, **body: Any) -> Any:
    return await client.post(f"{PREFIX}/{widget_id}/conversations", json=body)


async def started_id(client: Any, widget_id: str, user_id: str = "u1") -> str:
    return (await (await start(client, widget_id, user_id=user_id)).json())["conversation"]["id"]


async def stored_doc(redis: Any, keys: RedisKeys, widget_id: str, cid: str) -> dict[str, Any]:
    """The stored safe columns as the API's document ({} when the conversation is gone)."""
    values = await redis.hmget(keys.conversation(widget_id, cid), SAFE_FIELDS)
    summary = summary_from(widget_id, cid, values)
    return {} if summary is None else msgspec.to_builtins(summary)


async def store_doc(redis: Any, keys: RedisKeys, doc: dict[str, Any], **fields: Any) -> None:
    """Write a conversation's safe columns from an API document, with other ``fields``."""
    summary = msgspec.convert(doc, ConversationSummary)
    await redis.hset(
        keys.conversation(summary.web_widget_id, summary.id),
        items=[*stored_fields(summary), *(x for pair in fields.items() for x in pair)],
    )
