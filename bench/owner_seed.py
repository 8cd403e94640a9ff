"""An organization holding many conversations, for the owner's conversations API rows.

The conversations are written with pipelined commands in the format the runtime's create path
and the lifecycle script leave behind (docs/architecture.md): the hash (``doc``, ``meta``,
``ix``), the owner locator, the widget's status index, and the organization's index.
Going through ``ConversationStore.create`` one at a time would take minutes for 100 000.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from common.conversation_record import stored_fields
from common.ids import new_id
from common.models.agent import AgentCreate
from common.models.conversation import ConversationSummary
from common.models.widget import WidgetCreate
from common.pagination import index_member
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms
from management_service.agents_store import AgentStore
from management_service.credentials import CredentialStore
from management_service.widgets_store import WidgetStore

WIDGETS = 4
_CHUNK = 2000  # conversations per pipeline
# Ten in a row: mostly completed, as an organization's history is.
_STATUSES = ("completed",) * 6 + ("failed", "cancelled", "in_progress", "token_created")


@dataclass(frozen=True)
class OwnerData:
    api_key: str  # conversations:read
    conversation_id: str  # one of them, for the single GET


async def seed_owner(
    client: Redis, keys: RedisKeys, retention: int, conversations: int
) -> OwnerData:
    credentials = CredentialStore(client, keys)
    org = await credentials.create_org("Bench owner")
    token, _ = await credentials.issue("ak", ["conversations:read"], org_id=org.id)
    agents = AgentStore(client, keys)
    agent = await agents.create_agent(org.id, AgentCreate(name="Bench"))
    version = await agents.create_version(org.id, agent.id, {"livekit_agent_name": "bench"})
    widgets = WidgetStore(client, keys, agents)
    widget_ids = [
        (await widgets.create(org.id, WidgetCreate(
            agent_id=agent.id, agent_version_id=version.id, published=True,
        ))).id
        for _ in range(WIDGETS)
    ]
    # Spread over the last day; every fifth instant is shared by five conversations, so the
    # pages cross equal timestamps as real traffic does.
    start = now_ms() - 86_400_000
    last = ""
    for first in range(0, conversations, _CHUNK):
        async with client.pipeline(transaction=False) as pipe:
            for n in range(first, min(first + _CHUNK, conversations)):
                last = _write(pipe, keys, org.id, agent.id, version.id,
                              widget_ids[n % WIDGETS], start + n - n % 5, _STATUSES[n % 10],
                              retention)
            await pipe.execute()
    async with client.pipeline(transaction=False) as pipe:
        for widget_id in widget_ids:
            for status in set(_STATUSES):
                pipe.expire(keys.conversations_by_status(widget_id, status), retention)
        pipe.expire(keys.org_conversations(org.id), retention)
        await pipe.execute()
    return OwnerData(token, last)


def _write(
    pipe: Pipeline, keys: RedisKeys, org_id: str, agent_id: str, version_id: str,
    widget_id: str, created_ms: int, status: str, retention: int,
) -> str:
    cid, created = new_id(), iso_from_ms(created_ms)
    ended = status in ("completed", "failed", "cancelled")
    doc = ConversationSummary(
        id=cid, organization_id=org_id, direction="inbound", channel="webrtc", status=status,
        user_id=f"guest_{cid[:8]}", agent_id=agent_id, agent_version_id=version_id,
        web_widget_id=widget_id, duration=42 if ended else None,
        user_turn_count=3 if ended else None, created_at=created, updated_at=created,
    )
    member = index_member(created_ms, cid)
    conversation = keys.conversation(widget_id, cid)
    pipe.hset(conversation, items=["ix", member, *stored_fields(doc)])
    pipe.expire(conversation, retention)
    pipe.set(keys.conversation_owner(cid), widget_id, ex=retention)
    pipe.zadd(keys.conversations_by_status(widget_id, status), {member: 0})
    pipe.zadd(keys.org_conversations(org_id), {f"{member}:{widget_id}": 0})
    return cid
