"""The lifecycle sweep with two real runtime processes on one Redis: every unused token is
cancelled exactly once, with one conversation.ended event each and none lost."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter

from redis.asyncio import Redis

from common.ids import new_id
from common.lifecycle.lifecycle import due_member, due_shard
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess, free_port
from common.timeutil import iso_from_ms, now_ms
from tests.support.conversations import store_doc
from tests.support.events import stream_events
from tests.support.paths import ROOT

COUNT = 60


def metric(port: int, name: str, label: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(rf'^{name}{{action="{label}"}} (\S+)$', text, re.M)
    return 0 if match is None else int(float(match.group(1)))


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


async def seed(redis: Redis, keys: RedisKeys, count: int) -> list[str]:
    """Conversations whose token expired unused, due now."""
    ids = []
    expired = now_ms() - 120_000
    for _ in range(count):
        widget, cid = new_id(), new_id()
        doc = {
            "id": cid, "organization_id": "org", "direction": "inbound", "channel": "webrtc",
            "status": "token_created", "user_id": "u", "agent_id": "a", "agent_version_id": "v",
            "web_widget_id": widget, "duration": None, "user_turn_count": None,
            "created_at": iso_from_ms(expired), "updated_at": iso_from_ms(expired),
        }
        await store_doc(
            redis, keys, doc, ix=f"{expired:013d}:{cid}", room=f"ww-{cid}-00000000",
            deadline=expired,
        )
        await redis.zadd(keys.due_conversations(due_shard(cid)), {due_member(widget, cid): 0})
        ids.append(cid)
    return ids


async def test_two_pods_cancel_each_unused_token_exactly_once(redis_proc: RedisProcess) -> None:
    redis = Redis.from_url(redis_proc.url)
    keys = RedisKeys("test")
    ids = await seed(redis, keys, COUNT)
    ports = [free_port(), free_port()]
    env = {
        **os.environ, "REDIS_URL": redis_proc.url, "REDIS_KEY_PREFIX": "test",
        "LIFECYCLE_SETTLE": "0", "LIFECYCLE_SWEEP_INTERVAL": "0.02", "LOG_LEVEL": "WARNING",
    }
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
            [sys.executable, "-m", "runtime_service"], cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 30
        while not all(ready(p) for p in ports):
            assert time.monotonic() < deadline, "the runtime processes did not start"
            await asyncio.sleep(0.1)
        while True:
            ended = [
                fields for _, fields in await redis.xrange(keys.events_stream())
                if fields[b"type"] == b"conversation.ended"
            ]
            if len({f[b"conversation_id"] for f in ended}) == COUNT:
                break
            assert time.monotonic() < deadline, f"only {len(ended)} ended"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything a second pod would wrongly add, it adds now
        ended = [
            fields for _, fields in await redis.xrange(keys.events_stream())
            if fields[b"type"] == b"conversation.ended"
        ]
        # One event id per conversation (an entry repeated with the same id would be de-duplicated
        # by consumers; the claims make even that rare).
        ids_by_conversation: dict[bytes, set[bytes]] = {}
        for fields in ended:
            ids_by_conversation.setdefault(fields[b"conversation_id"], set()).add(fields[b"id"])
        assert {k.decode() for k in ids_by_conversation} == set(ids)
        assert all(len(v) == 1 for v in ids_by_conversation.values())
        rendered = [e["event"] for e in await stream_events(redis, keys)
                    if e["type"] == "conversation.ended"]
        assert sorted(e["data"]["id"] for e in rendered) == sorted(ids)
        assert {e["data"]["status"] for e in rendered} == {"cancelled"}
        # Exactly once: the pods' counts of cancellations add up to the conversations.
        per_pod = [metric(p, "lifecycle_sweep_actions_total", "cancelled") for p in ports]
        assert sum(per_pod) == COUNT
        assert Counter(len(v) for v in ids_by_conversation.values()) == {1: COUNT}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        await redis.aclose()
