"""The webhook delivery worker in this process on a real redis-server, delivering to a real
receiver on loopback that verifies every request with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.webhooks import EVENT_TYPES, SigningSecret, StoredDelivery
from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.settings import Settings
from common.timeutil import ms_from_iso
from management_service.webhooks.clock import ManualClock
from management_service.webhooks.stats import Stats
from management_service.webhooks.store import delivery_id
from management_service.webhooks.worker import Worker
from tests.support.polling import eventually
from tests.support.resolver import FakeResolver
from tests.support.webhooks import (
    Received,
    Receiver,
    load_endpoint,
    new_secret,
    publish,
    put_endpoint,
)

# The fake clock starts 150 s in the past: a receiver accepts a timestamp 5 min either side,
# so a test can move the clock on by the first two retry steps (5 s, 300 s) and still verify.
CLOCK_START = -150_000


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[Receiver, str]:
    recv = Receiver()
    server = await aiohttp_server(recv.app())
    return recv, f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def workers(
    settings_factory: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    async with AsyncExitStack() as stack:

        async def start(
            clock: ManualClock | None = None, resolver: Any = None, **overrides: Any
        ) -> Worker:
            values = {
                "webhook_allow_private": "true", "webhook_lease_ttl": "0.6",
                "webhook_shards": "4", "webhook_timeout": "5", **overrides,
            }
            settings = settings_factory("management", **values)
            client = create_redis(settings)
            stack.push_async_callback(client.aclose)
            worker = Worker(
                settings, client, RedisKeys(settings.redis_key_prefix), Stats(), clock=clock,
                resolver=resolver,
            )
            await worker.start()
            stack.push_async_callback(_stop, worker)
            # Ready once it owns every shard it can, and reads the events stream.
            await eventually(lambda: _settled(worker), within=10)
            return worker

        yield start


async def _stop(worker: Worker) -> None:
    try:
        async with asyncio.timeout(10):
            await worker.stop(0.5)
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack()
        raise


async def _settled(worker: Worker) -> bool:
    """Balanced, and some worker reads the events stream."""
    return worker.ready and bool(await worker.redis.exists(worker.keys.webhook_fanout_lease()))


def manual_clock() -> ManualClock:
    return ManualClock(time.time_ns() // 1_000_000 + CLOCK_START)


async def delivery(
    redis: Redis, keys: RedisKeys, endpoint_id: str, event_id: str
) -> StoredDelivery:
    raw = await redis.get(keys.webhook_delivery(endpoint_id, delivery_id(event_id, endpoint_id)))
    assert raw is not None
    return msgspec.json.decode(raw, type=StoredDelivery)


async def attempts(redis: Redis, keys: RedisKeys, endpoint_id: str, event_id: str) -> int:
    """The delivery's attempts so far, -1 before the fan-out recorded it."""
    raw = await redis.get(keys.webhook_delivery(endpoint_id, delivery_id(event_id, endpoint_id)))
    return -1 if raw is None else msgspec.json.decode(raw, type=StoredDelivery).attempts


async def hook(
    redis: Redis, keys: RedisKeys, recv: Receiver, base: str, org: str, **kw: Any
) -> Any:
    endpoint = await put_endpoint(redis, keys, org, "", **kw)
    endpoint = msgspec.structs.replace(endpoint, url=f"{base}/{endpoint.id}")
    await redis.set(keys.webhook(endpoint.id), msgspec.json.encode(endpoint))
    recv.secrets[endpoint.id] = [s.secret for s in endpoint.secrets]
    return endpoint


async def test_every_event_type_is_delivered_signed(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    await workers()
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    other_org = await hook(redis, keys, recv, base, new_id())
    conversation, widget = new_id(), new_id()
    sent = {}
    for kind in EVENT_TYPES:
        data = {"id": conversation, "kind": kind, "n": [1, 2.5, None]}
        conv = conversation if kind.startswith(("conversation", "feedback")) else ""
        sent[await publish(
            redis, keys, kind, org, conversation_id=conv, widget_id=widget, data=data
        )] = (kind, data)
    test_id = await publish(redis, keys, "webhook.test", org, data={"test": True},
                            endpoint_id=endpoint.id)
    sent[test_id] = ("webhook.test", {"test": True})
    await eventually(lambda: _count(recv, endpoint.id, len(sent)), within=10)
    got = recv.of(endpoint.id)
    assert all(r.verified for r in got)
    assert {r.event_id for r in got} == set(sent)
    for r in got:
        kind, data = sent[r.event_id]
        body = r.json
        assert set(body) == {"type", "timestamp", "data"}
        assert (body["type"], body["data"]) == (kind, data)
        assert r.headers["content-type"] == "application/json"
        record = await delivery(redis, keys, endpoint.id, r.event_id)
        assert (record.status, record.attempts, record.last_status_code) == ("succeeded", 1, 200)
    assert recv.of(other_org.id) == []  # another organization's endpoint hears nothing
    # The deliveries index lists them all, members "<created_ms 13 digits>:<delivery_id>".
    members = await redis.zrange(keys.webhook_deliveries(endpoint.id), 0, -1)
    assert {m.decode().split(":")[1] for m in members} == {
        delivery_id(e, endpoint.id) for e in sent
    }
    assert all(len(m.decode().split(":")[0]) == 13 for m in members)


async def _count(recv: Receiver, path: str, n: int) -> bool:
    return len(recv.of(path)) >= n


async def test_the_events_filter_and_disabled_endpoints(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    await workers()
    org = new_id()
    ended_only = await hook(redis, keys, recv, base, org, events=["conversation.ended"])
    off = await hook(redis, keys, recv, base, org, enabled=False)
    every = await hook(redis, keys, recv, base, org)
    conv = new_id()
    await publish(redis, keys, "conversation.started", org, conversation_id=conv)
    ended = await publish(redis, keys, "conversation.ended", org, conversation_id=conv)
    await eventually(lambda: _count(recv, every.id, 2), within=10)
    await eventually(lambda: _count(recv, ended_only.id, 1), within=10)
    await asyncio.sleep(0.3)
    assert [r.event_id for r in recv.of(ended_only.id)] == [ended]
    assert recv.of(off.id) == []


async def test_a_500_is_retried_with_backoff(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    clock = manual_clock()
    worker = await workers(clock=clock)
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    statuses = iter([500, 503, 200])
    recv.answers[endpoint.id] = lambda r: next(statuses)
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 1), within=10)

    async def retrying(attempts: int) -> bool:
        record = await delivery(redis, keys, endpoint.id, event)
        return record.attempts == attempts and record.next_attempt_at is not None

    await eventually(lambda: retrying(1))
    first = await delivery(redis, keys, endpoint.id, event)
    assert (first.status, first.last_status_code) == ("pending", 500)
    assert first.last_error == "HTTP 500: nope"
    # The first retry step is 5 s, jitter only shortens it (to 80 % at least).
    wait = ms_from_iso(first.next_attempt_at or "") - clock.now_ms()
    assert 4000 <= wait <= 5000
    clock.advance(3.9)
    await asyncio.sleep(0.3)
    assert len(recv.of(endpoint.id)) == 1  # not before its time
    clock.advance(1.2)
    await eventually(lambda: _count(recv, endpoint.id, 2), within=5)
    await eventually(lambda: retrying(2))
    second = await delivery(redis, keys, endpoint.id, event)
    wait = ms_from_iso(second.next_attempt_at or "") - clock.now_ms()
    assert 240_000 <= wait <= 300_000  # the second step: 5 min
    clock.advance(300)
    await eventually(lambda: _count(recv, endpoint.id, 3), within=5)

    async def succeeded() -> bool:
        return (await delivery(redis, keys, endpoint.id, event)).status == "succeeded"

    await eventually(succeeded)
    got = recv.of(endpoint.id)
    assert all(r.verified for r in got)
    assert {r.event_id for r in got} == {event}  # the same webhook-id on every attempt
    record = await delivery(redis, keys, endpoint.id, event)
    assert (record.attempts, record.last_status_code, record.next_attempt_at) == (3, 200, None)
    assert worker.stats.outcomes["retried"] == 2 and worker.stats.outcomes["succeeded"] == 1


async def test_order_per_conversation_while_another_endpoint_fails(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    clock = manual_clock()
    await workers(clock=clock)
    org = new_id()
    healthy = await hook(redis, keys, recv, base, org)
    broken = await hook(redis, keys, recv, base, new_id())
    recv.answers[broken.id] = lambda r: 500
    # The healthy endpoint fails the first event of conversation A once: A's later events wait
    # behind it, conversation B's go on.
    first_a: dict[str, int] = {}

    def answer(r: Received) -> int:
        if r.json["data"]["conv"] == "a" and r.json["data"]["n"] == 0 and not first_a:
            first_a["failed"] = 1
            return 500
        return 200


    recv.answers[healthy.id] = answer
    conv_a, conv_b = new_id(), new_id()
    for n in range(5):
        for conv, name in ((conv_a, "a"), (conv_b, "b")):
            await publish(redis, keys, "conversation.in_progress", org, conversation_id=conv,
                          data={"conv": name, "n": n})
        await publish(redis, keys, "conversation.in_progress", broken.organization_id,
                      conversation_id=new_id(), data={"conv": "x", "n": n})

    def numbers(name: str) -> list[int]:
        return [r.json["data"]["n"] for r in recv.of(healthy.id)
                if r.json["data"]["conv"] == name]

    async def b_done() -> bool:
        return numbers("b") == [0, 1, 2, 3, 4]

    await eventually(b_done, within=10)
    assert numbers("a") == [0]  # parked behind its failed first event
    clock.advance(5)
    async def a_done() -> bool:
        return numbers("a") == [0, 0, 1, 2, 3, 4]

    await eventually(a_done, within=10)
    assert all(r.verified for r in recv.received)
    assert len(recv.of(broken.id)) >= 5  # every one of its conversations tried


async def test_deleted_endpoint_and_erased_conversation_drop_pending_deliveries(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    clock = manual_clock()
    worker = await workers(clock=clock)
    org = new_id()
    doomed = await hook(redis, keys, recv, base, org)
    erasing = await hook(redis, keys, recv, base, new_id())
    for endpoint in (doomed, erasing):
        recv.answers[endpoint.id] = lambda r: 500
    gone_event = await publish(redis, keys, "conversation.started", org,
                               conversation_id=new_id())
    erased_conv = new_id()
    erased_event = await publish(redis, keys, "conversation.started", erasing.organization_id,
                                 conversation_id=erased_conv)
    await eventually(lambda: _count(recv, doomed.id, 1), within=10)
    await eventually(lambda: _count(recv, erasing.id, 1), within=10)
    await redis.delete(keys.webhook(doomed.id))
    await redis.set(keys.conversation_erased(erased_conv), "1")
    clock.advance(5)

    async def dropped(endpoint_id: str, event: str) -> bool:
        return (await delivery(redis, keys, endpoint_id, event)).status == "dropped"

    await eventually(lambda: dropped(doomed.id, gone_event), within=5)
    await eventually(lambda: dropped(erasing.id, erased_event), within=5)
    assert (await delivery(redis, keys, doomed.id, gone_event)).last_error == "endpoint deleted"
    erased = await delivery(redis, keys, erasing.id, erased_event)
    assert erased.last_error == "conversation erased"
    assert len(recv.of(doomed.id)) == 1 and len(recv.of(erasing.id)) == 1  # never sent again
    assert worker.stats.outcomes["dropped"] == 2
    await eventually(lambda: _drained(redis, keys, worker))


async def _drained(redis: Redis, keys: RedisKeys, worker: Worker) -> bool:
    lengths = [await redis.xlen(keys.webhook_shard_stream(s))
               for s in range(worker.settings.webhook_shards)]
    return sum(lengths) == 0


async def test_410_disables_the_endpoint_at_once(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    worker = await workers()
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    recv.answers[endpoint.id] = lambda r: 410
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())

    async def disabled() -> bool:
        return not (await load_endpoint(redis, keys, endpoint.id)).enabled

    await eventually(disabled, within=10)
    stored = await load_endpoint(redis, keys, endpoint.id)
    assert stored.disabled_reason == "the endpoint answered 410 Gone"
    record = await delivery(redis, keys, endpoint.id, event)
    assert (record.status, record.attempts, record.last_status_code) == ("failed", 1, 410)
    assert worker.stats.disabled["gone"] == 1
    await publish(redis, keys, "conversation.ended", org, conversation_id=new_id())
    await asyncio.sleep(0.5)
    assert len(recv.of(endpoint.id)) == 1  # a disabled endpoint gets nothing more


async def test_an_exhausted_schedule_disables_the_endpoint_with_the_last_error(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    clock = manual_clock()
    worker = await workers(clock=clock, webhook_retry_schedule="1,2")
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    recv.answers[endpoint.id] = lambda r: 502
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    for n in (1, 2):
        await eventually(lambda n=n: _count(recv, endpoint.id, n), within=10)
        await asyncio.sleep(0.1)
        clock.advance(2)
    await eventually(lambda: _count(recv, endpoint.id, 3), within=10)

    async def failed() -> bool:
        return (await delivery(redis, keys, endpoint.id, event)).status == "failed"

    await eventually(failed)
    stored = await load_endpoint(redis, keys, endpoint.id)
    assert not stored.enabled
    assert stored.disabled_reason == "3 attempts failed; the last: HTTP 502: nope"
    assert worker.stats.disabled["exhausted"] == 1


async def test_rotation_signs_with_both_secrets_during_the_overlap_only(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    clock = manual_clock()
    await workers(clock=clock)
    org = new_id()
    old, new = new_secret(), new_secret()
    overlap_end = clock.now_ms() + 60_000
    endpoint = await hook(redis, keys, recv, base, org, secrets=[
        SigningSecret(secret=new), SigningSecret(secret=old, expires_ms=overlap_end),
    ])
    recv.secrets[endpoint.id] = [new, old]  # verified with each secret on its own
    await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 1), within=10)
    during = recv.of(endpoint.id)[0]
    assert during.verified and len(during.headers["webhook-signature"].split(" ")) == 2
    clock.advance(61)
    await publish(redis, keys, "conversation.ended", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 2), within=10)
    after = recv.of(endpoint.id)[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    recv.secrets[endpoint.id] = [new]
    assert recv.verify(endpoint.id, after.body, after.headers)
    recv.secrets[endpoint.id] = [old]
    assert not recv.verify(endpoint.id, after.body, after.headers)


async def test_egress_is_checked_at_every_delivery(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    """A name that was public at registration and now resolves to a private address is
    refused at delivery (DNS resolved anew, each address checked); link-local and metadata
    addresses are refused even where private ones are allowed."""
    recv, base = receiver
    port = base.rsplit(":", 1)[1]
    resolver = FakeResolver({
        "hooks.example.com": ["10.1.2.3"], "meta.example.com": ["169.254.169.254"],
        "fine.example.com": ["127.0.0.1"],
    })
    strict = await workers(resolver=resolver, webhook_allow_private="false")
    org = new_id()
    rebound = await put_endpoint(redis, keys, org, "https://hooks.example.com/x")
    plain = await put_endpoint(redis, keys, org, f"http://127.0.0.1:{port}/x")
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())

    async def refused(endpoint_id: str) -> bool:
        return (await attempts(redis, keys, endpoint_id, event)) == 1

    await eventually(lambda: refused(rebound.id), within=10)
    await eventually(lambda: refused(plain.id), within=10)
    record = await delivery(redis, keys, rebound.id, event)
    assert record.last_error is not None and "not public" in record.last_error
    assert record.last_status_code is None and record.status == "pending"  # retried later
    record = await delivery(redis, keys, plain.id, event)
    assert record.last_error is not None and "use https" in record.last_error
    await strict.stop(0)

    relaxed = await workers(resolver=resolver)  # WEBHOOK_ALLOW_PRIVATE=true
    org = new_id()
    metadata = await put_endpoint(redis, keys, org, f"http://meta.example.com:{port}/x")
    fine = await hook(redis, keys, recv, f"http://fine.example.com:{port}", org)
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, fine.id, 1), within=10)
    await eventually(lambda: refused(metadata.id), within=10)
    record = await delivery(redis, keys, metadata.id, event)
    assert record.last_error is not None and "not public" in record.last_error
    assert relaxed.ready


async def test_a_redirect_is_a_failure_and_never_followed(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    await workers()
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    recv.answers[endpoint.id] = lambda r: 307
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())

    async def tried() -> bool:
        return (await attempts(redis, keys, endpoint.id, event)) == 1

    await eventually(tried, within=10)
    record = await delivery(redis, keys, endpoint.id, event)
    assert record.last_status_code == 307 and record.status == "pending"
    assert record.last_error == "HTTP 307 (redirects are not followed): nope"
    assert len(recv.received) == 1


async def test_a_manual_retry_resends_the_same_delivery(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    recv, base = receiver
    await workers()
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 1), within=10)
    did = delivery_id(event, endpoint.id)

    async def status(expected: str, attempts: int) -> bool:
        record = await delivery(redis, keys, endpoint.id, event)
        return (record.status, record.attempts) == (expected, attempts)

    await eventually(lambda: status("succeeded", 1))
    await publish(redis, keys, "conversation.started", org, event_id=event, endpoint_id=endpoint.id,
                  retry_of=did, data={})
    await eventually(lambda: _count(recv, endpoint.id, 2), within=10)
    await eventually(lambda: status("succeeded", 2))
    first, again = recv.of(endpoint.id)
    assert again.verified and (again.event_id, again.body) == (first.event_id, first.body)


async def test_the_worker_process_app_serves_probes_and_documented_metrics(
    aiohttp_client: Any, settings_factory: Callable[..., Settings], redis: Redis,
    keys: RedisKeys, receiver: tuple[Receiver, str],
) -> None:
    import re

    from prometheus_client.parser import text_string_to_metric_families

    from management_service.webhooks.app import create_app
    from tests.support.paths import ROOT

    recv, base = receiver
    settings = settings_factory(
        "webhooks", webhook_allow_private="true", webhook_lease_ttl="0.6", webhook_shards="4"
    )
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/healthz")).status == 200

    async def ready() -> bool:
        return (await client.get("/readyz")).status == 200

    await eventually(ready, within=10)
    await eventually(lambda: _fanout_held(redis, keys), within=10)
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 1), within=10)
    text = await (await client.get("/metrics")).text()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    section = (ROOT / "docs" / "operations.md").read_text().split("## Metrics", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section.split("\n## ", 1)[0], re.M))
    assert names - documented == set()
    assert {"webhook_deliveries_total", "webhook_queue_depth"} <= names
    assert 'webhook_deliveries_total{outcome="succeeded"} 1.0' in text
    assert (await client.get("/nothing")).status == 404


async def _fanout_held(redis: Redis, keys: RedisKeys) -> bool:
    return bool(await redis.exists(keys.webhook_fanout_lease()))


async def test_a_joining_worker_takes_shards_over_with_their_parked_pairs(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any
) -> None:
    """Balancing hands shards over at once (parked pairs are not waited for); the new owner
    claims the pending entries and keeps each delivery's schedule: no attempt is repeated."""
    from management_service.webhooks.fanout import shard_of

    recv, base = receiver
    clock = manual_clock()
    first = await workers(clock=clock)
    assert len(first.shards) == 4
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    failing = {"on": True}
    recv.answers[endpoint.id] = lambda r: 500 if failing["on"] else 200
    by_shard: dict[int, str] = {}
    while len(by_shard) < 4:  # a conversation on every shard
        conv = new_id()
        by_shard.setdefault(shard_of(endpoint.id, conv, 4), conv)
    events = [
        await publish(redis, keys, "conversation.started", org, conversation_id=conv)
        for conv in by_shard.values()
    ]
    await eventually(lambda: _count(recv, endpoint.id, 4), within=10)
    for event in events:
        await eventually(lambda event=event: _parked(redis, keys, endpoint.id, event))
    second = await workers(clock=clock)

    async def shared() -> bool:
        return len(first.shards) == 2 and len(second.shards) == 2 and not first.leaving

    await eventually(shared, within=10)
    failing["on"] = False
    clock.advance(5)
    for event in events:
        async def done(event: str = event) -> bool:
            return (await delivery(redis, keys, endpoint.id, event)).status == "succeeded"

        await eventually(done, within=10)
        assert (await delivery(redis, keys, endpoint.id, event)).attempts == 2
    assert len(recv.of(endpoint.id)) == 8  # each sent twice: the failure and the success
    assert first.stats.outcomes["succeeded"] == 2 and second.stats.outcomes["succeeded"] == 2


async def _parked(redis: Redis, keys: RedisKeys, endpoint_id: str, event: str) -> bool:
    return (await attempts(redis, keys, endpoint_id, event)) == 1 and (
        await delivery(redis, keys, endpoint_id, event)
    ).next_attempt_at is not None


async def test_the_management_api_and_the_worker_close_the_loop(
    aiohttp_client: Any, settings_factory: Callable[..., Settings], redis: Redis,
    keys: RedisKeys, receiver: tuple[Receiver, str], workers: Any, org_with_key: Any,
) -> None:
    """An endpoint registered through /core/webhooks gets its test send, a conversation event
    and a manual retry (same webhook-id, same body), all verified with the secret the API showed
    once; the deliveries list shows them; deleting the endpoint drops what is still pending."""
    from management_service.app import create_app

    recv, base = receiver
    api = await aiohttp_client(create_app(
        settings_factory("management", webhook_allow_private="true")
    ))
    org, headers = await org_with_key()
    clock = manual_clock()
    await workers(clock=clock)
    resp = await api.post("/core/webhooks", json={"url": f"{base}/api"}, headers=headers)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    recv.secrets["api"] = [created["secret"]]
    endpoint = f"/core/webhooks/{created['id']}"

    resp = await api.post(f"{endpoint}/test", headers=headers)
    assert resp.status == 202
    test_id = (await resp.json())["event_id"]
    await eventually(lambda: _count(recv, "api", 1), within=10)
    (test,) = recv.of("api")
    assert test.verified and test.event_id == test_id and test.json["type"] == "webhook.test"

    conv = new_id()
    event = await publish(redis, keys, "conversation.ended", org, conversation_id=conv)
    await eventually(lambda: _count(recv, "api", 2), within=10)

    async def listed() -> list[dict[str, Any]]:
        resp = await api.get(f"{endpoint}/deliveries", headers=headers)
        assert resp.status == 200
        return await resp.json()  # type: ignore[no-any-return]

    async def all_succeeded() -> bool:
        items = await listed()
        return len(items) == 2 and all(d["status"] == "succeeded" for d in items)

    await eventually(all_succeeded)
    by_event = {d["event_id"]: d for d in await listed()}
    assert by_event[event]["event_type"] == "conversation.ended"
    resp = await api.post(
        f"{endpoint}/deliveries/{by_event[event]['id']}/retry", headers=headers
    )
    assert resp.status == 202, await resp.text()
    await eventually(lambda: _count(recv, "api", 3), within=10)
    first, again = recv.of("api")[1], recv.of("api")[2]
    assert again.verified and (again.event_id, again.body) == (first.event_id, first.body)

    recv.answers["api"] = lambda r: 500
    doomed = await publish(redis, keys, "conversation.ended", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, "api", 4), within=10)
    assert recv.of("api")[3].event_id == doomed
    assert (await api.delete(endpoint, headers=headers)).status == 204
    clock.advance(5)
    await eventually(lambda: _shards_empty(redis, keys, 4), within=10)
    await asyncio.sleep(0.2)
    assert len(recv.of("api")) == 4  # never sent again


async def _shards_empty(redis: Redis, keys: RedisKeys, shards: int) -> bool:
    return sum([await redis.xlen(keys.webhook_shard_stream(s)) for s in range(shards)]) == 0
