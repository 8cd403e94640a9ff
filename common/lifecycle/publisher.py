"""The one way conversation events reach the events stream: XADD each, then HDEL its outbox field.

Every writer of a conversation event (the start, feedback, the lifecycle script's calls and its
sweep) first writes the event to an ``outbox:<id>`` field of the conversation's hash, in the same
script as the change it reports, and is on the due index (docs/lifecycle.md). Publishing is then
best effort: an event still in its outbox is published again by the sweep (same id, so a
consumer sees at most a repeat). The field is deleted only once the event is on the stream:
deleted first, a failed XADD would lose it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from common.lifecycle.events import OutboxEvent, xadd_command
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys

log = logging.getLogger(__name__)


def logged(future: asyncio.Future[Any]) -> None:
    """For a command nobody awaits: its error is logged, not left unretrieved. A failed due ZADD
    or HDEL costs at most a late sweep or a repeated event (same id); a failed trim or expiry of
    an organization's index, entries kept a little longer or an index expiring early (the next
    start lengthens it again)."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("bookkeeping command failed: %s", future.exception())


class EventPublisher:
    def __init__(self, batch: RedisBatch, keys: RedisKeys, retention: int) -> None:
        self.batch = batch
        self.keys = keys
        self.retention = retention  # EVENTS_RETENTION (s): the stream is trimmed by age
        self.published = 0
        self.failures = 0

    async def publish(
        self, conversation_key: str, events: Sequence[OutboxEvent], now_ms: int,
        *, confirm: bool = False,
    ) -> bool:
        """XADD ``events`` (one pipeline), then HDEL their outbox fields of
        ``conversation_key``: without waiting, unless ``confirm`` (the sweep, which must know
        the outbox is empty before it takes the conversation off the due index). False when
        something failed: what is left in the outbox is the sweep's."""
        xadds = [
            self.batch.execute(*xadd_command(
                self.keys, event.id, event.kind, event.organization_id, event.widget_id,
                event.conversation_id, event.body, now_ms, self.retention,
                snapshot=True,
            ))
            for event in events
        ]
        # Every outcome is read (no error left unretrieved); the first error counts.
        error: Exception | None = None
        for xadd in xadds:
            try:
                await xadd
            except Exception as exc:
                error = error or exc
        if error is not None:
            return self.failed(error)
        self.published += len(events)
        deleted = self.batch.execute("HDEL", conversation_key, *[e.field for e in events])
        if not confirm:  # the answer need not wait for the bookkeeping
            deleted.add_done_callback(logged)
            return True
        try:
            await deleted
        except Exception as exc:
            return self.failed(exc)
        return True

    def failed(self, error: Exception) -> bool:
        """Count and log a publication left to the sweep."""
        self.failures += 1
        log.warning("events not published yet; the sweep will", exc_info=error)
        return False
