"""Seed data straight into Redis, for runtime tests that do not go through the management API."""

from __future__ import annotations

from typing import Any

import msgspec
from redis.asyncio import Redis

from common.ids import new_id
from common.models.agent import AgentCreate, AgentVersion
from common.models.events import EVENT_ENCODER, WidgetChanged
from common.models.widget import Widget
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms
from management_service.agents_store import AgentStore

FEEDBACK_CONFIG = {
    "v1": {
        "post_conversation_feedback": {
            "enabled": True,
            "thank_you_text": "Thanks!",
            "form": {
                "id": "fb",
                "fields": [
                    {"id": "rating", "type": "rating", "label": "Rating"},
                    {"id": "comment", "type": "textarea", "label": "Comment"},
                ],
            },
        }
    }
}


async def seed_agent_version(
    redis: Redis,
    keys: RedisKeys,
    org_id: str,
    *,
    published: bool = True,
    agent_name: str | None = "support-agent",
    vision: dict[str, bool] | None = None,
) -> AgentVersion:
    store = AgentStore(redis, keys)
    agent = await store.create_agent(org_id, AgentCreate(name="Support"))
    config: dict[str, Any] = {"vision": vision or {"enabled": False}}
    if agent_name:
        config["livekit_agent_name"] = agent_name
    version = await store.create_version(org_id, agent.id, config)
    if published:
        version = await store.publish_version(org_id, agent.id, str(version.version))
        assert version is not None
    return version


async def seed_widget(
    redis: Redis,
    keys: RedisKeys,
    version: AgentVersion,
    *,
    published: bool = True,
    domains: list[str] | None = None,
    config: dict[str, Any] | None = None,
    widget_id: str | None = None,
    publish_event: bool = True,
) -> Widget:
    """Write a widget as management would (document, then the invalidation event)."""
    now = iso_from_ms(now_ms())
    widget = Widget(
        id=widget_id or new_id(),
        organization_id=version.organization_id,
        agent_id=version.agent_id,
        agent_version_id=version.id,
        domains=domains or [],
        published=published,
        config=config if config is not None else {},
        created_at=now,
        updated_at=now,
    )
    await redis.set(keys.widget(widget.id), msgspec.json.encode(widget))
    if publish_event:
        event = WidgetChanged(widget_id=widget.id, op="upsert")
        await redis.publish(keys.invalidation_channel(), EVENT_ENCODER.encode(event))
    return widget
