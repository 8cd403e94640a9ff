"""The events stream from the runtime's start and feedback: published right away, and by the
sweep when the publication failed (the start never fails for it)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.lifecycle import publisher
from common.redis_keys import RedisKeys
from common.timeutil import now_ms
from runtime_service.app import create_app
from runtime_service.appkeys import LIFECYCLE
from tests.support.events import stream_events
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget

PREFIX = "/core/public/web-widgets"


@pytest.fixture
async def client(aiohttp_client: Any, settings_factory: Any) -> Any:
    return await aiohttp_client(create_app(settings_factory(
        "runtime", lifecycle_sweep_interval=3600, lifecycle_settle=0
    )))


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys) -> Any:
    version = await seed_agent_version(redis, keys, new_id())
    return await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)


async def stream(redis: Redis, keys: RedisKeys) -> list[dict[str, Any]]:
    return await stream_events(redis, keys)


async def test_start_and_feedback_are_on_the_stream(
    client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    resp = await client.post(f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u1"})
    conversation = (await resp.json())["conversation"]
    cid = conversation["id"]
    resp = await client.post(
        f"{PREFIX}/{widget.id}/conversations/{cid}/feedback", json={"data": {"rating": 5}}
    )
    assert resp.status == 200
    events = await stream(redis, keys)
    assert [e["type"] for e in events] == ["conversation.started", "feedback.submitted"]
    # On the stream as a snapshot, a few dozen bytes; rendered, the conversation as answered.
    assert "data" not in events[0] and len(events[0]["snapshot"]) < 64
    started = events[0]["event"]
    assert started["id"] == events[0]["id"]
    assert started["data"] == conversation
    assert started["timestamp"] == conversation["created_at"]
    assert events[0]["organization_id"] == widget.organization_id
    assert "data" not in events[1] and len(events[1]["snapshot"]) < 64
    feedback = events[1]["event"]
    assert feedback["data"]["conversation_id"] == cid
    assert feedback["data"]["organization_id"] == widget.organization_id
    assert feedback["data"]["feedback"]["data"] == {"rating": 5}
    assert feedback["timestamp"] == feedback["data"]["feedback"]["submitted_at"]
    assert events[1]["conversation_id"] == cid


async def test_a_failed_publication_does_not_fail_the_start_and_the_sweep_recovers_it(
    client: Any, widget: Any, redis: Redis, keys: RedisKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **options: Any) -> tuple[Any, ...]:
        return ("XADD-NOT-A-COMMAND",)

    monkeypatch.setattr(publisher, "xadd_command", broken)
    resp = await client.post(f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u1"})
    assert resp.status == 200
    answered = (await resp.json())["conversation"]
    cid = answered["id"]
    assert await stream(redis, keys) == []
    monkeypatch.undo()
    # Due at the token's deadline at the latest: the sweep publishes what the start could not.
    await client.app[LIFECYCLE].sweep(now_ms() + 3600_000)
    events = await stream(redis, keys)
    assert "conversation.started" in [e["type"] for e in events]
    assert all(e["conversation_id"] == cid for e in events)
    # Published after the sweep also cancelled it: the started event still says token_created.
    (started,) = [e["event"] for e in events if e["type"] == "conversation.started"]
    assert started["data"] == answered
