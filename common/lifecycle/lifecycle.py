"""The lifecycle's Python API over conversation_lifecycle.lua: plain methods over a redis-py client
(both services have one; the management service has no RedisBatch)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from redis.asyncio import Redis

from common.lifecycle.events import event_kind, new_event_id, outbox_xadd
from common.models.conversation import INDEXED_STATUSES
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms
from common.widget_stats import utc_day

log = logging.getLogger(__name__)

SCRIPT = read_script(__file__, "conversation_lifecycle.lua")
DUE_SCRIPT = read_script(__file__, "due_index.lua")
DUE_SHARDS = 16
# How long a pod holds the due members it claimed before another pod may take them.
SWEEP_LEASE_MS = 30_000
SWEEP_BATCH = 100
# LiveKit accepts a token this long after its expiry (its JWT leeway).
LIVEKIT_LEEWAY_MS = 60_000
# STATS_RETENTION's default, for callers without settings (tests, tools).
DEFAULT_STATS_RETENTION = 400 * 24 * 3600

_DOC = msgspec.json.Decoder(dict[str, Any])
_ENCODE = msgspec.json.Encoder().encode


def due_shard(conversation_id: str) -> int:
    """The due index shard of a conversation: its id's last hex digit (uuid4: uniform)."""
    return int(conversation_id[-1], 16) % DUE_SHARDS


def due_member(widget_id: str, conversation_id: str) -> str:
    return f"{widget_id}:{conversation_id}"


@dataclass(frozen=True, slots=True)
class WebhookFact:
    """What one LiveKit webhook says about a conversation (runtime_service.livekit_webhook)."""

    event_id: str
    kind: str
    room: str
    at: int  # seconds
    who: str  # visitor | agent | other
    sid: str


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str  # ok | duplicate | not_found | terminal | too_large | unchanged
    status: str
    due_ms: int
    doc: dict[str, Any]
    outbox: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def events(self) -> list[str]:
        return [event_kind(value) for _, value in self.outbox]


def _outcome(reply: list[Any]) -> Outcome:
    outcome, status, due, doc, *rest = reply
    pairs = [(rest[i].decode(), rest[i + 1]) for i in range(0, len(rest), 2)]
    return Outcome(
        outcome=outcome.decode(), status=status.decode(), due_ms=int(due),
        doc=_DOC.decode(doc) if doc else {}, outbox=pairs,
    )


class Lifecycle:
    def __init__(
        self, redis: Redis, keys: RedisKeys, settle: float, events_retention: int,
        stats_retention: int = DEFAULT_STATS_RETENTION,
    ) -> None:
        self.stats_retention = stats_retention
        self.redis = redis
        self.keys = keys
        self.settle_ms = int(settle * 1000)
        self.events_retention = events_retention
        self._script = register(redis, SCRIPT)
        self._due = register(redis, DUE_SCRIPT)
        self.published = 0
        self.publish_failures = 0
        self.sweep_actions: Counter[str] = Counter()

    def _script_keys(self, widget_id: str, conversation_id: str, now_ms: int) -> list[str]:
        """The conversation, then its widget's status indexes in INDEXED_STATUSES order, then
        the widget's stats counters of now's UTC day (the script's last ARGV is their TTL)."""
        return [
            self.keys.conversation(widget_id, conversation_id),
            *(self.keys.conversations_by_status(widget_id, s) for s in INDEXED_STATUSES),
            self.keys.widget_stats(widget_id, utc_day(now_ms)),
        ]

    async def _run(
        self, widget_id: str, conversation_id: str, op: str, now_ms: int, args: list[Any]
    ) -> Outcome:
        # On the due index first (a wake-up LIFECYCLE_SETTLE from now, or earlier one kept): an
        # outbox entry this call leaves behind is then always found by a sweep.
        await self.redis.zadd(
            self.keys.due_conversations(due_shard(conversation_id)),
            {due_member(widget_id, conversation_id): now_ms + self.settle_ms}, lt=True,
        )
        reply = await self._script(
            keys=self._script_keys(widget_id, conversation_id, now_ms),
            args=[op, now_ms, iso_from_ms(now_ms), self.settle_ms, new_event_id(), *args,
                  self.stats_retention],
        )
        result = _outcome(reply)
        if result.outbox:
            await self.publish(
                widget_id, conversation_id, result.doc["organization_id"], result.outbox, now_ms
            )
        return result

    async def event(
        self, widget_id: str, conversation_id: str, fact: WebhookFact, now_ms: int
    ) -> Outcome:
        return await self._run(widget_id, conversation_id, "event", now_ms, [
            fact.event_id, fact.kind, fact.room, fact.at, fact.who, fact.sid,
        ])

    async def resume(
        self, widget_id: str, conversation_id: str, room: str, deadline_ms: int, now_ms: int
    ) -> Outcome:
        return await self._run(
            widget_id, conversation_id, "resume", now_ms, [room, deadline_ms]
        )

    async def report(
        self, widget_id: str, conversation_id: str, fields: dict[str, Any], now_ms: int,
        max_items: int, max_bytes: int, grace_ms: int,
    ) -> Outcome:
        return await self._run(widget_id, conversation_id, "report", now_ms, [
            _ENCODE(fields), max_items, max_bytes, grace_ms,
        ])

    async def end(self, widget_id: str, conversation_id: str, now_ms: int) -> Outcome:
        return await self._run(widget_id, conversation_id, "end", now_ms, [])

    async def publish(
        self, widget_id: str, conversation_id: str, organization_id: str,
        outbox: list[tuple[str, bytes]], now_ms: int,
    ) -> bool:
        """XADD the events, then delete their outbox fields; a failure leaves them to the sweep
        (False)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for name, value in outbox:
                    pipe.execute_command(*outbox_xadd(
                        self.keys, name, value, organization_id, widget_id, conversation_id,
                        now_ms, self.events_retention,
                    ))
                await pipe.execute()
            # Only once they are on the stream: deleted first, a failed XADD would lose them.
            await self.redis.hdel(
                self.keys.conversation(widget_id, conversation_id), *[f for f, _ in outbox]
            )
        except Exception:  # the sweep publishes them later
            self.publish_failures += 1
            log.warning("events not published yet; the sweep will", exc_info=True)
            return False
        self.published += len(outbox)
        return True

    async def sweep(self, now_ms: int) -> int:
        """One pass over every due shard: apply what is due and publish leftovers. Returns how
        many conversations it looked at."""
        seen = 0
        for shard in range(DUE_SHARDS):
            key = self.keys.due_conversations(shard)
            while True:
                lease = now_ms + SWEEP_LEASE_MS
                members = await self._due(
                    keys=[key], args=["claim", now_ms, lease, SWEEP_BATCH]
                )
                for raw in members:
                    seen += 1
                    await self._sweep_one(key, raw.decode(), lease, now_ms)
                if len(members) < SWEEP_BATCH:
                    break
        return seen

    async def _sweep_one(self, key: str, member: str, lease: int, now_ms: int) -> None:
        widget_id, _, conversation_id = member.partition(":")
        try:
            base = new_event_id()
            reply = await self._script(
                keys=self._script_keys(widget_id, conversation_id, now_ms),
                args=["sweep", now_ms, iso_from_ms(now_ms), self.settle_ms, base,
                      self.stats_retention],
            )
            result = _outcome(reply)
            for name, kind in zip((f for f, _ in result.outbox), result.events, strict=True):
                if not name.startswith("outbox:" + base):
                    self.sweep_actions["republished"] += 1
                elif kind == "conversation.ended":
                    self.sweep_actions[result.status] += 1
            next_due = result.due_ms
            if result.outbox and not await self.publish(
                widget_id, conversation_id, result.doc["organization_id"], result.outbox, now_ms
            ):
                next_due = now_ms + self.settle_ms  # try again soon
            await self._due(keys=[key], args=["done", member, lease, next_due])
        except Exception:  # the claim's lease ends and another pass retries
            self.sweep_actions["error"] += 1
            log.exception("sweeping conversation %s failed", conversation_id)
