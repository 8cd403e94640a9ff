"""What a conversation costs Redis: memory and CPU, started, then through its lifecycle.

Conversations started through the runtime's public API (distinct visitors, as on a real site,
so each also opens its visitor's index), with ``INFO`` read before and after: ``used_memory`` per
start and ``used_cpu_user`` + ``used_cpu_sys`` per start (every command and script a start
sends). Then the parts, with ``MEMORY USAGE``: per conversation for the keys of its own (hash,
locator, visitor index; a sample of them), and as the growth of the shared keys (the widget's,
status and organization indexes, the due index, the events stream). Then what the lifecycle
adds to a sample of them, through the same ``Lifecycle`` calls the LiveKit webhooks and the
agent's report make: a call that completes (visitor and agent join, the visitor leaves, the room
finishes, the sweep ends it), and, while it is in progress, the agent's report with a summary and
a transcript of ``TRANSCRIPT_ITEMS`` turns; each measured with ``MEMORY USAGE`` of the sample's
hashes and the shared keys (``INFO`` moves by more than a thousand calls add).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from redis.asyncio import Redis

from common.lifecycle.lifecycle import DUE_SHARDS, Lifecycle, WebhookFact
from common.redis_keys import RedisKeys
from common.settings import Settings
from common.timeutil import iso_from_ms, now_ms

STARTS = int(os.environ.get("BENCH_MEMORY_STARTS", "100000"))
CONCURRENCY = 16
SAMPLE = 1000  # conversations whose own keys are measured, and taken through the lifecycle
TRANSCRIPT_ITEMS = 20
TRANSCRIPT_TEXT = 120  # characters per turn
SUMMARY_TEXT = 300


@dataclass
class Report:
    starts: int
    bytes_per_start: float
    cpu_us_per_start: float
    parts: dict[str, float] = field(default_factory=dict)  # bytes per start, by part
    completed_bytes: float = 0.0  # what a completed call adds, per conversation (no report)
    report_bytes: float = 0.0  # what the agent's report adds, per conversation


async def _info(redis: Redis) -> tuple[int, float]:
    memory, cpu = await redis.info("memory"), await redis.info("cpu")
    return int(memory["used_memory"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def _usage(redis: Redis, keys: Iterable[str]) -> int:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key, samples=0)
        return sum(size or 0 for size in await pipe.execute())


def _shared(keys: RedisKeys, widget_id: str, org_id: str) -> dict[str, list[str]]:
    return {
        "status indexes": keys.conversation_indexes(widget_id),
        "organization index": [keys.org_conversations(org_id)],
        "due index": [keys.due_conversations(shard) for shard in range(DUE_SHARDS)],
        "events stream": [keys.events_stream()],
    }


async def _start_all(url: str, starts: int) -> list[dict[str, Any]]:
    started: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:

        async def visitors(first: int) -> None:
            for n in range(first, starts, CONCURRENCY):
                body = {"user_id": f"guest_memory_{n:08d}"}
                async with session.post(url, json=body) as resp:
                    if resp.status != 200:
                        raise SystemExit(f"memory row: a start answered {resp.status}")
                    started.append((await resp.json())["conversation"])

        await asyncio.gather(*(visitors(first) for first in range(CONCURRENCY)))
    return started


# A call's LiveKit webhooks: (kind, who, participant sid, seconds after it starts).
CALL = (
    ("participant_joined", "visitor", "PA_visitor", 0),
    ("participant_joined", "agent", "PA_agent", 1),
    ("participant_left", "visitor", "PA_visitor", 95),
    ("room_finished", "other", "", 96),
)


async def _call(
    life: Lifecycle, widget_id: str, conversation_id: str, at: int,
    webhooks: Iterable[tuple[str, str, str, int]],
) -> None:
    room = await life.redis.hget(life.keys.conversation(widget_id, conversation_id), "room")
    assert room is not None
    for kind, who, sid, after in webhooks:
        fact = WebhookFact(
            f"EV_{conversation_id[:12]}_{kind}_{who}", kind, room.decode(), at + after, who, sid
        )
        await life.event(widget_id, conversation_id, fact, (at + after) * 1000)


def _transcript(at_ms: int) -> list[dict[str, Any]]:
    words = ["thanks", "for", "calling", "how", "can", "I", "help", "with", "your", "order"]
    return [
        {
            "role": "user" if turn % 2 == 0 else "agent",
            "text": " ".join(random.choice(words) for _ in range(40))[:TRANSCRIPT_TEXT],
            "at": iso_from_ms(at_ms + turn * 4000),
        }
        for turn in range(TRANSCRIPT_ITEMS)
    ]


async def measure(
    redis_url: str, runtime_url: str, widget_id: str, settings: Settings,
    starts: int = STARTS,
) -> Report:
    url = f"{runtime_url}/core/public/web-widgets/{widget_id}/conversations"
    keys = RedisKeys(settings.redis_key_prefix)
    redis = Redis.from_url(redis_url)
    try:
        stored = await redis.get(keys.widget(widget_id))
        org_id = msgspec.json.decode(stored or b"{}").get("organization_id", "")
        memory_before, cpu_before = await _info(redis)
        shared_before = {
            part: await _usage(redis, names)
            for part, names in _shared(keys, widget_id, org_id).items()
        }
        started = await _start_all(url, starts)
        memory_after, cpu_after = await _info(redis)
        report = Report(
            starts=starts,
            bytes_per_start=(memory_after - memory_before) / starts,
            cpu_us_per_start=(cpu_after - cpu_before) / starts * 1e6,
        )
        for part, names in _shared(keys, widget_id, org_id).items():
            grown = await _usage(redis, names) - shared_before.get(part, 0)
            report.parts[part] = grown / starts
        sample = started[:SAMPLE]
        for part, key_of in (
            ("conversation hash", lambda c: keys.conversation(widget_id, c["id"])),
            ("owner locator", lambda c: keys.conversation_owner(c["id"])),
            ("visitor index", lambda c: keys.user_conversations(widget_id, c["user_id"])),
        ):
            report.parts[part] = await _usage(redis, map(key_of, sample)) / len(sample)

        life = Lifecycle(
            redis, keys, settings.lifecycle_settle, settings.events_retention,
            settings.stats_retention,
        )
        hashes = [keys.conversation(widget_id, c["id"]) for c in sample]
        touched = [*hashes, *(k for names in _shared(keys, widget_id, org_id).values()
                              for k in names)]
        at = now_ms() // 1000
        before = await _usage(redis, touched)
        for conversation in sample:
            await _call(life, widget_id, conversation["id"], at, CALL[:2])
        joined = await _usage(redis, touched)
        for conversation in sample:
            await life.report(widget_id, conversation["id"], {
                "user_turn_count": TRANSCRIPT_ITEMS // 2,
                "summary": ("The visitor asked about an order. " * 20)[:SUMMARY_TEXT],
                "transcript": _transcript(at * 1000),
            }, (at + 90) * 1000, 1000, 256 * 1024, 600_000)
        reported = await _usage(redis, touched)
        for conversation in sample:
            await _call(life, widget_id, conversation["id"], at, CALL[2:])
        # The sweep at the end of the settle time ends each call (the runtime's own sweep may
        # take some first; either way they end).
        await life.sweep((at + 96) * 1000 + int(settings.lifecycle_settle * 1000) + 1)
        report.completed_bytes = (joined - before + await _usage(redis, touched) - reported) / len(
            sample
        )
        report.report_bytes = (reported - joined) / len(sample)
        status = await redis.hget(hashes[0], "s")
        if status != b"completed":
            raise SystemExit(f"memory row: a sampled call ended {status!r}, not completed")
    finally:
        await redis.aclose()
    return report
