"""Load soak: mixed public traffic against two runtime instances while a widget is updated through
management every ~100 ms and the (durable) Redis is stopped once and restarted on the same port
and data directory. Loopback only, bounded in time, and it stops by itself.

Afterwards, from the record of every request (sent and answered times, status, value served):

- no 5xx but 503, and every 503 overlaps the outage window (stop begun .. restart done + a
  recovery allowance); no request fails at the client level (no dropped connection) or waits
  longer than twice the Redis timeout;
- no stale widget: a GET sent later than ``STALE_BOUND`` after a write was acknowledged serves
  that write or a newer one (the write and its invalidation event are one script, and each pod
  drops the entry when the event arrives, or reads Redis while its subscription is down and
  clears its cache on resubscribing: docs/architecture.md, "Read path"; the bound allows for
  the event's delivery on a busy 2-core machine);
- cached widgets keep being served (200/304) while Redis is down;
- every conversation and every feedback acknowledged with 200 is in Redis afterwards, the feedback
  exactly as first submitted (never replaced by a duplicate); every deliberate duplicate gets 409.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from management_service.app import create_app as create_management
from runtime_service.app import create_app as create_runtime
from tests.support.seed import FEEDBACK_CONFIG
from tests.support.settings import DURABLE, make_settings
from tests.support.widget_helpers import create_widget, make_version

PREFIX = "/core/public/web-widgets"
MANAGE = "/core/web-widgets"

BEFORE = 2.5  # seconds of traffic before the outage
DOWN = 1.5  # Redis stopped for this long (after its stop completed)
AFTER = 3.5  # traffic after the restart
UPDATE_EVERY = 0.1
# A GET sent this long after a write's acknowledgement must serve it (or newer).
STALE_BOUND = 1.0
# 503s may still be answered this long after the restart completed (pools reconnect, the
# listeners resubscribe with a backoff of at most 1 s).
RECOVERY = 2.0
REDIS_TIMEOUT = 1.0
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=5 * REDIS_TIMEOUT)
PAUSE = 0.01  # between one client's requests: load, not a busy loop on a shared machine


@dataclass
class Hit:
    kind: str
    pod: int  # runtime instance (0, 1); -1 for management
    sent: float
    answered: float
    status: int  # 0: no HTTP answer (client timeout or connection error)
    seq: int | None = None  # the updated widget's value, for widget GETs
    detail: str = ""


@dataclass
class Outage:
    stop_begun: float = float("inf")
    stopped: float = float("inf")
    restart_begun: float = float("inf")
    restarted: float = float("inf")

    def overlaps(self, hit: Hit) -> bool:
        return hit.answered >= self.stop_begun and hit.sent <= self.restarted + RECOVERY

    def surely_down(self, hit: Hit) -> bool:
        return hit.sent >= self.stopped and hit.answered <= self.restart_begun


@dataclass
class Record:
    hits: list[Hit] = field(default_factory=list)
    acks: list[tuple[int, float]] = field(default_factory=list)  # (seq, acknowledged at)
    conversations: set[str] = field(default_factory=set)  # started with 200
    feedback: dict[str, dict[str, Any]] = field(default_factory=dict)  # acknowledged with 200
    # First submissions not acknowledged (503, or 409 when a retry met its own commit).
    unacknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates_to_resend: list[tuple[int, str]] = field(default_factory=list)


# Durable: what was acknowledged survives the restart, and a crash too (docs/operations.md).
REDIS_ARGS = DURABLE


class Soak:
    def __init__(self, management: Any, runtimes: list[Any], auth: dict[str, str]) -> None:
        self.management = management
        self.runtimes = runtimes
        self.auth = auth
        self.record = Record()
        self.outage = Outage()
        self.stop = asyncio.Event()
        self.etag_seq: dict[str, int] = {}

    async def call(
        self, kind: str, pod: int, method: str, path: str, **kwargs: Any
    ) -> tuple[Hit, Any, str]:
        """Send one request; record it; return the hit, the JSON body (or None) and the ETag."""
        client = self.management if pod < 0 else self.runtimes[pod]
        sent = time.monotonic()
        try:
            async with client.request(method, path, timeout=CLIENT_TIMEOUT, **kwargs) as resp:
                body = await resp.read()
                status, etag = resp.status, resp.headers.get("ETag", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            hit = Hit(kind, pod, sent, time.monotonic(), 0, detail=repr(exc))
            self.record.hits.append(hit)
            return hit, None, ""
        hit = Hit(kind, pod, sent, time.monotonic(), status)
        parsed = None
        if body and resp.content_type == "application/json":
            parsed = json.loads(body)
            if status >= 400:
                hit.detail = str(parsed.get("detail"))[:200]
        self.record.hits.append(hit)
        return hit, parsed, etag

    # --- clients --------------------------------------------------------------------------

    async def updater(self, widget_id: str) -> None:
        seq = 0
        while not self.stop.is_set():
            seq += 1
            config = {"v1": {"theme": "dark"}, "soak_seq": seq}
            hit, _, _ = await self.call(
                "update", -1, "PUT", f"{MANAGE}/{widget_id}", json={"config": config},
                headers=self.auth,
            )
            if hit.status == 200:
                self.record.acks.append((seq, hit.answered))
            await asyncio.sleep(UPDATE_EVERY)

    async def reader(self, n: int, updated: str, static: str) -> None:
        rng = random.Random(n)
        etags: dict[tuple[int, str], str] = {}
        while not self.stop.is_set():
            pod = rng.randrange(2)
            widget_id = updated if rng.random() < 0.7 else static
            headers = {}
            if (pod, widget_id) in etags and rng.random() < 0.5:
                headers["If-None-Match"] = etags[pod, widget_id]
            kind = "get-updated" if widget_id == updated else "get-static"
            hit, body, etag = await self.call(
                kind, pod, "GET", f"{PREFIX}/{widget_id}", headers=headers
            )
            if hit.status == 200:
                etags[pod, widget_id] = etag
                if widget_id == updated:
                    hit.seq = body["config"].get("soak_seq", 0)
                    self.etag_seq[etag] = hit.seq
            elif hit.status == 304 and widget_id == updated:
                hit.seq = self.etag_seq[headers["If-None-Match"]]
            await asyncio.sleep(PAUSE)

    async def visitor(self, n: int, widget_id: str) -> None:
        """Start a conversation on one pod, give its feedback on the other, then a duplicate."""
        rng = random.Random(1000 + n)
        i = 0
        url = f"{PREFIX}/{widget_id}/conversations"
        while not self.stop.is_set():
            i += 1
            pod = rng.randrange(2)
            hit, body, _ = await self.call(
                "start", pod, "POST", url, json={"user_id": f"soak-{n}"}
            )
            if hit.status != 200:
                await asyncio.sleep(PAUSE)
                continue
            cid = body["conversation"]["id"]
            self.record.conversations.add(cid)
            data = {"rating": 1 + i % 5, "comment": f"visitor {n}, conversation {i}"}
            feedback = f"{url}/{cid}/feedback"
            hit, _, _ = await self.call(
                "feedback", 1 - pod, "POST", feedback, json={"data": data}
            )
            if hit.status == 200:
                self.record.feedback[cid] = data
                again = {"rating": 5 - i % 5, "comment": "a duplicate"}
                dup, _, _ = await self.call(
                    "duplicate", pod, "POST", feedback, json={"data": again}
                )
                if dup.status == 503:
                    self.record.duplicates_to_resend.append((pod, feedback))
            else:
                self.record.unacknowledged[cid] = data
            await asyncio.sleep(PAUSE)

    async def lister(self, widget_id: str) -> None:
        pod = 0
        while not self.stop.is_set():
            pod = 1 - pod
            await self.call(
                "list", pod, "GET", f"{PREFIX}/{widget_id}/conversations?user_id=soak-0&limit=20"
            )
            await asyncio.sleep(0.02)

    async def restart_redis(self, proc: RedisProcess, how: str) -> None:
        await asyncio.sleep(BEFORE)
        self.outage.stop_begun = time.monotonic()
        await asyncio.to_thread(crash if how == "crash" else RedisProcess.stop, proc)
        self.outage.stopped = time.monotonic()
        await asyncio.sleep(DOWN)
        self.outage.restart_begun = time.monotonic()
        await asyncio.to_thread(proc.start)  # same port, same data directory
        self.outage.restarted = time.monotonic()
        await asyncio.sleep(AFTER)
        self.stop.set()


def crash(proc: RedisProcess) -> None:
    """SIGKILL: no shutdown, no final fsync; connections reset mid-command."""
    assert proc.proc is not None
    proc.proc.kill()
    proc.proc.wait()
    proc.proc = None


async def wait_ready(client: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (await client.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, "not ready"
        await asyncio.sleep(0.05)


def staleness(record: Record, gets: list[Hit]) -> tuple[list[str], float]:
    """GETs that served a value older than one acknowledged ``STALE_BOUND`` before they were
    sent, and the longest lag seen between an acknowledgement and a GET still missing it."""
    acks = sorted(record.acks, key=lambda ack: ack[1])
    violations, worst = [], 0.0
    for hit in gets:
        if hit.seq is None:
            continue
        missed = [(seq, at) for seq, at in acks if at <= hit.sent and seq > hit.seq]
        if not missed:
            continue
        lag = hit.sent - missed[0][1]  # since the first acknowledged write it does not show
        worst = max(worst, lag)
        if lag > STALE_BOUND:
            violations.append(
                f"pod {hit.pod} served seq {hit.seq} to a GET sent {lag:.3f}s after seq "
                f"{missed[0][0]} was acknowledged ({len(missed)} acknowledged writes behind)"
            )
    return violations, worst


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["stop", "crash"])
async def test_soak_mixed_traffic_through_a_redis_restart(
    how: str,
    aiohttp_client: Any,
    redis_proc: RedisProcess,
    redis: Redis,
    keys: RedisKeys,
    org_with_key: Any,
) -> None:
    def settings(service: str) -> Any:
        return make_settings(service, redis_proc.url, redis_timeout=REDIS_TIMEOUT)

    management = await aiohttp_client(create_management(settings("management")))
    runtimes = [await aiohttp_client(create_runtime(settings("runtime"))) for _ in range(2)]
    _, auth = await org_with_key()
    pair = await make_version(management, auth, published=True)
    updated = await create_widget(management, auth, pair, published=True, config={})
    static = await create_widget(management, auth, pair, published=True, config=FEEDBACK_CONFIG)
    for runtime in runtimes:
        await wait_ready(runtime)
        for widget in (updated, static):  # cached on both pods before the outage
            assert (await runtime.get(f"{PREFIX}/{widget['id']}")).status == 200

    soak = Soak(management, runtimes, auth)
    await asyncio.gather(
        soak.restart_redis(redis_proc, how),
        soak.updater(updated["id"]),
        *(soak.reader(n, updated["id"], static["id"]) for n in range(4)),
        *(soak.visitor(n, static["id"]) for n in range(3)),
        soak.lister(static["id"]),
    )
    record, outage = soak.record, soak.outage
    hits = record.hits

    # Recovered without a restart of any app: ready again, and duplicates refused as 409.
    for runtime in runtimes:
        await wait_ready(runtime, within=RECOVERY)
    for pod, feedback in record.duplicates_to_resend:
        resp = await runtimes[pod].post(feedback, json={"data": {"rating": 2}})
        assert resp.status == 409, (feedback, resp.status)

    # 1. No hang, no dropped connection, no 5xx but 503, and 503 only around the outage.
    failed = [h for h in hits if h.status == 0]
    assert not failed, failed[:5]
    # Every Redis call is bounded by REDIS_TIMEOUT: no answer waits for the restart.
    slow = [h for h in hits if h.answered - h.sent > 2 * REDIS_TIMEOUT]
    assert not slow, slow[:5]
    misplaced = [h for h in hits if h.status >= 500 and (h.status != 503 or not outage.overlaps(h))]
    assert not misplaced, (misplaced[:5], outage)
    unavailable = [h for h in hits if h.status == 503]
    assert unavailable, "the outage was not seen by any request: the soak proved nothing"

    # Every other answer is the expected one for its kind.
    expected = {
        "update": {200}, "get-updated": {200, 304}, "get-static": {200, 304}, "start": {200},
        "feedback": {200}, "duplicate": {409}, "list": {200},
    }
    odd = [
        h for h in hits
        if h.status != 503 and h.status not in expected[h.kind]
        # A first submission whose reply was lost with the connection, retried by the client
        # library, meets its own commit: 409, and its data is what is stored (checked below).
        and not (h.kind == "feedback" and h.status == 409 and outage.overlaps(h))
    ]
    assert not odd, odd[:5]

    # Traffic ran on both pods before and after the outage, with acknowledged writes after it.
    for kind in expected:
        for pod in (0, 1) if kind != "update" else (-1,):
            mine = [h for h in hits if h.kind == kind and h.pod == pod and h.status < 500]
            assert any(h.answered < outage.stop_begun for h in mine), (kind, pod, "before")
            assert any(h.sent > outage.restarted + RECOVERY for h in mine), (kind, pod, "after")
    assert any(at > outage.restarted for _, at in record.acks)

    # 2. Cached widgets were served while Redis was surely down.
    down = [h for h in hits if h.kind == "get-static" and outage.surely_down(h)]
    assert down, "no cached-widget GET while Redis was down"
    assert all(h.status in (200, 304) for h in down), [h for h in down if h.status >= 300][:5]

    # 3. No stale widget past the bound, on either pod.
    gets = [h for h in hits if h.kind == "get-updated" and h.seq is not None]
    violations, worst = staleness(record, gets)
    assert not violations, (len(violations), violations[:5])
    # And both pods end on the last acknowledged write (the updater's last PUT has returned).
    last_seq, last_ack = max(record.acks)
    await asyncio.sleep(max(0.0, last_ack + STALE_BOUND - time.monotonic()))
    for runtime in runtimes:
        body = await (await runtime.get(f"{PREFIX}/{updated['id']}")).json()
        assert body["config"]["soak_seq"] == last_seq

    # 4. Every acknowledged conversation and feedback survived the restart, once, as submitted.
    await redis.connection_pool.disconnect()  # the test's own client: drop dead connections
    widget_id = static["id"]
    for cid in record.conversations:
        assert await redis.hexists(keys.conversation(widget_id, cid), "s"), cid
    assert record.feedback, "no feedback acknowledged"
    for cid, data in record.feedback.items():
        raw = await redis.hget(keys.conversation(widget_id, cid), "feedback")
        assert raw is not None, f"acknowledged feedback lost: {cid}"
        assert json.loads(raw)["data"] == data, (cid, raw)
    for cid, data in record.unacknowledged.items():
        raw = await redis.hget(keys.conversation(widget_id, cid), "feedback")
        assert raw is None or json.loads(raw)["data"] == data, (cid, raw)

    summary = {
        "requests": len(hits), "503": len(unavailable), "acks": len(record.acks),
        "feedback": len(record.feedback), "worst_stale_lag_s": round(worst, 3),
        "outage_s": round(outage.restarted - outage.stop_begun, 3),
        "slowest_s": round(max(h.answered - h.sent for h in hits), 3),
        "last_503_after_restart_s": round(
            max(h.answered for h in unavailable) - outage.restarted, 3
        ),
        "first_feedback_409": sum(h.kind == "feedback" and h.status == 409 for h in hits),
        "stale_served_while_down": len(down),
    }
    print(f"soak ({how}):", summary)
