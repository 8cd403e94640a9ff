"""The lifecycle script through its Python API, on a real redis-server and on the 3-master
cluster: every transition, idempotence, every ordering, resume, the sweep and the outbox."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from common.ids import new_id
from common.lifecycle.events import event_json, outbox_field, outbox_value
from common.lifecycle.lifecycle import (
    Lifecycle,
    WebhookFact,
    due_member,
    due_shard,
)
from common.models.conversation import INDEXED_STATUSES
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms
from tests.support.conversations import store_doc, stored_doc
from tests.support.events import stream_events

SETTLE = 2.0
# Seconds: the clock the tests move by hand, from the real time, since the stream's entry ids
# (which its trimming by age compares with `now`) are the server's clock.
T0 = int(time.time())
T0_MS = T0 * 1000
RETENTION = 3600


@pytest.fixture(params=["standalone", "cluster"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "standalone":
        proc = request.getfixturevalue("redis_proc")
        redis: Any = Redis.from_url(proc.url)
    else:
        redis = RedisCluster.from_url(request.getfixturevalue("redis_cluster").url)
    yield redis
    await redis.aclose()


@pytest.fixture
def keys() -> RedisKeys:
    return RedisKeys("t" + new_id()[:8])  # the cluster is shared: one key space per test


@pytest.fixture
async def life(client: Any, keys: RedisKeys) -> AsyncIterator[Lifecycle]:
    made = Lifecycle(client, keys, SETTLE, RETENTION)  # a batch of its own over the client
    yield made
    await made.batch.drain()  # what is in flight, before the client closes


class Conv:
    def __init__(self, life: Lifecycle, widget_id: str, cid: str) -> None:
        self.life, self.widget, self.id = life, widget_id, cid
        self.room = f"ww-{cid}-0000000a"

    def fact(self, kind: str, at: int, who: str = "other", sid: str = "", room: str = "",
             event_id: str = "") -> WebhookFact:
        return WebhookFact(
            event_id=event_id or f"EV_{kind}_{who}_{sid}_{at}_{room or self.room}",
            kind=kind, room=room or self.room, at=at, who=who, sid=sid,
        )

    async def send(self, fact: WebhookFact, now: float) -> Any:
        return await self.life.event(self.widget, self.id, fact, int(now * 1000))

    async def doc(self) -> dict[str, Any]:
        return await stored_doc(self.life.redis, self.life.keys, self.widget, self.id)


async def new_conversation(life: Lifecycle, deadline_s: int = T0 + 960) -> Conv:
    widget, cid = new_id(), new_id()
    conv = Conv(life, widget, cid)
    doc = {
        "id": cid, "organization_id": "org", "direction": "inbound", "channel": "webrtc",
        "status": "token_created", "user_id": "u1", "agent_id": "a", "agent_version_id": "v",
        "web_widget_id": widget, "duration": None, "user_turn_count": None,
        "created_at": iso_from_ms(T0_MS), "updated_at": iso_from_ms(T0_MS),
    }
    await store_doc(
        life.redis, life.keys, doc, ix=f"{T0_MS:013d}:{cid}", room=conv.room,
        deadline=deadline_s * 1000,
    )
    return conv


def standard_events(conv: Conv) -> list[WebhookFact]:
    """A realistic call: the room starts, the visitor and the agent join, both leave, it ends."""
    return [
        conv.fact("room_started", T0 + 1),
        conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"),
        conv.fact("participant_joined", T0 + 2, "agent", "PA_a"),
        conv.fact("participant_left", T0 + 31, "visitor", "PA_v"),
        conv.fact("participant_left", T0 + 32, "agent", "PA_a"),
        conv.fact("room_finished", T0 + 33),
    ]


async def stream(life: Lifecycle) -> list[dict[str, Any]]:
    return await stream_events(life.redis, life.keys)


async def test_visitor_joining_is_in_progress_with_an_event(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    result = await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    assert result.status == "in_progress"
    assert (await conv.doc())["status"] == "in_progress"
    events = await stream(life)
    assert [e["type"] for e in events] == ["conversation.in_progress"]
    assert events[0]["conversation_id"] == conv.id
    assert events[0]["web_widget_id"] == conv.widget
    assert events[0]["event"]["data"]["status"] == "in_progress"
    # Published: nothing left in the outbox once its HDEL, which the call does not wait for,
    # is done.
    await life.batch.drain()
    fields = await life.redis.hkeys(life.keys.conversation(conv.widget, conv.id))
    assert not [f for f in fields if f.startswith(b"outbox:")]


async def test_the_status_indexes_follow_every_transition(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    key, member = life.keys.conversation(conv.widget, conv.id), f"{T0_MS:013d}:{conv.id}"
    await life.redis.hset(key, "ix", member)
    await life.redis.expire(key, RETENTION)
    index = functools.partial(life.keys.conversations_by_status, conv.widget)
    await life.redis.zadd(index("token_created"), {member: 0})
    # A member past this conversation's retention, left in the index it moves to: trimmed.
    stale = f"{T0_MS - RETENTION * 1000 - 5000:013d}:{new_id()}"
    await life.redis.zadd(index("completed"), {stale: 0})

    async def where() -> list[str]:
        scores = [await life.redis.zscore(index(s), member) for s in INDEXED_STATUSES]
        return [s for s, score in zip(INDEXED_STATUSES, scores, strict=True) if score is not None]

    events = standard_events(conv)
    await conv.send(events[1], events[1].at)
    assert await where() == ["in_progress"]
    for fact in events[2:]:
        await conv.send(fact, fact.at)
    await life.sweep(int((T0 + 33 + SETTLE) * 1000))
    assert await where() == ["completed"]
    assert await life.redis.zrange(index("completed"), 0, -1) == [member.encode()]
    assert 0 < await life.redis.pttl(index("completed")) <= RETENTION * 1000


async def test_a_call_with_an_agent_completes_after_the_settle_time(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    for fact in standard_events(conv):
        result = await conv.send(fact, fact.at)
    assert result.status == "in_progress"  # the finish is not final before the settle time
    assert result.due_ms == (T0 + 33) * 1000 + SETTLE * 1000
    await life.sweep(int((T0 + 33 + SETTLE) * 1000))
    doc = await conv.doc()
    assert (doc["status"], doc["duration"]) == ("completed", 30)
    ended = [e for e in await stream(life) if e["type"] == "conversation.ended"]
    assert len(ended) == 1
    assert ended[0]["event"]["data"]["duration"] == 30


async def test_no_agent_is_failed(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    await conv.send(conv.fact("room_finished", T0 + 20), T0 + 20)
    await life.sweep(int((T0 + 20 + SETTLE) * 1000))
    doc = await conv.doc()
    assert (doc["status"], doc["duration"]) == ("failed", 19)


async def test_an_unused_token_is_cancelled_by_the_sweep_after_its_deadline(
    life: Lifecycle,
) -> None:
    conv = await new_conversation(life, deadline_s=T0 + 100)
    await life.resume(conv.widget, conv.id, conv.room, (T0 + 100) * 1000, T0_MS)
    await life.sweep((T0 + 99) * 1000)
    assert (await conv.doc())["status"] == "token_created"
    await life.sweep(int((T0 + 100 + SETTLE) * 1000))
    doc = await conv.doc()
    assert (doc["status"], doc["duration"]) == ("cancelled", 0)
    assert [e["type"] for e in await stream(life)] == ["conversation.ended"]
    # Done with: off the due index.
    shard = life.keys.due_conversations(due_shard(conv.id))
    assert await life.redis.zscore(shard, due_member(conv.widget, conv.id)) is None


async def test_an_agent_alone_in_the_room_is_cancelled(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    await conv.send(conv.fact("participant_joined", T0 + 2, "agent", "PA_a"), T0 + 2)
    await conv.send(conv.fact("room_finished", T0 + 40), T0 + 40)
    await life.sweep(int((T0 + 40 + SETTLE) * 1000))
    assert (await conv.doc())["status"] == "cancelled"


async def test_terminal_never_changes(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    await conv.send(conv.fact("room_finished", T0 + 5), T0 + 5)
    await life.sweep(int((T0 + 5 + SETTLE) * 1000))
    assert (await conv.doc())["status"] == "failed"
    late = await conv.send(conv.fact("participant_joined", T0 + 1, "agent", "PA_a"), T0 + 50)
    assert late.outcome == "terminal"
    resumed = await life.resume(conv.widget, conv.id, "ww-x", T0_MS, (T0 + 50) * 1000)
    assert resumed.outcome == "terminal"
    assert (await conv.doc())["status"] == "failed"


async def test_the_same_event_fifty_times_concurrently_is_one_change(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    fact = conv.fact("participant_joined", T0 + 1, "visitor", "PA_v")
    results = await asyncio.gather(*[conv.send(fact, T0 + 1) for _ in range(50)])
    assert sorted(r.outcome for r in results).count("ok") == 1
    assert [e["type"] for e in await stream(life)] == ["conversation.in_progress"]


async def test_every_ordering_gives_the_same_final_state(life: Lifecycle) -> None:
    # All 720 orderings of one call's six events, each on its own conversation (conversations
    # run concurrently, each one's events in its order): every one ends completed with the same
    # duration and exactly one ended event.
    orders = list(itertools.permutations(range(6)))

    async def deliver(order: tuple[int, ...]) -> Conv:
        conv = await new_conversation(life)
        events = standard_events(conv)
        for i in order:
            await conv.send(events[i], T0 + 33)  # all arrive within the settle time
        return conv

    convs: list[Conv] = []
    for chunk in range(0, len(orders), 60):
        convs += await asyncio.gather(*(deliver(order) for order in orders[chunk:chunk + 60]))
    await life.sweep(int((T0 + 33 + SETTLE) * 1000))
    for conv, order in zip(convs, orders, strict=True):
        doc = await conv.doc()
        assert (doc["status"], doc["duration"]) == ("completed", 30), order
    ended = [e for e in await stream(life) if e["type"] == "conversation.ended"]
    assert sorted(e["conversation_id"] for e in ended) == sorted(conv.id for conv in convs)


async def test_resume_mid_call_then_the_old_room_finishing_leaves_it_active(
    life: Lifecycle,
) -> None:
    conv = await new_conversation(life)
    old = conv.room
    await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    await conv.send(conv.fact("participant_joined", T0 + 1, "agent", "PA_a"), T0 + 1)
    new_room = f"ww-{conv.id}-0000000b"
    await life.resume(conv.widget, conv.id, new_room, (T0 + 1000) * 1000, (T0 + 10) * 1000)
    await conv.send(conv.fact("participant_left", T0 + 11, "visitor", "PA_v", room=old), T0 + 11)
    await conv.send(conv.fact("room_finished", T0 + 12, room=old), T0 + 12)
    await life.sweep((T0 + 100) * 1000)
    doc = await conv.doc()
    assert (doc["status"], doc["duration"]) == ("in_progress", 10)
    # The new room's call adds to the duration and ends the conversation.
    conv.room = new_room
    await conv.send(conv.fact("participant_joined", T0 + 13, "visitor", "PA_v2"), T0 + 13)
    await conv.send(conv.fact("participant_joined", T0 + 13, "agent", "PA_a2"), T0 + 13)
    await conv.send(conv.fact("room_finished", T0 + 23), T0 + 23)
    await life.sweep(int((T0 + 23 + SETTLE) * 1000))
    doc = await conv.doc()
    assert (doc["status"], doc["duration"]) == ("completed", 20)


async def test_a_lost_publication_is_published_by_the_sweep(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    # A crash between the script and the XADD: the script ran, nobody published.
    real = life.publish

    async def crash(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("died")

    life.publish = crash  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    life.publish = real  # type: ignore[method-assign]
    assert await stream(life) == []
    await life.sweep(int((T0 + 1 + SETTLE) * 1000))
    events = await stream(life)
    assert [e["type"] for e in events] == ["conversation.in_progress"]
    # Rendered from its snapshot: the event says what it said when it happened.
    event = events[0]["event"]
    assert event["timestamp"] == iso_from_ms((T0 + 1) * 1000)
    assert event["data"] == {
        **await conv.doc(), "status": "in_progress", "updated_at": iso_from_ms((T0 + 1) * 1000)
    }
    fields = await life.redis.hkeys(life.keys.conversation(conv.widget, conv.id))
    assert not [f for f in fields if f.startswith(b"outbox:")]


async def test_events_rendered_after_the_end_say_what_they_said_when_they_happened(
    life: Lifecycle,
) -> None:
    conv = await new_conversation(life)
    for fact in standard_events(conv):
        await conv.send(fact, fact.at)
    await life.sweep(int((T0 + 33 + SETTLE) * 1000) + 1)
    final = await conv.doc()
    assert final["status"] == "completed"
    events = [e["event"] for e in await stream(life)]
    assert [e["type"] for e in events] == ["conversation.in_progress", "conversation.ended"]
    joined = iso_from_ms((T0 + 1) * 1000)
    assert (events[0]["timestamp"], events[0]["data"]) == (
        joined, {**final, "status": "in_progress", "updated_at": joined, "duration": None}
    )
    assert events[1]["data"] == final


async def test_a_failed_due_index_write_fails_the_call_but_its_events_are_published(
    life: Lifecycle,
) -> None:
    # The ZADD and the script share a pipeline, so the script runs even when the ZADD fails
    # (here: the shard is not a sorted set). Its events are published; the call then fails,
    # so the caller's retry puts the conversation on the due index again.
    conv = await new_conversation(life)
    shard = life.keys.due_conversations(due_shard(conv.id))
    await life.redis.set(shard, "not a sorted set")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    assert (await conv.doc())["status"] == "in_progress"
    assert [e["type"] for e in await stream(life)] == ["conversation.in_progress"]
    await life.batch.drain()
    fields = await life.redis.hkeys(life.keys.conversation(conv.widget, conv.id))
    assert not [f for f in fields if f.startswith(b"outbox:")]
    await life.redis.delete(shard)
    retried = await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 2)
    assert retried.outcome == "duplicate"
    assert await life.redis.zscore(shard, due_member(conv.widget, conv.id)) is not None


async def test_an_outbox_entry_written_at_start_is_published_by_the_sweep(
    life: Lifecycle,
) -> None:
    conv = await new_conversation(life)
    key = life.keys.conversation(conv.widget, conv.id)
    started = await conv.doc()
    await life.redis.hset(key, outbox_field("evt_start"), outbox_value(
        "conversation.started", "token_created", started["created_at"]
    ))
    shard = life.keys.due_conversations(due_shard(conv.id))
    await life.redis.zadd(shard, {due_member(conv.widget, conv.id): T0_MS})
    await life.sweep(T0_MS)
    (published,) = await stream(life)
    assert (published["id"], published["type"]) == ("evt_start", "conversation.started")
    assert published["event"] == json.loads(event_json(
        "evt_start", "conversation.started", started["created_at"], started
    ))
    assert await life.redis.hget(key, outbox_field("evt_start")) is None


async def test_the_stream_is_trimmed_by_age(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    stream_key = life.keys.events_stream()
    # Old entries (ids are ms timestamps), many, so that MINID ~ can drop whole nodes.
    old = T0_MS - 2 * RETENTION * 1000
    async with life.redis.pipeline(transaction=False) as pipe:
        for i in range(500):
            pipe.xadd(stream_key, {"id": f"old{i}"}, id=f"{old + i}-0")
        await pipe.execute()
    await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    remaining = await life.redis.xlen(stream_key)
    assert remaining < 200  # approximate trimming keeps at most a partial node
    last = await life.redis.xrevrange(stream_key, count=1)
    assert last[0][1][b"type"] == b"conversation.in_progress"


async def test_end_completes_with_the_duration_so_far_and_is_idempotent(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    await conv.send(conv.fact("participant_joined", T0 + 1, "visitor", "PA_v"), T0 + 1)
    ended = await life.end(conv.widget, conv.id, (T0 + 11) * 1000)
    assert (ended.outcome, ended.status, ended.doc["duration"]) == ("ok", "completed", 10)
    again = await life.end(conv.widget, conv.id, (T0 + 20) * 1000)
    assert (again.outcome, again.doc["duration"]) == ("unchanged", 10)
    assert [e["type"] for e in await stream(life)] == [
        "conversation.in_progress", "conversation.ended",
    ]


async def test_report_bounds_and_grace(life: Lifecycle) -> None:
    conv = await new_conversation(life)
    item = {"role": "user", "text": "hi", "at": "2026-01-01T00:00:00Z"}
    ok = await life.report(conv.widget, conv.id, {"user_turn_count": 2, "transcript": [item]},
                           T0_MS, 3, 10_000, 60_000)
    assert (ok.outcome, ok.doc["user_turn_count"]) == ("ok", 2)
    full = await life.report(conv.widget, conv.id, {"transcript": [item] * 3}, T0_MS, 3,
                             10_000, 60_000)
    assert full.outcome == "too_large"
    await life.end(conv.widget, conv.id, T0_MS)
    late = await life.report(conv.widget, conv.id, {"summary": "s"}, T0_MS + 59_000, 3,
                             10_000, 60_000)
    assert late.outcome == "ok"
    too_late = await life.report(conv.widget, conv.id, {"summary": "s"}, T0_MS + 61_000, 3,
                                 10_000, 60_000)
    assert too_late.outcome == "terminal"
    turns = await life.report(conv.widget, conv.id, {"user_turn_count": 5}, T0_MS + 1, 3,
                              10_000, 60_000)
    assert turns.outcome == "terminal"
