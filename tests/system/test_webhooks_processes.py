"""Webhook delivery workers as real processes (``python -m management_service.webhooks``) on a
real redis-server, and the whole flow on the 3-master Redis Cluster, against a receiver on
loopback that verifies every delivery with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.webhooks import EVENT_TYPES, StoredDelivery
from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess, free_port
from management_service.webhooks.clock import ManualClock
from management_service.webhooks.stats import Stats
from management_service.webhooks.store import delivery_id
from management_service.webhooks.worker import Worker
from tests.support.paths import ROOT
from tests.support.polling import eventually
from tests.support.settings import make_settings
from tests.support.webhooks import Received, Receiver, load_endpoint, publish, put_endpoint

SHARDS = 8
EVENTS = 1000


def readyz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


class Workers:
    """Worker processes on one Redis: started, killed, and stopped at the end."""

    def __init__(self, redis_url: str) -> None:
        self.env = {
            **os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": "test",
            "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_LEASE_TTL": "1",
            "WEBHOOK_SHARDS": str(SHARDS), "SHUTDOWN_TIMEOUT": "2", "LOG_LEVEL": "WARNING",
        }
        self.procs: list[tuple[subprocess.Popen[bytes], int]] = []

    async def start(self) -> subprocess.Popen[bytes]:
        port = free_port()
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
            [sys.executable, "-m", "management_service.webhooks"], cwd=ROOT,
            env={**self.env, "PORT": str(port)}, stdin=subprocess.DEVNULL,
        )
        self.procs.append((proc, port))

        async def up() -> bool:
            assert proc.poll() is None, "the worker exited"
            return await asyncio.to_thread(readyz, port)

        await eventually(up, within=30)
        return proc

    def stop(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
async def workers(redis_proc: RedisProcess) -> AsyncIterator[Workers]:
    group = Workers(redis_proc.url)
    try:
        yield group
    finally:
        await asyncio.to_thread(group.stop)


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[Receiver, str]:
    recv = Receiver()
    server = await aiohttp_server(recv.app())
    return recv, f"http://127.0.0.1:{server.port}"


async def hook(redis: Any, keys: RedisKeys, recv: Receiver, base: str, org: str) -> Any:
    endpoint = await put_endpoint(redis, keys, org, "")
    endpoint = msgspec.structs.replace(endpoint, url=f"{base}/{endpoint.id}")
    await redis.set(keys.webhook(endpoint.id), msgspec.json.encode(endpoint))
    recv.secrets[endpoint.id] = [s.secret for s in endpoint.secrets]
    return endpoint


async def holders(redis: Any, keys: RedisKeys) -> Counter[bytes]:
    values = [await redis.get(keys.webhook_shard_lease(s)) for s in range(SHARDS)]
    return Counter(v for v in values if v is not None)


async def record(redis: Any, keys: RedisKeys, endpoint_id: str, event: str) -> StoredDelivery:
    raw = await redis.get(keys.webhook_delivery(endpoint_id, delivery_id(event, endpoint_id)))
    assert raw is not None
    return msgspec.json.decode(raw, type=StoredDelivery)


async def test_a_worker_killed_mid_delivery_is_taken_over_by_another(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Workers
) -> None:
    recv, base = receiver
    first = await workers.start()
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    release = asyncio.Event()

    async def hold_the_first(r: Received) -> int:
        if len(recv.of(endpoint.id)) == 1:
            await release.wait()  # the worker dies while this request is open
        return 200

    recv.answers[endpoint.id] = hold_the_first
    event = await publish(redis, keys, "conversation.ended", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 1), within=15)
    first.send_signal(signal.SIGKILL)
    first.wait()
    await workers.start()
    await eventually(lambda: _count(recv, endpoint.id, 2), within=15)
    release.set()

    async def succeeded() -> bool:
        return (await record(redis, keys, endpoint.id, event)).status == "succeeded"

    await eventually(succeeded, within=10)
    got = recv.of(endpoint.id)
    # The duplicate the crash forced: the same event, the same webhook-id, both verified.
    assert [r.event_id for r in got] == [event, event]
    assert all(r.verified for r in got)
    assert got[0].body == got[1].body


async def _count(recv: Receiver, path: str, n: int) -> bool:
    return len(recv.of(path)) >= n


@pytest.mark.timeout(180)
async def test_three_workers_deliver_a_thousand_events_exactly_once_in_order(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Workers
) -> None:
    recv, base = receiver
    for _ in range(3):
        await workers.start()

    async def balanced() -> bool:  # every worker owns shards, none owns more than its share
        counts = await holders(redis, keys)
        return len(counts) == 3 and sum(counts.values()) == SHARDS and max(counts.values()) <= 3

    await eventually(balanced, within=30)
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    conversations = [new_id() for _ in range(50)]
    sent: dict[str, tuple[str, int]] = {}
    for n in range(EVENTS):
        conv = conversations[n % len(conversations)]
        event = await publish(redis, keys, "conversation.in_progress", org, conversation_id=conv,
                              data={"conv": conv, "n": n})
        sent[event] = (conv, n)

    async def all_arrived() -> bool:
        return len({r.event_id for r in recv.of(endpoint.id)}) == EVENTS

    await eventually(all_arrived, within=120)
    await asyncio.sleep(1)  # time for a duplicate to show
    got = recv.of(endpoint.id)
    duplicates = len(got) - len({r.event_id for r in got})
    assert duplicates == 0  # no crash, so no duplicate
    assert all(r.verified for r in got)
    assert {r.event_id for r in got} == set(sent)
    for conv in conversations:
        numbers = [r.json["data"]["n"] for r in got if r.json["data"]["conv"] == conv]
        assert numbers == sorted(numbers) and len(numbers) == EVENTS // len(conversations)
    counts = await holders(redis, keys)
    assert len(counts) == 3  # the work was spread


@pytest.fixture
async def cluster_worker(
    redis_cluster: Any, prefix: str
) -> AsyncIterator[Callable[..., Any]]:
    async with AsyncExitStack() as stack:

        async def start(clock: ManualClock) -> Worker:
            settings = make_settings(
                "management", redis_cluster.url, redis_mode="cluster", redis_key_prefix=prefix,
                webhook_allow_private="true", webhook_lease_ttl="0.6", webhook_shards="6",
            )
            client = create_redis(settings)
            stack.push_async_callback(client.aclose)
            worker = Worker(settings, client, RedisKeys(prefix), Stats(), clock=clock)
            await worker.start()
            stack.push_async_callback(worker.stop, 0.5)

            async def settled() -> bool:
                return worker.ready and worker.fanout_task is not None

            await eventually(settled, within=15)
            return worker

        yield start


async def test_the_whole_flow_on_the_cluster(
    cluster: Any, prefix: str, receiver: tuple[Receiver, str], cluster_worker: Any
) -> None:
    recv, base = receiver
    keys = RedisKeys(prefix)
    clock = ManualClock(time.time_ns() // 1_000_000 - 60_000)
    await cluster_worker(clock)
    org = new_id()
    endpoint = await hook(cluster, keys, recv, base, org)
    failing = await hook(cluster, keys, recv, base, org)
    gone = await hook(cluster, keys, recv, base, new_id())
    recv.answers[failing.id] = lambda r: 500 if len(recv.of(failing.id)) == 1 else 200
    recv.answers[gone.id] = lambda r: 410
    conv = new_id()
    events = [
        await publish(cluster, keys, kind, org, conversation_id=conv, widget_id=new_id())
        for kind in EVENT_TYPES
    ]
    test = await publish(cluster, keys, "webhook.test", org, endpoint_id=endpoint.id, data={})
    await publish(cluster, keys, "conversation.started", gone.organization_id,
                  conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, len(events) + 1), within=15)
    got = [r.event_id for r in recv.of(endpoint.id)]
    assert [e for e in got if e != test] == events and test in got  # the conversation in order
    # The failing endpoint's first attempt failed: the rest of the conversation waits.
    await eventually(lambda: _count(recv, failing.id, 1), within=15)
    await asyncio.sleep(0.3)
    assert len(recv.of(failing.id)) == 1
    clock.advance(5)
    await eventually(lambda: _count(recv, failing.id, len(events) + 1), within=15)
    assert [r.event_id for r in recv.of(failing.id)] == [events[0], *events]

    async def disabled() -> bool:
        return not (await load_endpoint(cluster, keys, gone.id)).enabled

    await eventually(disabled, within=15)
    assert all(r.verified for r in recv.received)
    for event in events:
        assert (await record(cluster, keys, failing.id, event)).status == "succeeded"


async def test_sigterm_finishes_the_attempt_under_way_and_hands_everything_back(
    redis: Redis, keys: RedisKeys, receiver: tuple[Receiver, str], workers: Workers
) -> None:
    recv, base = receiver
    workers.env["WEBHOOK_LEASE_TTL"] = "30"  # a lease found free below was released, not expired
    first = await workers.start()
    org = new_id()
    endpoint = await hook(redis, keys, recv, base, org)
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(r: Received) -> int:
        arrived.set()
        await release.wait()
        return 200

    recv.answers[endpoint.id] = slow
    event = await publish(redis, keys, "conversation.started", org, conversation_id=new_id())
    await asyncio.wait_for(arrived.wait(), 15)
    first.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    assert first.poll() is None  # still draining: its attempt is under way
    release.set()
    assert await asyncio.to_thread(first.wait, 15) == 0
    assert (await record(redis, keys, endpoint.id, event)).status == "succeeded"
    leases = [keys.webhook_shard_lease(s) for s in range(SHARDS)]
    leases.append(keys.webhook_fanout_lease())
    assert [await redis.get(lease) for lease in leases] == [None] * len(leases)
    assert await redis.zcard(keys.webhook_workers()) == 0

    recv.answers.pop(endpoint.id)
    await workers.start()  # takes over at once: nothing is left leased
    later = await publish(redis, keys, "conversation.ended", org, conversation_id=new_id())
    await eventually(lambda: _count(recv, endpoint.id, 2), within=15)
    assert [r.event_id for r in recv.of(endpoint.id)] == [event, later]  # no duplicate
    assert all(r.verified for r in recv.received)
