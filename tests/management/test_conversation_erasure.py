"""Erasure (the right to erasure) and per-widget retention, on a real redis-server: DELETE of one
conversation, erase by visitor, a deleted widget's conversations erased by the background
eraser (driven here), and retention_days on the runtime's create."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.conversation import ConversationStart
from common.pagination import index_member
from common.redis_keys import RedisKeys
from common.timeutil import now_ms
from management_service.app import create_app as create_management
from management_service.appkeys import CONVERSATION_ERASER, WIDGET_ERASER
from management_service.widget_eraser import ABANDON_MS
from runtime_service.app import create_app as create_runtime
from runtime_service.appkeys import STARTER
from runtime_service.cache import to_public
from tests.support.erasure import mentions
from tests.support.polling import eventually
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget
from tests.support.settings import OrgFactory
from tests.support.widget_helpers import expect, issue

PREFIX = "/core/public/web-widgets"
MANAGE = ["conversations:manage"]
BATCH = 2
RECHECK = 600
TOMBSTONE = 4 * 24 * 3600


@pytest.fixture
async def runtime(aiohttp_client: Any, settings_factory: Any) -> Any:
    # The per-conversation feedback limiter on: its key names the conversation.
    return await aiohttp_client(create_runtime(settings_factory(
        "runtime", lifecycle_sweep_interval=3600, rate_limit_feedback_per_conversation="5/60",
    )))


@pytest.fixture
async def management(aiohttp_client: Any, settings_factory: Any) -> Any:
    # The background eraser is driven by the tests (run_once), never by its timer.
    return await aiohttp_client(create_management(settings_factory(
        "management", conversation_erase_batch=BATCH, widget_eraser_interval=3600,
        widget_eraser_recheck=RECHECK,
    )))


@pytest.fixture
async def org(org_with_key: OrgFactory) -> tuple[str, dict[str, str]]:
    return await org_with_key(MANAGE)


async def new_widget(redis: Redis, keys: RedisKeys, org_id: str, **config: Any) -> Any:
    version = await seed_agent_version(redis, keys, org_id)
    v1 = {**FEEDBACK_CONFIG["v1"], **config}
    widget = await seed_widget(redis, keys, version, config={"v1": v1})
    # In its organization's index, as the API's create puts it (erasure by visitor walks it).
    await redis.zadd(keys.org_widgets(org_id), {index_member(now_ms(), widget.id): 0})
    return widget


async def start(runtime: Any, widget_id: str, user_id: str = "u1") -> str:
    resp = await runtime.post(f"{PREFIX}/{widget_id}/conversations", json={"user_id": user_id})
    return str((await expect(resp, 200))["conversation"]["id"])


async def full_conversation(
    runtime: Any, management: Any, auth: dict[str, str], widget_id: str, user_id: str = "u1"
) -> str:
    """Started, with feedback, a report (summary, transcript) and ended: keys in every slot."""
    cid = await start(runtime, widget_id, user_id)
    resp = await runtime.post(f"{PREFIX}/{widget_id}/conversations/{cid}/feedback",
                              json={"data": {"rating": 4}})
    await expect(resp, 200)
    item = {"role": "user", "text": "hello", "at": "2026-12-04T10:00:00Z"}
    resp = await management.post(f"/core/conversations/{cid}/report", headers=auth,
                                 json={"summary": "Asked", "transcript": [item]})
    await expect(resp, 200)
    await expect(await management.post(f"/core/conversations/{cid}/end", headers=auth), 200)
    return cid


async def left_behind(redis: Redis, keys: RedisKeys, cid: str) -> dict[str, Any]:
    """What still names the conversation, but its tombstone and the events stream (whose
    entries age out with EVENTS_RETENTION; the tombstone stops their deliveries)."""
    exempt = frozenset({keys.conversation_erased(cid), keys.events_stream()})
    return await mentions(redis, "test", cid, exempt)


async def public_ids(runtime: Any, widget_id: str, user_id: str = "u1") -> set[str]:
    resp = await runtime.get(f"{PREFIX}/{widget_id}/conversations?user_id={user_id}&limit=100")
    return {item["id"] for item in await expect(resp, 200)}


async def org_members(redis: Redis, keys: RedisKeys, org_id: str) -> list[bytes]:
    return await redis.zrange(keys.org_conversations(org_id), 0, -1)


async def assert_erased(redis: Redis, keys: RedisKeys, cid: str) -> None:
    assert await left_behind(redis, keys, cid) == {}
    ttl = await redis.ttl(keys.conversation_erased(cid))
    assert TOMBSTONE - 60 < ttl <= TOMBSTONE


# --- DELETE /core/conversations/{id} -------------------------------------------------------------


async def test_delete_leaves_nothing_of_the_conversation(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    org_id, auth = org
    widget = await new_widget(redis, keys, org_id)
    cid = await full_conversation(runtime, management, auth, widget.id)
    kept = await full_conversation(runtime, management, auth, widget.id)
    # Before: the conversation is named in every slot (the check below can see it).
    found = await left_behind(redis, keys, cid)
    assert {keys.conversation(widget.id, cid), keys.conversation_owner(cid),
            keys.org_conversations(org_id),
            keys.rate_limit(widget.id, "feedback-conversation", cid)} <= set(found)
    assert set(keys.conversation_indexes(widget.id)) & set(found)  # its status's index
    assert await public_ids(runtime, widget.id) == {cid, kept}

    resp = await management.delete(f"/core/conversations/{cid}", headers=auth)
    assert resp.status == 204
    await assert_erased(redis, keys, cid)
    assert await public_ids(runtime, widget.id) == {kept}
    assert all(cid.encode() not in m for m in await org_members(redis, keys, org_id))
    # The other conversation is whole, and the erased one is unknown everywhere now.
    assert await redis.hget(keys.conversation(widget.id, kept), "summary") == b"Asked"
    assert keys.conversation(widget.id, kept) in await left_behind(redis, keys, kept)
    resp = await management.delete(f"/core/conversations/{cid}", headers=auth)
    await expect(resp, 404)
    resp = await management.post(f"/core/conversations/{cid}/end", headers=auth)
    await expect(resp, 404)
    resp = await runtime.post(f"{PREFIX}/{widget.id}/conversations",
                              json={"user_id": "u1", "conversation_id": cid})
    await expect(resp, 404)


class Broken(Exception):
    pass


@pytest.mark.parametrize("step", ["widget_slot", "locator"])
async def test_a_repeated_delete_finishes_what_a_failed_one_left(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis,
    keys: RedisKeys, monkeypatch: pytest.MonkeyPatch, step: str,
) -> None:
    org_id, auth = org
    widget = await new_widget(redis, keys, org_id)
    cid = await full_conversation(runtime, management, auth, widget.id)
    eraser = management.app[CONVERSATION_ERASER]

    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise Broken

    if step == "widget_slot":
        monkeypatch.setattr(eraser, "_erase", fail)
    else:
        real = eraser.redis.delete

        async def delete(*names: Any) -> Any:
            if names == (keys.conversation_owner(cid),):
                raise Broken
            return await real(*names)

        monkeypatch.setattr(eraser.redis, "delete", delete)
    with pytest.raises(Broken):
        await eraser.erase(widget.id, cid)
    # Stopped half way: the tombstone is written already (no delivery after this), and the
    # locator is still there, so the owner's repeat finds the conversation again.
    assert await redis.exists(keys.conversation_erased(cid))
    assert await redis.exists(keys.conversation_owner(cid))
    monkeypatch.undo()
    resp = await management.delete(f"/core/conversations/{cid}", headers=auth)
    assert resp.status == 204
    await assert_erased(redis, keys, cid)


async def test_delete_scope_and_organizations(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis,
    keys: RedisKeys, org_with_key: OrgFactory,
) -> None:
    org_id, auth = org
    widget = await new_widget(redis, keys, org_id)
    cid = await start(runtime, widget.id)
    _, other_org = await org_with_key(MANAGE)
    _, readers = await org_with_key(["conversations:read", "conversations:read_sensitive",
                                     "web_widgets:manage"])
    for headers, status in [(other_org, 404), (readers, 403)]:
        await expect(await management.delete(f"/core/conversations/{cid}", headers=headers),
                     status)
    for bad in ("not-a-uuid", new_id()):
        await expect(await management.delete(f"/core/conversations/{bad}", headers=auth), 404)
    assert await redis.exists(keys.conversation(widget.id, cid))
    assert not await redis.exists(keys.conversation_erased(cid))


# --- POST /core/conversations/erase --------------------------------------------------------------


async def erase(management: Any, auth: dict[str, str], **body: Any) -> Any:
    return await expect(await management.post("/core/conversations/erase", headers=auth,
                                               json=body), 200)


async def test_erase_a_visitor_across_widgets_in_bounded_calls(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    org_id, auth = org
    first = await new_widget(redis, keys, org_id)
    second = await new_widget(redis, keys, org_id)
    mine = [await full_conversation(runtime, management, auth, first.id),
            await start(runtime, first.id), await start(runtime, second.id)]
    theirs = await start(runtime, first.id, "u2")
    # BATCH (2) per call: 2, then the last one, then nothing.
    assert await erase(management, auth, user_id="u1") == {"erased": 2, "remaining": True}
    assert await erase(management, auth, user_id="u1") == {"erased": 1, "remaining": False}
    assert await erase(management, auth, user_id="u1") == {"erased": 0, "remaining": False}
    for cid in mine:
        await assert_erased(redis, keys, cid)
    assert await public_ids(runtime, first.id) == set()
    assert await public_ids(runtime, second.id) == set()
    assert not await redis.exists(keys.user_conversations(first.id, "u1"))
    assert not await redis.exists(keys.user_conversations(second.id, "u1"))
    listed = await redis.zrange(keys.org_conversations(org_id), 0, -1)
    assert [m.decode().split(":")[1] for m in listed] == [theirs]
    assert await public_ids(runtime, first.id, "u2") == {theirs}


async def test_erase_a_visitor_in_one_widget(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    org_id, auth = org
    first = await new_widget(redis, keys, org_id)
    second = await new_widget(redis, keys, org_id)
    here = [await start(runtime, first.id) for _ in range(3)]
    there = await start(runtime, second.id)
    assert await erase(management, auth, user_id="u1", web_widget_id=first.id) == {
        "erased": 2, "remaining": True}
    assert await erase(management, auth, user_id="u1", web_widget_id=first.id) == {
        "erased": 1, "remaining": False}
    for cid in here:
        await assert_erased(redis, keys, cid)
    assert await public_ids(runtime, second.id) == {there}
    members = await redis.zrange(keys.user_conversations(second.id, "u1"), 0, -1)
    assert [m.decode().split(":")[1] for m in members] == [there]


async def test_erase_a_visitor_whose_records_expired(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    """Index entries whose conversation already expired are removed too, and not counted."""
    org_id, auth = org
    widget = await new_widget(redis, keys, org_id)
    cid = await start(runtime, widget.id)
    await redis.delete(keys.conversation(widget.id, cid))
    assert await erase(management, auth, user_id="u1") == {"erased": 0, "remaining": False}
    await assert_erased(redis, keys, cid)


async def test_erase_refuses_bad_bodies_foreign_widgets_and_missing_scope(
    runtime: Any, management: Any, org: tuple[str, dict[str, str]], redis: Redis,
    keys: RedisKeys, org_with_key: OrgFactory,
) -> None:
    org_id, auth = org
    widget = await new_widget(redis, keys, org_id)
    cid = await start(runtime, widget.id)
    other_id, other = await org_with_key(MANAGE)
    foreign = await new_widget(redis, keys, other_id)
    url = "/core/conversations/erase"
    for body, loc in [
        ({}, ["body", "user_id"]),
        ({"user_id": ""}, ["body", "user_id"]),
        ({"user_id": "u1", "extra": 1}, ["body", "extra"]),
        ({"user_id": "u1", "web_widget_id": "nope"}, ["body", "web_widget_id"]),
        ({"user_id": ["u1"]}, ["body", "user_id"]),
    ]:
        body_error = await expect(await management.post(url, headers=auth, json=body), 422)
        assert issue(body_error)["loc"] == loc, body_error
    for widget_id in (foreign.id, new_id()):
        resp = await management.post(url, headers=auth,
                                     json={"user_id": "u1", "web_widget_id": widget_id})
        await expect(resp, 404)
    # Another organization erasing "u1" erases only its own (none).
    assert await erase(management, other, user_id="u1") == {"erased": 0, "remaining": False}
    _, readers = await org_with_key(["conversations:read_sensitive", "web_widgets:manage"])
    await expect(await management.post(url, headers=readers, json={"user_id": "u1"}), 403)
    assert await public_ids(runtime, widget.id) == {cid}


# --- a deleted widget --------------------------------------------------------------------------


async def widget_keys(redis: Redis, widget_id: str) -> list[bytes]:
    return [key async for key in redis.scan_iter(match=f"test:{{w:{widget_id}}}:*")]


async def test_deleting_a_widget_erases_its_conversations_and_a_straggler(
    runtime: Any, management: Any, org_with_key: OrgFactory, redis: Redis, keys: RedisKeys
) -> None:
    org_id, auth = await org_with_key()
    widget = await new_widget(redis, keys, org_id)
    other = await new_widget(redis, keys, org_id)
    cids = [await full_conversation(runtime, management, auth, widget.id)]
    cids += [await start(runtime, widget.id, f"u{i}") for i in range(4)]
    kept = await start(runtime, other.id)
    today = datetime.now(UTC).date().isoformat()
    await redis.hset(keys.widget_stats(widget.id, today), "started", 5)
    # What a runtime pod holds in its cache when the widget is deleted.
    cached = to_public(await redis.get(keys.widget(widget.id)))

    await expect_204(await management.delete(f"/core/web-widgets/{widget.id}", headers=auth))
    queue = keys.widget_erasures()
    assert await redis.zrange(queue, 0, -1) == [f"{org_id}:{widget.id}".encode()]
    eraser = management.app[WIDGET_ERASER]
    # Bounded steps (BATCH conversations each) until the first pass is through.
    assert await eraser.run_once() > 3
    for cid in cids:
        await assert_erased(redis, keys, cid)
    assert await widget_keys(redis, widget.id) == []
    assert eraser.jobs["finished"] == 0  # waiting for the second look
    deleted_at = int(await redis.hget(keys.widget_erasure(widget.id), "deleted_ms"))
    assert await redis.zscore(queue, f"{org_id}:{widget.id}") == deleted_at + RECHECK * 1000

    # A pod that has not dropped its cached copy yet starts a conversation on it.
    started = await runtime.app[STARTER].start(cached, ConversationStart(user_id="late"))
    straggler = started.conversation.id
    assert await redis.exists(keys.conversation(widget.id, straggler))
    assert await eraser.run_once() == 0  # not due before the delay
    assert await eraser.run_once(deleted_at + RECHECK * 1000) >= 1
    await assert_erased(redis, keys, straggler)
    assert await widget_keys(redis, widget.id) == []
    assert await redis.zcard(queue) == 0
    assert not await redis.exists(keys.widget_erasure(widget.id))
    assert eraser.jobs["finished"] == 1
    # The organization's other widget is untouched.
    assert await public_ids(runtime, other.id) == {kept}
    listed = [m.decode() for m in await redis.zrange(keys.org_conversations(org_id), 0, -1)]
    assert [m.split(":")[1] for m in listed] == [kept]
    metrics = await (await management.get("/metrics")).text()
    assert 'conversations_erased_total{via="widget"} 6.0' in metrics
    assert 'widget_erasures_total{outcome="finished"} 1.0' in metrics


async def expect_204(resp: Any) -> None:
    assert resp.status == 204, await resp.text()


async def test_the_eraser_waits_while_the_widget_exists_and_drops_a_failed_delete(
    runtime: Any, management: Any, org_with_key: OrgFactory, redis: Redis, keys: RedisKeys
) -> None:
    """The DELETE queues the job before it deletes the document: a job whose widget is still
    there erases nothing, and is dropped once the delete has clearly failed."""
    org_id, _ = await org_with_key()
    widget = await new_widget(redis, keys, org_id)
    cid = await start(runtime, widget.id)
    eraser = management.app[WIDGET_ERASER]
    now = now_ms()
    await eraser.queue.enqueue(org_id, widget.id, now, now)
    assert await eraser.run_once(now) == 1
    assert await public_ids(runtime, widget.id) == {cid}
    assert await redis.zscore(keys.widget_erasures(), f"{org_id}:{widget.id}") > now
    assert await eraser.run_once(now + ABANDON_MS + 10_000) == 1
    assert eraser.jobs["abandoned"] == 1
    assert await redis.zcard(keys.widget_erasures()) == 0
    assert await public_ids(runtime, widget.id) == {cid}


async def test_two_erasers_never_work_on_one_job_at_once(
    management: Any, redis: Redis, keys: RedisKeys
) -> None:
    eraser = management.app[WIDGET_ERASER]
    now = now_ms()
    await eraser.queue.enqueue(new_id(), new_id(), now, now)
    lease = now + 60_000
    member = await eraser.queue.claim(now, lease)
    assert member is not None
    # Claimed: nobody else gets it until the lease ends; a stale holder cannot save or end it.
    assert await eraser.queue.claim(now + 1, now + 1 + 60_000) is None
    assert await eraser.queue.claim(lease, lease + 60_000) == member
    assert not await eraser.queue.save(member, lease, now)
    assert not await eraser.queue.done(member, lease)
    assert await eraser.queue.done(member, lease + 60_000)


# --- retention ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(1, 86400), (3650, 30 * 86400), (None, 30 * 86400)])
async def test_retention_days_sets_the_conversations_ttl(
    runtime: Any, redis: Redis, keys: RedisKeys, days: int | None, expected: int
) -> None:
    org_id = new_id()
    config = {} if days is None else {"retention_days": days}
    widget = await new_widget(redis, keys, org_id, **config)
    now = now_ms()
    # Past the widget's retention (2 days old), within the service's (30 days).
    old = f"{now - 2 * 86400_000:013d}:{new_id()}"
    token_created = keys.conversations_by_status(widget.id, "token_created")
    await redis.zadd(token_created, {old: 0})
    await redis.zadd(keys.org_conversations(org_id), {f"{old}:{widget.id}": 0})
    cid = await start(runtime, widget.id)
    for key in (keys.conversation(widget.id, cid), keys.conversation_owner(cid)):
        assert expected - 60 < await redis.ttl(key) <= expected, key
    widget_index = [m.decode() for m in await redis.zrange(token_created, 0, -1)]
    assert (old in widget_index) == (expected > 2 * 86400)
    # The organization's index mixes widgets: trimmed by the service's retention only.
    assert await redis.zcard(keys.org_conversations(org_id)) == 2
    assert await redis.ttl(keys.org_conversations(org_id)) > 30 * 86400 - 60


async def test_lowering_the_retention_never_shortens_an_index(
    runtime: Any, redis: Redis, keys: RedisKeys
) -> None:
    widget = await new_widget(redis, keys, new_id())
    await start(runtime, widget.id)
    index = keys.conversations_by_status(widget.id, "token_created")
    assert await redis.ttl(index) > 29 * 86400
    stored = json.loads(await redis.get(keys.widget(widget.id)))
    stored["config"]["v1"]["retention_days"] = 1
    await redis.set(keys.widget(widget.id), json.dumps(stored))
    await runtime.app[STARTER].start(
        to_public(await redis.get(keys.widget(widget.id))), ConversationStart(user_id="u1"))
    assert await redis.ttl(index) > 29 * 86400


@pytest.mark.parametrize("value", [0, -1, 3651, "7", 1.5, True])
async def test_retention_days_is_validated(
    management_client: Any, org_with_key: OrgFactory, value: Any
) -> None:
    from tests.support.widget_helpers import make_version

    _, auth = await org_with_key(["agents:manage", "web_widgets:manage"])
    pair = await make_version(management_client, auth)
    resp = await management_client.post("/core/web-widgets", headers=auth, json={
        "agent_id": pair[0], "agent_version_id": pair[1],
        "config": {"v1": {"retention_days": value}},
    })
    body = await expect(resp, 422)
    assert issue(body)["loc"] == ["body", "config", "v1", "retention_days"]


async def test_retention_days_round_trips(
    management_client: Any, org_with_key: OrgFactory
) -> None:
    from tests.support.widget_helpers import create_widget, make_version

    _, auth = await org_with_key(["agents:manage", "web_widgets:manage"])
    pair = await make_version(management_client, auth)
    created = await create_widget(management_client, auth, pair,
                                  config={"v1": {"retention_days": 7}})
    assert created["config"]["v1"]["retention_days"] == 7



async def test_the_management_process_runs_the_eraser_by_itself(
    aiohttp_client: Any, settings_factory: Any, runtime: Any, org_with_key: OrgFactory,
    redis: Redis, keys: RedisKeys,
) -> None:
    """The cleanup context's task, on its own timer: a deleted widget's conversations go."""
    management = await aiohttp_client(create_management(settings_factory(
        "management", widget_eraser_interval=0.05, widget_eraser_recheck=0,
    )))
    org_id, auth = await org_with_key()
    widget = await new_widget(redis, keys, org_id)
    cids = [await start(runtime, widget.id) for _ in range(3)]
    await expect_204(await management.delete(f"/core/web-widgets/{widget.id}", headers=auth))

    async def done() -> bool:
        return not await redis.exists(keys.widget_erasures())

    await eventually(done, within=5.0)
    for cid in cids:
        await assert_erased(redis, keys, cid)
    assert management.app[WIDGET_ERASER].jobs["finished"] == 1
