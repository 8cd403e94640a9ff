"""The lifecycle's Python API over conversation_lifecycle.lua, through a command batch.

Every Redis command goes through a ``RedisBatch`` (common/redis_batch.py): the service's own
(the runtime's, over its hiredis connection where the server allows), or, given none, one over
the redis-py client. A call's due-index ZADD and its script leave in one pipeline, and its
events are published as every conversation event is (common/lifecycle/publisher.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from redis.asyncio import Redis

from common.lifecycle.events import event_kind, new_event_id, outbox_entry
from common.lifecycle.publisher import EventPublisher
from common.models.conversation import INDEXED_STATUSES, ConversationSummary
from common.redis_batch import RedisBatch
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
_SUMMARY = msgspec.json.Decoder(ConversationSummary)


class _Organization(msgspec.Struct):
    organization_id: str = ""


# Only the organization (its events' routing): the rest of the document is skipped.
_ORGANIZATION = msgspec.json.Decoder(_Organization)
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
    raw_doc: bytes  # the conversation's safe columns as the script encoded them (b"": none)
    outbox: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def doc(self) -> dict[str, Any]:
        """The safe columns, decoded when asked for (a webhook never reads them)."""
        return _DOC.decode(self.raw_doc) if self.raw_doc else {}

    @property
    def organization_id(self) -> str:
        return _ORGANIZATION.decode(self.raw_doc).organization_id if self.raw_doc else ""

    def summary(self) -> ConversationSummary:
        """The safe columns as the API's model, decoded straight from the script's JSON."""
        return _SUMMARY.decode(self.raw_doc)

    @property
    def events(self) -> list[str]:
        return [event_kind(value) for _, value in self.outbox]


def _outcome(reply: list[Any]) -> Outcome:
    outcome, status, due, doc, *rest = reply
    pairs = [(rest[i].decode(), rest[i + 1]) for i in range(0, len(rest), 2)]
    return Outcome(
        outcome=outcome.decode(), status=status.decode(), due_ms=int(due), raw_doc=doc,
        outbox=pairs,
    )


class Lifecycle:
    def __init__(
        self, redis: Redis, keys: RedisKeys, settle: float, events_retention: int,
        stats_retention: int = DEFAULT_STATS_RETENTION, *, batch: RedisBatch | None = None,
    ) -> None:
        """``batch``: the service's command batch (REDIS_BATCH), which its app drains at
        shutdown; without one, a batch of its own over ``redis`` (the same commands, in
        redis-py's pipelines), which nobody drains, so its calls also wait for their outbox
        HDEL instead of leaving it in flight."""
        self.stats_retention = stats_retention
        self.redis = redis
        self.batch = RedisBatch(redis) if batch is None else batch
        self._confirm = batch is None
        self.keys = keys
        self.settle_ms = int(settle * 1000)
        self.publisher = EventPublisher(self.batch, keys, events_retention)
        self._script = register(redis, SCRIPT)
        self._due = register(redis, DUE_SCRIPT)
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
        # On the due index (a wake-up LIFECYCLE_SETTLE from now, or an earlier one kept), queued
        # before the script in the same pipeline: an outbox entry this call leaves behind is
        # then found by a sweep. Should the ZADD alone fail, the script's events are still
        # published and the call fails, so its caller's retry (LiveKit's, the visitor's) puts
        # the conversation on the index again.
        due = self.batch.execute(
            "ZADD", self.keys.due_conversations(due_shard(conversation_id)), "LT",
            now_ms + self.settle_ms, due_member(widget_id, conversation_id),
        )
        reply = self.batch.script(
            self._script, self._script_keys(widget_id, conversation_id, now_ms),
            [op, now_ms, iso_from_ms(now_ms), self.settle_ms, new_event_id(), *args,
             self.stats_retention],
        )
        try:
            await due
        except Exception as exc:
            unindexed: Exception | None = exc
        else:
            unindexed = None
        result = _outcome(await reply)
        if result.outbox:
            await self.publish(
                widget_id, conversation_id, result.organization_id, result.outbox, now_ms,
                confirm=self._confirm,
            )
        if unindexed is not None:
            raise unindexed
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
        outbox: list[tuple[str, bytes]], now_ms: int, *, confirm: bool = False,
    ) -> bool:
        """Publish what the script left in the outbox (common/lifecycle/publisher.py); False
        when something is left to the sweep. ``confirm``: wait for the outbox fields' HDEL."""
        try:
            events = [
                outbox_entry(name, value, organization_id, widget_id, conversation_id)
                for name, value in outbox
            ]
        except msgspec.DecodeError as exc:  # not an event as our scripts write them
            return self.publisher.failed(exc)
        return await self.publisher.publish(
            self.keys.conversation(widget_id, conversation_id), events, now_ms, confirm=confirm
        )

    async def sweep(self, now_ms: int) -> int:
        """One pass over every due shard: apply what is due and publish leftovers. Returns how
        many conversations it looked at."""
        seen = 0
        for shard in range(DUE_SHARDS):
            key = self.keys.due_conversations(shard)
            while True:
                lease = now_ms + SWEEP_LEASE_MS
                members = await self.batch.script(
                    self._due, [key], ["claim", now_ms, lease, SWEEP_BATCH]
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
            reply = await self.batch.script(
                self._script, self._script_keys(widget_id, conversation_id, now_ms),
                ["sweep", now_ms, iso_from_ms(now_ms), self.settle_ms, base,
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
                widget_id, conversation_id, result.organization_id, result.outbox, now_ms,
                confirm=True,
            ):
                next_due = now_ms + self.settle_ms  # try again soon
            await self.batch.script(self._due, [key], ["done", member, lease, next_due])
        except Exception:  # the claim's lease ends and another pass retries
            self.sweep_actions["error"] += 1
            log.exception("sweeping conversation %s failed", conversation_id)
