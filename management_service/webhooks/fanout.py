"""The fan-out: each event of the conversation events stream becomes one delivery per matching
endpoint, written to the endpoint's records and appended to a delivery shard.

One worker at a time reads the events stream (the fan-out lease), through the consumer group
``webhooks``, so the deliveries of one conversation reach their shard in the stream's order. An
event is acknowledged only after its deliveries are recorded and on their shards; a fan-out that
dies before that is redone by the next lease holder (same delivery ids: nothing is recorded
twice, and a second shard entry of a delivery that is no longer pending is skipped).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis

from common.conversation_record import SAFE_FIELDS, summary_from
from common.lifecycle.events import conversation_event, feedback_event
from common.models.webhooks import EVENT_TYPES, StoredDelivery, StoredEndpoint
from common.redis_client import as_bytes
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms
from management_service.webhooks.store import Store, decode_endpoint, delivery_id

log = logging.getLogger(__name__)

GROUP = "webhooks"
FANOUT_CONSUMER = "fanout"


class _Event(msgspec.Struct):
    type: str
    timestamp: str
    data: msgspec.Raw


class _Body(msgspec.Struct):
    """What a receiver gets: ``{type, timestamp, data}`` (the event id is ``webhook-id``)."""

    type: str
    timestamp: str
    data: msgspec.Raw


_EVENT = msgspec.json.Decoder(_Event)
_ENCODE = msgspec.json.Encoder().encode


def body_of(event_json: bytes) -> bytes:
    """The request body for a stream entry's ``data`` (``{id, type, timestamp, data}``): the
    same JSON without ``id``, ``data`` byte for byte."""
    event = _EVENT.decode(event_json)
    return _ENCODE(_Body(type=event.type, timestamp=event.timestamp, data=event.data))


def order_key(conversation_id: str, widget_id: str, event_id: str) -> str:
    """Deliveries with the same key (per endpoint) are sent in order: a conversation's events;
    a widget's own events (updated, deleted); anything else stands alone."""
    if conversation_id:
        return conversation_id
    if widget_id:
        return "widget:" + widget_id
    return "event:" + event_id


def shard_of(endpoint_id: str, order: str, shards: int) -> int:
    return zlib.crc32(f"{endpoint_id}|{order}".encode()) % shards


@dataclass(frozen=True, slots=True)
class Entry:
    """One events stream entry, as docs/lifecycle.md and the webhooks API write it."""

    event_id: str
    type: str
    organization_id: str
    widget_id: str
    conversation_id: str
    data: bytes
    endpoint_id: str  # only that endpoint, whatever its events filter (test, manual retry)
    retry_of: str  # a manual retry of that delivery
    # A conversation event's snapshot instead of its JSON (common/lifecycle/events.py)
    snapshot: str = ""

    @classmethod
    def parse(cls, fields: dict[bytes, bytes]) -> Entry:
        def text(name: str) -> str:
            return fields.get(name.encode(), b"").decode()

        return cls(
            event_id=text("id"), type=text("type"), organization_id=text("organization_id"),
            widget_id=text("web_widget_id"), conversation_id=text("conversation_id"),
            data=fields.get(b"data", b""), endpoint_id=text("endpoint_id"),
            retry_of=text("retry_of"), snapshot=text("snapshot"),
        )


async def rendered_event(redis: Redis, keys: RedisKeys, entry: Entry) -> bytes | None:
    """A conversation's event's JSON from its snapshot and the stored record (read once, for
    every endpoint), or None when the conversation is gone (erased, expired)."""
    key = keys.conversation(entry.widget_id, entry.conversation_id)
    if entry.type == "feedback.submitted":
        record = await redis.hget(key, "feedback")
        return None if record is None else feedback_event(
            entry.event_id, entry.organization_id, entry.widget_id, entry.conversation_id,
            as_bytes(record),
        )
    *values, summary = await redis.hmget(key, [*SAFE_FIELDS, "summary"])
    columns = summary_from(entry.widget_id, entry.conversation_id, values)
    if columns is None:
        return None
    return conversation_event(
        entry.event_id, entry.type, entry.snapshot, columns,
        None if summary is None else as_bytes(summary).decode(),
    )


def matches(entry: Entry, endpoint: StoredEndpoint) -> bool:
    if endpoint.organization_id != entry.organization_id or not endpoint.enabled:
        return False
    if entry.endpoint_id:
        return endpoint.id == entry.endpoint_id
    if entry.type not in EVENT_TYPES:  # webhook.test goes only where it is addressed
        return False
    return not endpoint.events or entry.type in endpoint.events


class Fanout:
    def __init__(self, redis: Redis, keys: RedisKeys, store: Store, shards: int) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.shards = shards
        self.fanned = 0  # events fanned out by this process

    async def endpoints(self, entry: Entry) -> list[StoredEndpoint]:
        if entry.endpoint_id:
            ids = [entry.endpoint_id]
        else:
            index = self.keys.org_webhooks(entry.organization_id)
            members: Any = await self.redis.zrange(index, 0, -1)
            ids = [m.decode().split(":", 1)[-1] for m in members]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for endpoint_id in ids:
                pipe.get(self.keys.webhook(endpoint_id))
            raws: list[Any] = await pipe.execute()
        found = [decode_endpoint(raw, i) for raw, i in zip(raws, ids, strict=True)]
        return [e for e in found if e is not None and matches(entry, e)]

    async def handle(self, entry: Entry, now_ms: int) -> int:
        """Record and enqueue the entry's deliveries; returns how many."""
        if entry.retry_of and entry.endpoint_id:
            return await self._retry(entry, now_ms)
        endpoints = await self.endpoints(entry)
        data = entry.data
        if entry.snapshot and endpoints:
            rendered = await rendered_event(self.redis, self.keys, entry)
            if rendered is None:
                log.info("event %s: its conversation is gone; not delivered", entry.event_id)
                self.fanned += 1
                return 0
            data = rendered
        try:
            body_of(data)  # sendable: refused here rather than at every attempt
        except msgspec.DecodeError:
            log.error("events stream entry %s has no readable data: not delivered", entry.event_id)
            return 0
        order = order_key(entry.conversation_id, entry.widget_id, entry.event_id)
        queued = 0
        for endpoint in endpoints:
            now = iso_from_ms(now_ms)
            record = StoredDelivery(
                id=delivery_id(entry.event_id, endpoint.id), endpoint_id=endpoint.id,
                event_id=entry.event_id, event_type=entry.type, status="pending", attempts=0,
                last_status_code=None, last_error=None, latency_ms=None, next_attempt_at=None,
                created_at=now, updated_at=now, payload=data.decode(),
            )
            await self.store.create(record, now_ms)
            await self.enqueue(endpoint.id, record.id, order, entry.conversation_id)
            queued += 1
        self.fanned += 1
        return queued

    async def _retry(self, entry: Entry, now_ms: int) -> int:
        """A manual retry: the same delivery (same payload, same ``webhook-id``) made pending
        again and queued behind what its conversation has queued already."""
        record = await self.store.delivery(entry.endpoint_id, entry.retry_of)
        endpoint = await self.store.endpoint(entry.endpoint_id)
        if record is None or endpoint is None or endpoint.organization_id != entry.organization_id:
            return 0
        if record.status != "pending":
            record = msgspec.structs.replace(
                record, status="pending", next_attempt_at=None, updated_at=iso_from_ms(now_ms)
            )
            await self.store.save(record)
        order = order_key(entry.conversation_id, entry.widget_id, record.event_id)
        await self.enqueue(entry.endpoint_id, record.id, order, entry.conversation_id)
        return 1

    async def enqueue(
        self, endpoint_id: str, delivery: str, order: str, conversation_id: str
    ) -> None:
        shard = shard_of(endpoint_id, order, self.shards)
        await self.redis.xadd(self.keys.webhook_shard_stream(shard), {
            "endpoint_id": endpoint_id, "delivery_id": delivery, "order": order,
            "conversation_id": conversation_id,
        })
