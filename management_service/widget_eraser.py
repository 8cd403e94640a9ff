"""The background erasure of deleted widgets' conversations (docs/architecture.md "Erasure").

The widget DELETE queues a job (management_service/erasure_queue.py) *before* it deletes the
document; every management pod runs a ``WidgetEraser`` that claims due jobs with a lease, so any
number of pods share the work and a pod that dies leaves its job to the lease's end. A job, in
bounded steps, each saved before the next:

1. ``org``: walks the organization's index from a saved cursor (at most ``scan`` members a step)
   and erases the widget's conversations there (each: tombstone, organization and due entries,
   the widget-slot script, locator; see conversation_erasure.py);
2. ``widget``: erases what is still in the widget's own index (a conversation whose organization
   entry was never written), then deletes the widget-slot keys by their known names (indexes,
   status indexes, the daily stats from the widget's creation to now). The per-address rate
   limiter keys cannot be named, and need not be: each expires within its limit's period;
3. once more, ``WIDGET_ERASER_RECHECK`` seconds after the deletion: a runtime pod may still have
   started a conversation from its cached copy of the widget (its cache holds a widget at most
   ``WIDGET_CACHE_TTL``); the ``org`` and ``widget`` steps run again over the organization's
   conversations created since the deletion (minus that delay), then the job ends.

While the widget's document still exists the job waits: the DELETE queued it and has not deleted
the document yet (or failed to, and then the job is dropped after an hour).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from common.redis_keys import RedisKeys
from common.timeutil import now_ms
from management_service.conversation_erasure import ConversationEraser
from management_service.erasure_queue import ErasureQueue

log = logging.getLogger(__name__)

LEASE_MS = 60_000
# A job whose widget still exists this long after the DELETE queued it: the delete failed.
ABANDON_MS = 3_600_000
# Jobs one pass works on at most before it yields to the next interval.
STEPS_PER_PASS = 100
_DELETE_CHUNK = 500


def stats_days(created_ms: int, until_ms: int) -> list[str]:
    """Every UTC day (``YYYY-MM-DD``) from the widget's creation to ``until_ms``."""
    day = datetime.fromtimestamp(created_ms / 1000, UTC).date()
    last = datetime.fromtimestamp(until_ms / 1000, UTC).date()
    days = []
    while day <= last:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


class WidgetEraser:
    def __init__(
        self, redis: Redis, keys: RedisKeys, eraser: ConversationEraser, *, batch: int,
        recheck_ms: int, retry_ms: int, scan: int = 1000,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.eraser = eraser
        self.queue = ErasureQueue(redis, keys)
        self.batch = batch
        self.recheck_ms = recheck_ms
        self.retry_ms = retry_ms
        self.scan = scan
        # Jobs: finished, abandoned (the widget was never deleted), error.
        self.jobs: Counter[str] = Counter()

    async def run_once(self, now: int | None = None) -> int:
        """Work on due jobs, one step each claim, until none is due (or STEPS_PER_PASS).
        Returns how many steps it took."""
        steps = 0
        while steps < STEPS_PER_PASS:
            at = now_ms() if now is None else now
            lease = at + LEASE_MS
            member = await self.queue.claim(at, lease)
            if member is None:
                break
            steps += 1
            try:
                await self._step(member, lease, at)
            except Exception:  # the lease ends and a later pass retries from the saved step
                self.jobs["error"] += 1
                log.exception("erasing the conversations of %s failed", member)
                break
        return steps

    async def _step(self, member: str, lease: int, now: int) -> None:
        org_id, _, widget_id = member.partition(":")
        job = await self.queue.state(member)
        deleted_ms = int(job.get("deleted_ms", now))
        if await self.redis.exists(self.keys.widget(widget_id)):
            if now - deleted_ms > ABANDON_MS:
                await self.queue.done(member, lease)
                self.jobs["abandoned"] += 1
            else:
                await self.queue.save(member, lease, now + self.retry_ms)
            return
        if job.get("phase", "org") == "org":
            await self._org_step(member, lease, now, org_id, widget_id, job.get("cursor", "-"))
            return
        if not await self._widget_step(widget_id, int(job.get("created_ms", deleted_ms)), now):
            await self.queue.save(member, lease, now)
        elif job.get("pass", "1") == "1" and self.recheck_ms:
            # Once more after the delay, over what was created since the deletion (less the
            # delay: a start in flight at the deletion wrote its member with an earlier time).
            since = max(deleted_ms - self.recheck_ms, 0)
            await self.queue.save(
                member, lease, max(now, deleted_ms + self.recheck_ms),
                phase="org", cursor=f"({since:013d}", **{"pass": 2},
            )
        elif await self.queue.done(member, lease):
            self.jobs["finished"] += 1

    async def _org_step(
        self, member: str, lease: int, now: int, org_id: str, widget_id: str, cursor: str
    ) -> None:
        index = self.keys.org_conversations(org_id)
        found: list[Any] = await self.redis.zrangebylex(index, cursor, "+", 0, self.scan)
        members = [bytes(m).decode() for m in found]
        erased, last = 0, None
        for entry in members:
            last = entry
            _, conversation_id, owner = entry.split(":")
            if owner != widget_id:
                continue
            await self.eraser.erase(widget_id, conversation_id, "widget")
            # Also when the record had expired (then nothing else named the entry).
            await self.redis.zrem(index, entry)
            erased += 1
            if erased == self.batch:
                break
        if last is None or (len(members) < self.scan and last == members[-1]):
            await self.queue.save(member, lease, now, phase="widget", cursor="")
        else:
            await self.queue.save(member, lease, now, cursor="(" + last)

    async def _widget_step(self, widget_id: str, created_ms: int, now: int) -> bool:
        """Erase a batch from the widget's indexes (its status indexes: every conversation is
        in one); True once they are empty and the widget-slot keys are deleted."""
        indexes = self.keys.conversation_indexes(widget_id)
        taken = 0
        for index in indexes:
            found: list[Any] = await self.redis.zrange(index, 0, self.batch - taken - 1)
            for raw in found:
                ix = bytes(raw).decode()
                await self.eraser.erase(widget_id, ix.partition(":")[2], "widget")
                await self.redis.zrem(index, ix)  # an expired record's entry too
            taken += len(found)
            if taken >= self.batch:
                return False
        names = [
            *indexes,
            *(self.keys.widget_stats(widget_id, day) for day in stats_days(created_ms, now)),
        ]
        # All in the widget's slot: a multi-key DEL per chunk, also on Redis Cluster.
        for start in range(0, len(names), _DELETE_CHUNK):
            await self.redis.delete(*names[start:start + _DELETE_CHUNK])
        return True
