"""Invalidation events: every committed widget write publishes exactly one ``WidgetChanged`` on the
invalidation channel (in the same script as the write), and a rejected or no-op write publishes
none, including the losing attempts of concurrent updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.events import EVENT_DECODER
from common.redis_process import RedisProcess
from management_service.widgets_store import WidgetStore
from tests.support.widget_helpers import create_widget, expect

URL = "/core/web-widgets"


class Subscriber:
    """Records what arrives on the channel; ``drain`` returns everything published so far."""

    def __init__(self, client: Redis, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.pubsub = client.pubsub()

    async def start(self) -> None:
        await self.pubsub.subscribe(self.channel)
        message = await self.pubsub.get_message(timeout=5)
        assert message is not None and message["type"] == "subscribe"

    async def drain(self) -> list[tuple[str, str]]:
        """Publish a marker and collect the events before it: anything published earlier by a
        finished request has arrived by then (one server, one ordered stream)."""
        marker = f"marker-{new_id()}".encode()
        await self.client.publish(self.channel, marker)
        events: list[tuple[str, str]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = await self.pubsub.get_message(timeout=0.5)
            if message is None or message["type"] != "message":
                continue
            if message["data"] == marker:
                return events
            event = EVENT_DECODER.decode(message["data"])
            events.append((event.widget_id, event.op))
        raise AssertionError(f"marker not received; got {events}")


@pytest.fixture
async def events(redis_proc: RedisProcess, keys: Any) -> AsyncIterator[Subscriber]:
    client = Redis.from_url(redis_proc.url)
    subscriber = Subscriber(client, keys.invalidation_channel())
    try:
        await subscriber.start()
        yield subscriber
    finally:
        await subscriber.pubsub.aclose()
        await client.aclose()


async def test_channel_name_uses_the_key_prefix(keys: Any) -> None:
    assert keys.invalidation_channel() == "test:widget-events"


async def test_each_committed_write_publishes_one_event(
    client: Any, org: Any, pair: Any, events: Subscriber
) -> None:
    headers = org[1]
    widget = await create_widget(client, headers, pair)
    assert await events.drain() == [(widget["id"], "upsert")]

    for body in ({"published": True}, {"config": {"v1": {"theme": "dark"}}}):
        resp = await client.put(f"{URL}/{widget['id']}", json=body, headers=headers)
        await expect(resp, 200)
        assert await events.drain() == [(widget["id"], "upsert")]

    resp = await client.delete(f"{URL}/{widget['id']}", headers=headers)
    assert resp.status == 204
    assert await events.drain() == [(widget["id"], "delete")]


async def test_rejected_and_no_op_writes_publish_nothing(
    client: Any, org: Any, pair: Any, credentials: Any, org_with_key: Any, redis: Any,
    keys: Any, events: Subscriber, monkeypatch: pytest.MonkeyPatch,
) -> None:
    org_id, headers = org
    widget = await create_widget(client, headers, pair)
    await events.drain()
    token, _ = await credentials.issue("ak", ["web_widgets:read"], org_id=org_id)
    reader = {"Authorization": f"Bearer {token}"}
    _, stranger = await org_with_key()
    path = f"{URL}/{widget['id']}"
    good = {"agent_id": pair[0], "agent_version_id": pair[1]}

    rejected = [
        ("POST", URL, {**good, "config": {"v1": {"theme": "blue"}}}, headers, 422),
        ("POST", URL, {**good, "agent_id": new_id()}, headers, 422),
        ("POST", URL, {**good, "domains": ["ftp://x"]}, headers, 422),
        ("POST", URL, good, reader, 403),
        ("POST", URL, good, {}, 401),
        ("PUT", path, {"published": True}, reader, 403),
        ("PUT", path, {"published": True}, stranger, 404),
        ("PUT", f"{URL}/{new_id()}", {"published": True}, headers, 404),
        ("PUT", path, {"domains": ["*.x.com"]}, headers, 422),
        ("PUT", path, {"agent_version_id": new_id()}, headers, 422),
        ("PUT", path, {}, headers, 200),
        ("DELETE", path, None, reader, 403),
        ("DELETE", path, None, stranger, 404),
        ("DELETE", f"{URL}/{new_id()}", None, headers, 404),
    ]
    for method, url, body, auth, status in rejected:
        resp = await client.request(method, url, json=body, headers=auth)
        await expect(resp, status)
    assert await events.drain() == []

    # Conflicts: a writer whose every read is stale loses every compare-and-set (409).
    stale = await redis.get(keys.widget(widget["id"]))
    resp = await client.put(path, json={"published": True}, headers=headers)
    await expect(resp, 200)
    assert await events.drain() == [(widget["id"], "upsert")]

    async def stale_read(self: WidgetStore, widget_id: str) -> bytes:
        return stale

    monkeypatch.setattr(WidgetStore, "_read", stale_read)
    for method, body in (("PUT", {"published": False}), ("DELETE", None)):
        resp = await client.request(method, path, json=body, headers=headers)
        await expect(resp, 409)
    assert await events.drain() == []


async def test_concurrent_updates_publish_one_event_per_committed_write(
    client: Any, org: Any, pair: Any, events: Subscriber
) -> None:
    headers = org[1]
    widget = await create_widget(client, headers, pair)
    await events.drain()
    bodies = [{"config": {"n": n}} for n in range(8)]
    results = await asyncio.gather(
        *(client.put(f"{URL}/{widget['id']}", json=body, headers=headers) for body in bodies)
    )
    statuses = [resp.status for resp in results]
    for resp in results:
        await resp.read()
    # Retries make conflicts rare, but the invariant is the point: one event per 200, none per
    # 409 (an attempt that loses the compare-and-set publishes nothing).
    assert set(statuses) <= {200, 409} and 200 in statuses
    assert await events.drain() == [(widget["id"], "upsert")] * statuses.count(200)


async def test_create_then_delete_many(
    client: Any, org: Any, pair: Any, events: Subscriber
) -> None:
    headers = org[1]
    ids = [(await create_widget(client, headers, pair))["id"] for _ in range(5)]
    for widget_id in ids:
        resp = await client.delete(f"{URL}/{widget_id}", headers=headers)
        assert resp.status == 204
    assert await events.drain() == [(i, "upsert") for i in ids] + [(i, "delete") for i in ids]
