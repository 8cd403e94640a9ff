"""Webhook deliveries as the delivery worker writes them (record, then index entry), for the
API tests that read them."""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from common.ids import new_id
from common.models.webhooks import StoredDelivery
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms


def event_payload(event_id: str, kind: str = "conversation.ended") -> str:
    """A stored event's JSON ``{id, type, timestamp, data}`` (a conversation's safe columns)."""
    data = {"id": new_id(), "organization_id": "o", "web_widget_id": "w", "status": "completed"}
    return msgspec.json.encode({"id": event_id, "type": kind,
                                "timestamp": "2026-01-01T00:00:00.000Z", "data": data}).decode()


async def write_delivery(
    redis: Redis, keys: RedisKeys, endpoint_id: str, delivery_id: str, created_ms: int,
    payload: str | None = None,
) -> StoredDelivery:
    at = iso_from_ms(created_ms)
    delivery = StoredDelivery(
        id=delivery_id, endpoint_id=endpoint_id, event_id=f"evt_{delivery_id}",
        event_type="conversation.ended", status="failed", attempts=2, last_status_code=500,
        last_error="HTTP 500", latency_ms=37, next_attempt_at=None, created_at=at,
        updated_at=at, payload=payload or event_payload(f"evt_{delivery_id}"),
    )
    await redis.set(keys.webhook_delivery(endpoint_id, delivery_id), msgspec.json.encode(delivery))
    await redis.zadd(keys.webhook_deliveries(endpoint_id), {f"{created_ms:013d}:{delivery_id}": 0})
    return delivery
