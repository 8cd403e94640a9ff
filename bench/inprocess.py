"""``python -m bench.inprocess``: what a request costs the runtime against the baseline, in one
process, for judging a small change on a noisy machine.

``make bench`` measures throughput over loopback, which a busy host moves by ±10% between runs:
more than most single changes are worth. Here the runtime app and the baseline app run in the
same process and receive requests through aiohttp's own protocol over in-memory transports (no
sockets, no wrk), 16 connections at a time as in ``make bench``, in short interleaved batches
timed by the thread's CPU clock; the tenth percentile per request is compared, which moves by
about 1.5% between runs. The ratios run a few hundredths above ``make bench``'s, which also
count the kernel's share of each request.

The rows are ``make bench``'s runtime rows that need no other process: the cached GET, the 304,
the start, the resume (one conversation, resumed over and over) and the LiveKit webhook (a
visitor's ``participant_joined``, signed as LiveKit signs it, each for a conversation nobody
used yet, as in ``make bench``: a repeat would be a cheaper duplicate). ``BENCH_ONLY`` (a
substring of the row names) runs some of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from aiohttp import web

from bench import baseline_app, services
from bench.seed import VISITOR, seed
from bench.webhooks import WebhookLines
from common.redis_process import RedisProcess
from common.serve import new_event_loop
from common.settings import Settings
from runtime_service.app import create_app

BATCH = 4  # rounds of CONNECTIONS concurrent requests per timed sample
CONNECTIONS = 16  # as make bench: concurrent requests share Redis round trips
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
ONLY = os.environ.get("BENCH_ONLY", "")
WARMUP = BATCH * 4  # untimed rounds per side before the timed ones
# Every request a row sends to the service, the first check included: the webhook row's
# conversations (and signed bodies) are made for exactly these.
REQUESTS = CONNECTIONS * (1 + WARMUP + ROUNDS * BATCH)


class MemoryTransport(asyncio.Transport):
    """Takes what the server writes and wakes whoever waits for the response."""

    def __init__(self) -> None:
        super().__init__()
        self.written: asyncio.Future[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.written is not None and not self.written.done():
            self.written.set_result(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8081)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Connection:
    """One keep-alive connection to ``runner``'s server: send a raw request (the next of
    ``requests``), get the response."""

    def __init__(self, runner: web.AppRunner, requests: bytes | Iterator[bytes]) -> None:
        assert runner.server is not None
        self.protocol = runner.server()
        self.transport = MemoryTransport()
        self.protocol.connection_made(self.transport)
        self.requests = repeat(requests) if isinstance(requests, bytes) else requests

    async def send(self) -> bytes:
        self.transport.written = asyncio.get_running_loop().create_future()
        self.protocol.data_received(next(self.requests))
        return await self.transport.written


def raw_request(method: str, path: str, body: str = "", headers: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body.encode())}\r\n"
    return (head + "\r\n" + body).encode()


async def send_all(connections: list[Connection]) -> list[bytes]:
    return await asyncio.gather(*(connection.send() for connection in connections))


async def compare(
    runners: tuple[web.AppRunner, web.AppRunner], requests: bytes | Iterator[bytes]
) -> list[float]:
    """Tenth-percentile CPU microseconds per request, for each runner (the service first: only
    it takes from ``requests`` when it is an iterator; the baseline answers any body alike)."""
    baseline_request = requests if isinstance(requests, bytes) else next(requests)
    sides = [
        [Connection(runner, side_requests) for _ in range(CONNECTIONS)]
        for runner, side_requests in zip(runners, (requests, baseline_request), strict=True)
    ]
    for connections in sides:  # warm-up, and a check that the route answers
        for response in await send_all(connections):
            status = response.split(b" ", 2)[1]
            if not status.startswith((b"2", b"3")):
                raise SystemExit(f"unexpected status {status.decode()}: {body_of(response)}")
        for _ in range(WARMUP):
            await send_all(connections)
    samples: list[list[float]] = [[] for _ in sides]
    for _ in range(ROUNDS):
        for connections, times in zip(sides, samples, strict=True):
            started = time.thread_time()
            for _ in range(BATCH):
                await send_all(connections)
            times.append((time.thread_time() - started) / (BATCH * CONNECTIONS) * 1e6)
    return [sorted(times)[ROUNDS // 10] for times in samples]


def body_of(response: bytes) -> str:
    return response.partition(b"\r\n\r\n")[2].decode()


async def run(redis_url: str) -> None:
    settings = Settings.from_env("runtime", services.service_env(redis_url, 0))
    # A conversation to resume, and one per webhook the webhook row sends (and one more for
    # the baseline's, which any body does).
    conversations = 1 + (REQUESTS + 1 if ONLY in WEBHOOK_ROW else 0)
    data = await seed(settings, conversations, 0)
    runtime = web.AppRunner(create_app(settings), access_log=None)
    await runtime.setup()
    try:
        await measure(runtime, data.widget_id, data.conversation_ids)
    finally:
        await runtime.cleanup()


WEBHOOK_ROW = "livekit webhook (participant_joined)"


def webhook_request(body: str, authorization: str) -> bytes:
    return raw_request("POST", "/livekit/webhook", body, f"Authorization: {authorization}\r\n")


def webhooks(conversation_ids: list[str]) -> Iterator[bytes]:
    """A signed ``participant_joined`` of each conversation's visitor (bench/webhooks.py)."""
    lines = WebhookLines(services.LIVEKIT_KEY, services.LIVEKIT_SECRET)
    signed = [webhook_request(*lines(cid).split("\t")) for cid in conversation_ids]
    return iter(signed)


async def measure(runtime: web.AppRunner, widget_id: str, conversation_ids: list[str]) -> None:
    """Print a row per scenario, against a baseline answering what ``runtime`` answered."""
    widget_path = "/core/public/web-widgets/" + widget_id
    widget = await Connection(runtime, raw_request("GET", widget_path)).send()
    etag = next(line.split(b": ", 1)[1].decode() for line in widget.split(b"\r\n")
                if line.lower().startswith(b"etag:"))
    start = raw_request("POST", widget_path + "/conversations", '{"user_id": "visitor-1"}')
    resume = raw_request("POST", widget_path + "/conversations", json.dumps(
        {"user_id": VISITOR, "conversation_id": conversation_ids[0]}
    ))
    # The baseline answers the bytes the service answered, as in make bench (whose resume row
    # also takes the start's bytes: the same route, answers of the same shape).
    bodies = {name: "{}" for name in baseline_app.ROUTES}
    bodies["widget"] = body_of(widget)
    bodies["start"] = body_of(await Connection(runtime, start).send())
    # Every webhook the service takes answers these bytes (an unknown room's, signed).
    unknown = WebhookLines(services.LIVEKIT_KEY, services.LIVEKIT_SECRET)("bench-capture")
    bodies["webhook"] = body_of(
        await Connection(runtime, webhook_request(*unknown.split("\t"))).send()
    )
    baseline = web.AppRunner(baseline_app.create_app(bodies), access_log=None)
    await baseline.setup()
    rows: list[tuple[str, bytes | Iterator[bytes]]] = [
        ("public widget GET (cache hit)", raw_request("GET", widget_path)),
        ("public widget GET, If-None-Match",
         raw_request("GET", widget_path, headers=f"If-None-Match: {etag}\r\n")),
        ("conversation start", start),
        ("conversation resume", resume),
    ]
    if ONLY in WEBHOOK_ROW:
        rows.append((WEBHOOK_ROW, webhooks(conversation_ids[1:])))
    try:
        await print_rows(runtime, baseline, rows)
    finally:
        await baseline.cleanup()


async def print_rows(
    service: web.AppRunner, baseline: web.AppRunner,
    rows: list[tuple[str, bytes | Iterator[bytes]]],
) -> None:
    """A line per row (those BENCH_ONLY names): CPU µs per request on each side, the ratio."""
    print(f"{'scenario':36} {'service us':>10} {'baseline us':>11} {'ratio':>6}")
    for name, request in rows:
        if ONLY not in name:
            continue
        service_us, baseline_us = await compare((service, baseline), request)
        print(f"{name:36} {service_us:10.2f} {baseline_us:11.2f} "
              f"{baseline_us / service_us:6.2f}", flush=True)


def main(run: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    """``run`` against a private Redis, on the services' event loop."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-inprocess-"))
    redis = RedisProcess(data_dir=workdir / "redis").start()
    loop, _ = new_event_loop()
    try:
        loop.run_until_complete(run(redis.url))
    finally:
        loop.close()
        redis.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(run)
