"""The endpoint and delivery records, as the management API stores them (common/models/webhooks.py):
the worker reads endpoints, writes deliveries and disables an endpoint that keeps failing."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from redis.asyncio import Redis

import management_service
from common.models.webhooks import StoredDelivery, StoredEndpoint
from common.redis_client import as_bytes, read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms

log = logging.getLogger(__name__)

CREATE_SCRIPT = read_script(__file__, "delivery_create.lua")
# The management API's compare-and-set of one JSON document: a disable never overwrites an
# edit made meanwhile (it is read again and re-applied).
CAS_SCRIPT = read_script(management_service.__file__, "cas_set.lua")
# Delivery ids are derived from the event and the endpoint: a fan-out run twice for the same
# event (a crash before its acknowledgement) finds the delivery it made the first time.
_NAMESPACE = uuid.UUID("6f1d7a4e-2b8c-4f0e-9a51-3c7d2e8b9f10")

_ENDPOINT = msgspec.json.Decoder(StoredEndpoint)
_DELIVERY = msgspec.json.Decoder(StoredDelivery)
_ENCODE = msgspec.json.Encoder().encode


def delivery_id(event_id: str, endpoint_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}:{endpoint_id}"))


def index_member(created_ms: int, delivery: str) -> str:
    return f"{created_ms:013d}:{delivery}"


class Store:
    def __init__(self, redis: Redis, keys: RedisKeys, retention_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_ms = retention_s * 1000
        self._create = register(redis, CREATE_SCRIPT)
        self._cas = register(redis, CAS_SCRIPT)

    async def endpoint(self, endpoint_id: str) -> StoredEndpoint | None:
        raw = as_bytes(await self.redis.get(self.keys.webhook(endpoint_id)))
        return decode_endpoint(raw, endpoint_id)

    async def delivery(self, endpoint_id: str, delivery: str) -> StoredDelivery | None:
        raw = as_bytes(await self.redis.get(self.keys.webhook_delivery(endpoint_id, delivery)))
        return decode_delivery(raw, endpoint_id, delivery)

    async def before_attempt(
        self, endpoint_id: str, delivery: str, conversation_id: str
    ) -> tuple[StoredDelivery | None, StoredEndpoint | None, bool]:
        """What an attempt depends on, in one round trip: the delivery, its endpoint, and
        whether its conversation was erased."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.webhook_delivery(endpoint_id, delivery))
            pipe.get(self.keys.webhook(endpoint_id))
            if conversation_id:
                pipe.exists(self.keys.conversation_erased(conversation_id))
            replies: list[Any] = await pipe.execute()
        erased = bool(replies[2]) if conversation_id else False
        return (
            decode_delivery(replies[0], endpoint_id, delivery),
            decode_endpoint(replies[1], endpoint_id), erased,
        )

    async def create(self, record: StoredDelivery, now_ms: int) -> bool:
        cutoff = max(now_ms - self.retention_ms, 0)
        created = await self._create(
            keys=[
                self.keys.webhook_delivery(record.endpoint_id, record.id),
                self.keys.webhook_deliveries(record.endpoint_id),
            ],
            args=[
                _ENCODE(record), index_member(now_ms, record.id), self.retention_ms,
                f"({cutoff:013d}",
            ],
        )
        return bool(created)

    async def save(self, record: StoredDelivery) -> None:
        """Only the shard's owner writes a pending delivery, so a plain SET is enough."""
        await self.redis.set(
            self.keys.webhook_delivery(record.endpoint_id, record.id), _ENCODE(record),
            px=self.retention_ms,
        )

    async def disable(self, endpoint_id: str, reason: str, now_ms: int) -> bool:
        """``enabled=false`` with ``reason``; False when the endpoint is gone or already off."""
        key = self.keys.webhook(endpoint_id)
        for _ in range(10):
            raw = as_bytes(await self.redis.get(key))
            endpoint = decode_endpoint(raw, endpoint_id)
            if raw is None or endpoint is None or not endpoint.enabled:
                return False
            changed = msgspec.structs.replace(
                endpoint, enabled=False, disabled_reason=reason[:1000],
                updated_at=iso_from_ms(now_ms),
            )
            if await self._cas(keys=[key], args=[raw, _ENCODE(changed)]):
                log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
                return True
        return False


def decode_delivery(
    raw: bytes | None, endpoint_id: str, delivery: str
) -> StoredDelivery | None:
    if raw is None:
        return None
    try:
        return _DELIVERY.decode(raw)
    except msgspec.DecodeError:
        log.error("webhook delivery %s of %s is not readable", delivery, endpoint_id)
        return None


def decode_endpoint(raw: bytes | None, endpoint_id: str) -> StoredEndpoint | None:
    if raw is None:
        return None
    try:
        return _ENDPOINT.decode(raw)
    except msgspec.DecodeError:
        log.error("webhook endpoint %s is not readable", endpoint_id)
        return None
