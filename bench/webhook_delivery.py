"""Outbound webhook delivery: one worker process (``python -m management_service.webhooks``) to a
receiver on loopback.

- throughput: a burst of ``conversation.in_progress`` events (one endpoint, many conversations)
  written to the events stream at once; deliveries per second from the burst to its last
  delivery (fan-out, signing and the HTTP round trip included);
- delay: conversations started one after another through the runtime's public API; from the
  start's request to the receiver getting its ``conversation.started`` (p50 / p99).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from redis.asyncio import Redis

from common.ids import new_id
from common.lifecycle.events import event_json, new_event_id, xadd_command
from common.models.webhooks import SigningSecret, StoredEndpoint
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms

BURST = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "3000"))
CONVERSATIONS = 300
STARTS = 200
_GIVE_UP_S = 120.0


@dataclass
class Report:
    events: int
    seconds: float
    delays: list[float]

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # webhook-id -> perf_counter
        self.conversations: dict[str, float] = {}  # started conversation id -> perf_counter

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        self.arrivals.setdefault(request.headers["webhook-id"], now)
        event = msgspec.json.decode(body)
        if event["type"] == "conversation.started":
            self.conversations.setdefault(event["data"]["id"], now)
        return web.Response(status=204)


async def _endpoint(redis: Redis, keys: RedisKeys, org_id: str, url: str) -> None:
    created = now_ms()
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    endpoint = StoredEndpoint(
        id=new_id(), organization_id=org_id, url=url, events=[], description="bench",
        enabled=True, disabled_reason=None, created_at=iso_from_ms(created),
        updated_at=iso_from_ms(created), secrets=[SigningSecret(secret=secret)],
    )
    await redis.set(keys.webhook(endpoint.id), msgspec.json.encode(endpoint))
    await redis.zadd(keys.org_webhooks(org_id), {f"{created:013d}:{endpoint.id}": 0})


async def _wait(check: Any) -> None:
    deadline = time.perf_counter() + _GIVE_UP_S
    while not check():
        if time.perf_counter() > deadline:
            raise RuntimeError("webhook deliveries did not all arrive")
        await asyncio.sleep(0.005)


async def measure(redis_url: str, prefix: str, runtime_url: str, widget_id: str) -> Report:
    keys = RedisKeys(prefix)
    receiver = _Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    redis = Redis.from_url(redis_url)
    try:
        widget = msgspec.json.decode(await redis.get(keys.widget(widget_id)))
        org_id = widget["organization_id"]
        await _endpoint(redis, keys, org_id, f"http://127.0.0.1:{port}/hook")

        conversations = [new_id() for _ in range(CONVERSATIONS)]
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(BURST):
                event_id, conv = new_event_id(), conversations[n % CONVERSATIONS]
                event = event_json(event_id, "conversation.in_progress", iso_from_ms(now_ms()),
                                   {"id": conv, "n": n})
                pipe.execute_command(*xadd_command(
                    keys, event_id, "conversation.in_progress", org_id, widget_id, conv, event,
                    now_ms(), 3600,
                ))
            started = time.perf_counter()
            await pipe.execute()
        await _wait(lambda: len(receiver.arrivals) >= BURST)
        seconds = max(receiver.arrivals.values()) - started

        delays = []
        url = f"{runtime_url}/core/public/web-widgets/{widget_id}/conversations"
        async with aiohttp.ClientSession() as session:
            for n in range(STARTS):
                sent = time.perf_counter()
                async with session.post(url, json={"user_id": f"webhook-bench-{n}"}) as resp:
                    if resp.status not in (200, 201):
                        raise RuntimeError(f"start answered {resp.status}")
                    conversation = (await resp.json())["conversation"]["id"]
                await _wait(lambda c=conversation: c in receiver.conversations)
                delays.append(receiver.conversations[conversation] - sent)
        return Report(BURST, seconds, delays)
    finally:
        await redis.aclose()
        await runner.cleanup()
