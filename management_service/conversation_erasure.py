"""Erasing conversations (the right to erasure): one conversation, one visitor's, or a deleted
widget's (management_service/widget_eraser.py drives those).

A conversation has keys in four kinds of slot: its widget's (the hash and the widget's indexes),
its organization's (the owner's indexes), a due-index shard (the lifecycle sweep) and its own
(the owner locator, and the erasure tombstone). No script spans them, so the order is what keeps
an erasure correct when it stops half way (docs/architecture.md "Erasure"):

1. the tombstone, first: from then on the webhook workers drop the conversation's pending
   deliveries, so nothing of it goes out after the answer;
2. the hash is read for what names the other entries (its index member and visitor);
3. the organization's entries and the due member;
4. the widget-slot script: the hash and the widget's indexes, together;
5. the owner locator, last: while it is there, a repeated call finds the conversation again and
   finishes the job (the hash, read at step 2, is still there until step 4 succeeded).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta
from redis.asyncio import Redis

from common.lifecycle.lifecycle import due_member, due_shard
from common.models.conversation import UserId
from common.models.types import UUIDStr
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys

ERASE = read_script(__file__, "conversation_erase.lua")


class ConversationErase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /core/conversations/erase`: one visitor's conversations."""

    user_id: Annotated[UserId, Meta(description=(
        "The visitor's exact `user_id` (as the widget sent it at the start)"
    ))]
    web_widget_id: Annotated[UUIDStr, Meta(description=(
        "Only this widget's conversations of the visitor; absent: the whole organization's"
    ))] | None = None


class ConversationsErased(msgspec.Struct, kw_only=True):
    """What one erase call did: call again while ``remaining`` is true."""

    erased: Annotated[int, Meta(ge=0, description=(
        "Conversations erased by this call (at most `CONVERSATION_ERASE_BATCH`)"
    ))]
    remaining: Annotated[bool, Meta(description=(
        "Whether the visitor still has conversations in scope: repeat the call until false"
    ))]


class ConversationEraser:
    def __init__(self, redis: Redis, keys: RedisKeys, tombstone_ttl: int) -> None:
        self.redis = redis
        self.keys = keys
        self.tombstone_ttl = tombstone_ttl
        self._erase = register(redis, ERASE)
        # Conversations erased, by what asked: delete, user, widget.
        self.erased: dict[str, int] = {"delete": 0, "user": 0, "widget": 0}

    async def erase(self, widget_id: str, conversation_id: str, via: str = "delete") -> bool:
        """Erase one conversation of the widget; False when its record was already gone (what
        could still point at it is removed all the same)."""
        keys = self.keys
        await self.redis.set(
            keys.conversation_erased(conversation_id), b"1", ex=self.tombstone_ttl
        )
        conv = keys.conversation(widget_id, conversation_id)
        # The organization, the visitor and the index member (common/conversation_record.py).
        fields: list[Any] = await self.redis.hmget(conv, ["o", "u", "ix"])
        raw_org, raw_user, raw_ix = fields
        async with self.redis.pipeline(transaction=False) as pipe:
            if raw_org is not None:
                member = raw_ix.decode()
                pipe.zrem(keys.org_conversations(raw_org.decode()), f"{member}:{widget_id}")
            pipe.zrem(keys.due_conversations(due_shard(conversation_id)),
                      due_member(widget_id, conversation_id))
            await pipe.execute()
        existed = False
        if raw_org is not None:
            existed = bool(await self._erase(keys=[
                conv, keys.user_conversations(widget_id, raw_user.decode()),
                *keys.conversation_indexes(widget_id),
                keys.rate_limit(widget_id, "feedback-conversation", conversation_id),
            ], args=[member]))
        await self.redis.delete(keys.conversation_owner(conversation_id))
        if existed:
            self.erased[via] += 1
        return existed

    async def erase_user(
        self, org_id: str, user_id: str, widget_id: str | None, limit: int
    ) -> ConversationsErased:
        """Erase up to ``limit`` of one visitor's conversations: in one widget, or in each of
        the organization's widgets in turn (their visitor indexes: an organization-wide one
        would cost a set per visitor). ``remaining``: whether a next call has work."""
        keys = self.keys
        widgets = [widget_id] if widget_id is not None else await self._org_widget_ids(org_id)
        erased = taken = 0  # bounded by the entries taken, expired ones included
        for owner in widgets:
            if taken >= limit:
                break
            index = keys.user_conversations(owner, user_id)
            members: list[Any] = await self.redis.zrange(index, 0, limit - taken - 1)
            taken += len(members)
            for raw in members:
                ix = raw.decode()
                if await self.erase(owner, ix.partition(":")[2], "user"):
                    erased += 1
                    continue
                # The record had already expired, so nothing named its entries for `erase`:
                # removed here, so that the next call does not see them again.
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.zrem(keys.org_conversations(org_id), f"{ix}:{owner}")
                    pipe.zrem(index, ix)
                    for status_index in keys.conversation_indexes(owner):
                        pipe.zrem(status_index, ix)
                    await pipe.execute()
        async with self.redis.pipeline(transaction=False) as pipe:
            for owner in widgets:
                pipe.exists(keys.user_conversations(owner, user_id))
            left = await pipe.execute()
        return ConversationsErased(erased=erased, remaining=any(left))

    async def _org_widget_ids(self, org_id: str) -> list[str]:
        """The organization's widgets (a deleted one's conversations are the widget eraser's)."""
        members: list[Any] = await self.redis.zrange(self.keys.org_widgets(org_id), 0, -1)
        return [raw.decode().partition(":")[2] for raw in members]
