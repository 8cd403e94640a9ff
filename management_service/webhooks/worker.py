"""One worker process: its membership, the leases it holds and the loops they run.

Every ``WEBHOOK_LEASE_TTL / 3`` seconds a worker renews its heartbeat in the live-workers set
(dropping those whose heartbeat ran out), renews the leases it holds, and balances: it owns at
most ``ceil(WEBHOOK_SHARDS / live workers)`` shards, handing extra ones back (after the attempts
under way end) and taking free ones up to that share. Whoever gets the fan-out lease also reads
the events stream. A worker that dies holds nothing once its leases expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import zlib
from typing import Any

from aiohttp.abc import AbstractResolver
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from common.ids import random_hex
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys
from common.settings import Settings
from management_service.webhooks.clock import Clock, SystemClock
from management_service.webhooks.egress import build_session, webhook_egress_policy
from management_service.webhooks.fanout import FANOUT_CONSUMER, GROUP, Entry, Fanout
from management_service.webhooks.schedule import parse_schedule
from management_service.webhooks.shards import Delivering, Shard
from management_service.webhooks.stats import Stats
from management_service.webhooks.store import Store

log = logging.getLogger(__name__)

LEASE_SCRIPT = read_script(__file__, "lease.lua")
FANOUT_COUNT = 100
CANCEL_WAIT = 1.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{random_hex()[:8]}"


class Worker:
    def __init__(
        self, settings: Settings, redis: Redis, keys: RedisKeys, stats: Stats,
        clock: Clock | None = None, resolver: AbstractResolver | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = keys
        self.stats = stats
        self.clock = clock or SystemClock()
        self.resolver = resolver
        self.id = worker_id or new_worker_id()
        self.ttl_ms = int(settings.webhook_lease_ttl * 1000)
        self.interval = settings.webhook_lease_ttl / 3
        self.block_ms = max(int(min(1.0, settings.redis_timeout / 2, self.interval) * 1000), 10)
        self.store = Store(redis, keys, settings.webhook_delivery_retention)
        self.fanout = Fanout(redis, keys, self.store, settings.webhook_shards)
        self._lease = register(redis, LEASE_SCRIPT)
        self.shards: dict[int, tuple[Shard, asyncio.Task[None]]] = {}
        # Shards being handed back (their attempts under way finishing): leases still renewed.
        self.leaving: dict[int, asyncio.Task[None]] = {}
        self._balanced_at = time.monotonic()
        self.fanout_task: asyncio.Task[None] | None = None
        self.ready = False
        self._loop: asyncio.Task[None] | None = None
        self._delivering: Delivering | None = None

    # --- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        policy = webhook_egress_policy(self.settings)
        session = build_session(self.settings, policy, self.resolver)
        self._delivering = Delivering(
            redis=self.redis, keys=self.keys, store=self.store, session=session, policy=policy,
            clock=self.clock, schedule=parse_schedule(self.settings.webhook_retry_schedule),
            stats=self.stats, limit=asyncio.Semaphore(self.settings.webhook_concurrency),
            consumer=self.id, block_ms=self.block_ms,
        )
        await self.create_groups()
        self._loop = asyncio.create_task(self._membership())

    async def create_groups(self) -> None:
        """The consumer groups, made once: the events stream's from its end (a first worker
        delivers events from its start on, not the stream's past), the shards' from 0."""
        await _create_group(self.redis, self.keys.events_stream(), "$")
        for shard in range(self.settings.webhook_shards):
            await _create_group(self.redis, self.keys.webhook_shard_stream(shard), "0")

    async def stop(self, grace: float | None = None) -> None:
        """Hand everything back: attempts under way get ``grace`` seconds, then the leases go,
        so the other workers take the shards over at once."""
        grace = self.settings.shutdown_timeout if grace is None else grace
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        await self._stop_fanout()
        await asyncio.gather(
            *(self._release(shard, grace) for shard in list(self.shards)),
            *self.leaving.values(),
        )
        with contextlib.suppress(Exception):
            await self.redis.zrem(self.keys.webhook_workers(), self.id)
        if self._delivering is not None:
            await self._delivering.session.close()

    # --- membership and balancing -------------------------------------------------------------

    async def _membership(self) -> None:
        while True:
            try:
                await self.balance()
                self.ready = True
                self._balanced_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.ready = False
                log.exception("webhook worker %s: balancing failed", self.id)
                if time.monotonic() - self._balanced_at > self.settings.webhook_lease_ttl:
                    # The leases may have passed to others by now: stop working on them.
                    self._let_go()
            await asyncio.sleep(self.interval)

    async def balance(self) -> None:
        now = int(time.time() * 1000)
        workers = self.keys.webhook_workers()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(workers, {self.id: now + self.ttl_ms})
            pipe.zremrangebyscore(workers, "-inf", now)
            pipe.zcard(workers)
            live = max(int((await pipe.execute())[2]), 1)
        total = self.settings.webhook_shards
        share = math.ceil(total / live)
        for shard in list(self.shards):
            _, task = self.shards[shard]
            if task.done() or not await self._lease_op(shard, "renew"):
                log.info("webhook worker %s: shard %d lost or ended", self.id, shard)
                await self._release(shard, 0)
        for shard in list(self.leaving):
            await self._lease_op(shard, "renew")
        extra = len(self.shards) - share
        for shard in sorted(self.shards, reverse=True)[: max(extra, 0)]:
            self._hand_back(shard)
        # Start at a place of its own, so workers starting together try different shards.
        first = zlib.crc32(self.id.encode()) % total
        for step in range(total):
            if len(self.shards) >= share:
                break
            shard = (first + step) % total
            if shard in self.shards or shard in self.leaving:
                continue
            if await self._lease_op(shard, "acquire"):
                self._start_shard(shard)
        await self._balance_fanout()
        await self._measure()

    async def _lease_op(self, shard: int, op: str) -> bool:
        return bool(await self._lease(
            keys=[self.keys.webhook_shard_lease(shard)], args=[op, self.id, self.ttl_ms]
        ))

    def _start_shard(self, shard: int) -> None:
        assert self._delivering is not None
        runner = Shard(shard, self._delivering)
        self.shards[shard] = (runner, asyncio.create_task(runner.run()))
        self.stats.depth[shard] = 0
        log.info("webhook worker %s: owns shard %d", self.id, shard)

    async def _release(self, shard: int, grace: float) -> None:
        runner, task = self.shards.pop(shard)
        self.stats.depth.pop(shard, None)
        await runner.stop(grace)
        await _cancel(task)
        with contextlib.suppress(Exception):
            await self._lease_op(shard, "release")

    def _hand_back(self, shard: int) -> None:
        """Give a shard up without holding up the loop (which keeps renewing its lease until
        the attempts under way have finished, so nobody sends them a second time)."""

        async def hand_back() -> None:
            try:
                await self._release(shard, self.settings.shutdown_timeout)
            finally:
                self.leaving.pop(shard, None)

        self.leaving[shard] = asyncio.create_task(hand_back())

    def _let_go(self) -> None:
        """Stop every shard and the fan-out here, without Redis (it is not answering)."""
        for shard in list(self.shards):
            runner, task = self.shards.pop(shard)
            self.stats.depth.pop(shard, None)
            runner.stopping = True
            task.cancel()
        fanout, self.fanout_task = self.fanout_task, None
        if fanout is not None:
            fanout.cancel()

    async def _measure(self) -> None:
        for shard in list(self.shards):
            self.stats.depth[shard] = int(
                await self.redis.xlen(self.keys.webhook_shard_stream(shard))
            )

    # --- the fan-out ----------------------------------------------------------------------------

    async def _balance_fanout(self) -> None:
        lease = self.keys.webhook_fanout_lease()
        task = self.fanout_task
        if task is not None:
            held = not task.done() and await self._lease(
                keys=[lease], args=["renew", self.id, self.ttl_ms]
            )
            if held:
                await self._measure_fanout()
                return
            await self._stop_fanout()
        if await self._lease(keys=[lease], args=["acquire", self.id, self.ttl_ms]):
            log.info("webhook worker %s: reads the events stream", self.id)
            self.fanout_task = asyncio.create_task(self._fanout_run())

    async def _stop_fanout(self) -> None:
        task, self.fanout_task = self.fanout_task, None
        if task is None:
            return
        await _cancel(task)
        with contextlib.suppress(Exception):
            await self._lease(
                keys=[self.keys.webhook_fanout_lease()], args=["release", self.id, self.ttl_ms]
            )
        self.stats.fanout_backlog = 0

    async def _fanout_run(self) -> None:
        stream = self.keys.events_stream()
        # First what an earlier holder read and did not acknowledge (the consumer name is the
        # same for every holder), then new entries.
        start: str | bytes = "0"
        reply: Any
        while True:
            if start == ">":
                reply = await self.redis.xreadgroup(
                    GROUP, FANOUT_CONSUMER, {stream: ">"}, count=FANOUT_COUNT,
                    block=self.block_ms,
                )
            else:
                reply = await self.redis.xreadgroup(
                    GROUP, FANOUT_CONSUMER, {stream: start}, count=FANOUT_COUNT
                )
            entries = [e for _, batch in reply or [] for e in batch]
            if start != ">" and not entries:
                start = ">"
            for stream_id, fields in entries:
                if start != ">":
                    start = stream_id
                if fields:
                    await self.fanout.handle(Entry.parse(fields), self.clock.now_ms())
                await self.redis.xack(stream, GROUP, stream_id)

    async def _measure_fanout(self) -> None:
        with contextlib.suppress(Exception):
            for group in await self.redis.xinfo_groups(self.keys.events_stream()):
                if group.get("name") in (GROUP, GROUP.encode()):
                    lag = group.get("lag") or 0
                    self.stats.fanout_backlog = int(lag) + int(group.get("pending") or 0)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel and wait a little: a redis-py command cancelled mid-write was seen to take
    seconds to unwind, and a stopping worker must not wait for it (the task ends on its own)."""
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_WAIT)


async def _create_group(redis: Redis, stream: str, start: str) -> None:
    try:
        await redis.xgroup_create(stream, GROUP, id=start, mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
