"""A delivery shard while this worker owns it: its entries are read through the consumer group
``webhooks``, grouped by (endpoint, order key) and sent one pair at a time, in stream order;
different pairs are sent concurrently (up to WEBHOOK_CONCURRENCY attempts per process).

An entry is acknowledged (and deleted) only once its delivery is final: succeeded (the
receiver's 2xx), failed (410 Gone, or the schedule exhausted) or dropped (endpoint deleted or
disabled, conversation erased). Until then it stays in the group's pending entries, and the
retry time is in the delivery record (``next_attempt_at``); a failed attempt parks the pair, so
its later entries wait behind it. Taking a shard over starts by claiming the previous owner's
pending entries (XAUTOCLAIM), in stream order, so its parked pairs resume where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from redis.asyncio import Redis

from common.models.webhooks import StoredDelivery
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, ms_from_iso
from management_service.webhooks import signing
from management_service.webhooks.clock import Clock
from management_service.webhooks.egress import WebhookEgressPolicy
from management_service.webhooks.fanout import GROUP, body_of
from management_service.webhooks.schedule import retry_delay_ms
from management_service.webhooks.sender import Attempt, send
from management_service.webhooks.stats import Stats
from management_service.webhooks.store import Store

log = logging.getLogger(__name__)

READ_COUNT = 100
# A parked pair looks at its endpoint again at least this often (a deleted or disabled
# endpoint's deliveries are dropped without waiting hours for their next attempt).
RECHECK_MS = 30_000
# Entries held in memory per shard before reading stops for a while (a slow receiver).
MAX_BUFFERED = 10_000


@dataclass
class Delivering:
    """What every shard of a worker shares."""

    redis: Redis
    keys: RedisKeys
    store: Store
    session: aiohttp.ClientSession
    policy: WebhookEgressPolicy
    clock: Clock
    schedule: tuple[float, ...]
    stats: Stats
    limit: asyncio.Semaphore
    consumer: str
    block_ms: int


@dataclass(frozen=True, slots=True)
class Item:
    stream_id: bytes
    endpoint_id: str
    delivery_id: str
    order: str
    conversation_id: str

    @classmethod
    def parse(cls, stream_id: bytes, fields: dict[bytes, bytes]) -> Item:
        def text(name: bytes) -> str:
            return fields.get(name, b"").decode()

        return cls(
            stream_id, text(b"endpoint_id"), text(b"delivery_id"), text(b"order"),
            text(b"conversation_id"),
        )


@dataclass
class Shard:
    shard: int
    ctx: Delivering
    pairs: dict[tuple[str, str], deque[Item]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    # Pairs with an attempt under way: the only ones a stop waits for.
    sending: set[tuple[str, str]] = field(default_factory=set)
    stopping: bool = False

    @property
    def stream(self) -> str:
        return self.ctx.keys.webhook_shard_stream(self.shard)

    @property
    def buffered(self) -> int:
        return sum(len(queue) for queue in self.pairs.values())

    async def run(self) -> None:
        """Until cancelled (the lease lost or handed back) or ``stop``."""
        try:
            await self._take_over()
            while not self.stopping:
                if self.buffered >= MAX_BUFFERED:
                    await asyncio.sleep(self.ctx.block_ms / 1000)
                    continue
                reply: Any = await self.ctx.redis.xreadgroup(
                    GROUP, self.ctx.consumer, {self.stream: ">"}, count=READ_COUNT,
                    block=self.ctx.block_ms,
                )
                for _, entries in reply or []:
                    for stream_id, fields in entries:
                        self._add(Item.parse(stream_id, fields))
        finally:
            await self._end_pairs()

    async def _take_over(self) -> None:
        """Claim every pending entry of the group (a previous owner's, or this worker's own
        from an earlier term), oldest first, so parked pairs resume in order."""
        start: Any = "0-0"
        while True:
            reply: Any = await self.ctx.redis.xautoclaim(
                self.stream, GROUP, self.ctx.consumer, 0, start_id=start, count=READ_COUNT
            )
            start, entries = reply[0], reply[1]
            for stream_id, fields in entries:
                if fields:  # a deleted entry comes back empty (Redis 6.2) or not at all (7)
                    self._add(Item.parse(stream_id, fields))
            if start in (b"0-0", "0-0"):
                return

    def _add(self, item: Item) -> None:
        pair = (item.endpoint_id, item.order)
        queue = self.pairs.setdefault(pair, deque())
        queue.append(item)
        if pair not in self.tasks:
            self.tasks[pair] = asyncio.create_task(self._drain(pair))

    async def _drain(self, pair: tuple[str, str]) -> None:
        queue = self.pairs[pair]
        try:
            while queue and not self.stopping:
                item = queue[0]
                try:
                    if await self._deliver(item, pair):
                        await self._ack(item)
                        queue.popleft()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Redis unreachable, say: the entry stays pending and is tried again.
                    log.exception("webhook shard %d: delivery %s", self.shard, item.delivery_id)
                    await asyncio.sleep(1)
        finally:
            self.tasks.pop(pair, None)
            if not queue:
                self.pairs.pop(pair, None)

    async def _ack(self, item: Item) -> None:
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, GROUP, item.stream_id)
            pipe.xdel(self.stream, item.stream_id)
            await pipe.execute()

    async def stop(self, grace: float) -> None:
        """Read no more; let attempts under way finish for up to ``grace`` seconds (a parked
        pair, waiting for its retry time, is simply stopped: its schedule is in its record)."""
        self.stopping = True
        sending = [task for pair, task in self.tasks.items() if pair in self.sending]
        if sending:
            await asyncio.wait(sending, timeout=grace)
        await self._end_pairs()

    async def _end_pairs(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        self.pairs.clear()

    async def _deliver(self, item: Item, pair: tuple[str, str]) -> bool:
        """Work on one delivery: True once it is final; False after a failed attempt (its retry
        is scheduled: called again, it waits for it) or when the shard stops."""
        ctx = self.ctx
        while not self.stopping:
            record, endpoint, erased = await ctx.store.before_attempt(
                item.endpoint_id, item.delivery_id, item.conversation_id
            )
            if record is None or record.status != "pending":
                return True  # expired, or a second entry of a delivery already done
            now = ctx.clock.now_ms()
            if endpoint is None:
                await self._finish(record, "dropped", "endpoint deleted", now)
                return True
            if not endpoint.enabled:
                reason = f"endpoint disabled: {endpoint.disabled_reason or 'by its owner'}"
                await self._finish(record, "dropped", reason, now)
                return True
            if erased:
                await self._finish(record, "dropped", "conversation erased", now)
                return True
            due = ms_from_iso(record.next_attempt_at) if record.next_attempt_at else now
            if due > now:
                await ctx.clock.sleep_until(min(due, now + RECHECK_MS))
                continue
            try:
                body = body_of(record.payload.encode())
            except msgspec.DecodeError:
                await self._finish(record, "dropped", "the stored event is not readable", now)
                return True
            secrets = signing.active_secrets(endpoint.secrets, now)
            headers = signing.headers(secrets, record.event_id, now // 1000, body)
            async with ctx.limit:
                if self.stopping:
                    return False
                self.sending.add(pair)
                try:
                    attempt = await send(ctx.session, ctx.policy, endpoint.url, headers, body)
                    return await self._record(item, record, attempt)
                finally:
                    self.sending.discard(pair)
        return False

    async def _record(self, item: Item, record: StoredDelivery, attempt: Attempt) -> bool:
        """Store what an attempt gave; True when the delivery is final."""
        ctx = self.ctx
        ctx.stats.observe(attempt.latency_ms / 1000)
        now = ctx.clock.now_ms()
        record = msgspec.structs.replace(
            record, attempts=record.attempts + 1, last_status_code=attempt.status,
            last_error=attempt.error, latency_ms=attempt.latency_ms,
        )
        if attempt.ok:
            await self._finish(record, "succeeded", None, now)
            return True
        if attempt.status == 410:
            await self._finish(record, "failed", attempt.error, now)
            reason = "the endpoint answered 410 Gone"
            await self._disable(item.endpoint_id, "gone", reason, now)
            return True
        delay = retry_delay_ms(ctx.schedule, record.attempts)
        if delay is None:
            await self._finish(record, "failed", attempt.error, now)
            reason = f"{record.attempts} attempts failed; the last: {attempt.error}"
            await self._disable(item.endpoint_id, "exhausted", reason, now)
            return True
        ctx.stats.outcomes["retried"] += 1
        await ctx.store.save(msgspec.structs.replace(
            record, next_attempt_at=iso_from_ms(now + delay), updated_at=iso_from_ms(now),
        ))
        return False

    async def _finish(
        self, record: StoredDelivery, status: str, error: str | None, now: int
    ) -> None:
        self.ctx.stats.outcomes[status] += 1
        await self.ctx.store.save(msgspec.structs.replace(
            record, status=status, next_attempt_at=None, updated_at=iso_from_ms(now),
            last_error=error if status == "dropped" else record.last_error,
        ))

    async def _disable(self, endpoint_id: str, kind: str, reason: str, now: int) -> None:
        if await self.ctx.store.disable(endpoint_id, reason, now):
            self.ctx.stats.disabled[kind] += 1
