"""Benchmark data, written through the project's own stores before the services start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.owner_seed import OwnerData, seed_owner
from common.ids import new_id
from common.models.conversation import ConversationSummary
from common.models.widget import WidgetCreate
from common.redis_batch import RedisBatch
from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.settings import Settings
from common.timeutil import iso_from_ms, now_ms
from deploy.dev_run import WIDGET_CONFIG, ensure_dev_data
from management_service.agents_store import AgentStore
from management_service.widgets_store import WidgetStore
from runtime_service.conversations import ConversationStore

VISITOR = "bench-visitor"
_BATCH = 32  # within the client pool's connection limit
WIDGET_PAGE = 20  # the management list row's page


@dataclass(frozen=True)
class BenchData:
    api_key: str
    widget_id: str  # the public widget every runtime scenario uses
    managed_widget_id: str  # GET/PUT through management
    propagation_widget_id: str  # updated while 4 runtime processes watch it
    conversation_ids: list[str]  # fresh ones, for first feedback submissions
    owner: OwnerData  # an organization of many conversations, for the owner's API


def _conversation(
    widget_id: str, org_id: str, agent_id: str, version_id: str
) -> ConversationSummary:
    now = iso_from_ms(now_ms())
    return ConversationSummary(
        id=new_id(), organization_id=org_id, direction="inbound", channel="webrtc",
        status="token_created", user_id=VISITOR, agent_id=agent_id, agent_version_id=version_id,
        web_widget_id=widget_id, duration=None, user_turn_count=None,
        created_at=now, updated_at=now,
    )


async def seed(settings: Settings, conversations: int, owner_conversations: int) -> BenchData:
    dev, _ = await ensure_dev_data(settings, None)
    client = create_redis(settings)
    try:
        keys = RedisKeys(settings.redis_key_prefix)
        widgets = WidgetStore(client, keys, AgentStore(client, keys))
        extra = [
            await widgets.create(dev.organization_id, WidgetCreate(
                agent_id=dev.agent_id, agent_version_id=dev.agent_version_id,
                published=True, config=WIDGET_CONFIG,
            ))
            for _ in range(2)
        ]
        # A full management list page: the organization's widgets up to WIDGET_PAGE.
        listed = await client.zcard(keys.org_widgets(dev.organization_id))
        for _ in range(WIDGET_PAGE - listed):
            await widgets.create(dev.organization_id, WidgetCreate(
                agent_id=dev.agent_id, agent_version_id=dev.agent_version_id,
                published=True, config=WIDGET_CONFIG,
            ))
        store = ConversationStore(RedisBatch(client), keys, settings.conversation_retention)
        ids: list[str] = []
        for start in range(0, conversations, _BATCH):
            batch = [
                _conversation(dev.widget_id, dev.organization_id, dev.agent_id,
                              dev.agent_version_id)
                for _ in range(min(_BATCH, conversations - start))
            ]
            await asyncio.gather(*(store.create(c, now_ms(), b"{}") for c in batch))
            ids.extend(c.id for c in batch)
        owner = await seed_owner(
            client, keys, settings.conversation_retention, owner_conversations
        )
        return BenchData(dev.api_key, dev.widget_id, extra[0].id, extra[1].id, ids, owner)
    finally:
        await client.aclose()
