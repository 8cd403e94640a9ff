"""Outbound webhooks under test: endpoint records, events and deliveries written as the API, the
lifecycle and the delivery worker write them, and a receiver on loopback that verifies every
delivery with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import standardwebhooks
from aiohttp import web
from redis.asyncio import Redis

from common.ids import new_id
from common.lifecycle.events import event_json, new_event_id, xadd_command
from common.models.webhooks import SigningSecret, StoredDelivery, StoredEndpoint
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms

ENCODE = msgspec.json.Encoder().encode


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


async def put_endpoint(
    redis: Redis, keys: RedisKeys, org_id: str, url: str, *, events: list[str] | None = None,
    secrets: list[SigningSecret] | None = None, enabled: bool = True,
    endpoint_id: str | None = None,
) -> StoredEndpoint:
    """An endpoint record and its place in the org's index, as the management API writes them."""
    created = now_ms()
    endpoint = StoredEndpoint(
        id=endpoint_id or new_id(), organization_id=org_id, url=url, events=events or [],
        description="", enabled=enabled, disabled_reason=None,
        created_at=iso_from_ms(created), updated_at=iso_from_ms(created),
        secrets=secrets or [SigningSecret(secret=new_secret())],
    )
    await redis.set(keys.webhook(endpoint.id), ENCODE(endpoint))
    await redis.zadd(keys.org_webhooks(org_id), {f"{created:013d}:{endpoint.id}": 0})
    return endpoint


async def load_endpoint(redis: Redis, keys: RedisKeys, endpoint_id: str) -> StoredEndpoint:
    return msgspec.json.decode(await redis.get(keys.webhook(endpoint_id)), type=StoredEndpoint)


async def publish(
    redis: Redis, keys: RedisKeys, kind: str, org_id: str, *, conversation_id: str = "",
    widget_id: str = "", data: dict[str, Any] | None = None, endpoint_id: str = "",
    retry_of: str = "", event_id: str | None = None,
) -> str:
    """One events stream entry, with the lifecycle's own ``xadd_command`` (``endpoint_id`` /
    ``retry_of`` as the webhooks API's test sends and retries add them)."""
    event_id = event_id or new_event_id()
    payload = data if data is not None else {"id": conversation_id, "status": "in_progress"}
    event = event_json(event_id, kind, iso_from_ms(now_ms()), payload)
    await redis.execute_command(*xadd_command(
        keys, event_id, kind, org_id, widget_id, conversation_id, event, now_ms(), 3600,
        endpoint_id=endpoint_id, retry_of=retry_of,
    ))
    return event_id


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body)


# answer(request) -> status for that request (a coroutine may hold it first).
Answer = Callable[[Received], Any]


@dataclass
class Receiver:
    """A real HTTP receiver on loopback: each request verified with ``standardwebhooks``
    against the secrets of its path (``/<endpoint id>``), then answered by ``answer``."""

    secrets: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def verify(self, path: str, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets.get(path, []):
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
            except standardwebhooks.WebhookVerificationError:
                return False
        return bool(self.secrets.get(path))

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.match_info["path"]
        item = Received(path, headers, body, self.verify(path, body, headers))
        self.received.append(item)
        self.arrived.set()
        answer = self.answers.get(path)
        status = 200
        if answer is not None:
            status = answer(item)
            if asyncio.iscoroutine(status):
                status = await status
        return web.Response(status=status, text="nope" if status >= 300 else "ok")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{path}", self.handle)
        return app

    def of(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


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
