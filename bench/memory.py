"""What a started conversation costs Redis: memory and CPU.

Conversations started through the runtime's public API (distinct visitors, as on a real site,
so each also opens its visitor's index entries), with ``INFO`` read before and after:
``used_memory`` per start (the conversation's hash, its locator, its widget, status, visitor and
organization index entries, its due-index member and its ``conversation.started`` event on the
events stream, which ``EVENTS_RETENTION`` trims sooner than the rest), and ``used_cpu_user`` +
``used_cpu_sys`` per start (every command and script a start sends).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis

STARTS = int(os.environ.get("BENCH_MEMORY_STARTS", "100000"))
CONCURRENCY = 16


@dataclass
class Report:
    starts: int
    bytes_per_start: float
    cpu_us_per_start: float


async def _info(redis: Redis) -> tuple[int, float]:
    memory, cpu = await redis.info("memory"), await redis.info("cpu")
    return int(memory["used_memory"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def measure(redis_url: str, runtime_url: str, widget_id: str, starts: int = STARTS) -> Report:
    url = f"{runtime_url}/core/public/web-widgets/{widget_id}/conversations"
    redis = Redis.from_url(redis_url)
    try:
        memory_before, cpu_before = await _info(redis)
        async with aiohttp.ClientSession() as session:

            async def visitors(first: int) -> None:
                for n in range(first, starts, CONCURRENCY):
                    body = {"user_id": f"guest_memory_{n:08d}"}
                    async with session.post(url, json=body) as resp:
                        if resp.status != 200:
                            raise SystemExit(f"memory row: a start answered {resp.status}")
                        await resp.read()

            await asyncio.gather(*(visitors(first) for first in range(CONCURRENCY)))
        memory_after, cpu_after = await _info(redis)
    finally:
        await redis.aclose()
    return Report(
        starts=starts,
        bytes_per_start=(memory_after - memory_before) / starts,
        cpu_us_per_start=(cpu_after - cpu_before) / starts * 1e6,
    )
