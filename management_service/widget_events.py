"""``widget.updated`` and ``widget.deleted`` on the events stream, for outbound webhooks.

Published by management after the widget write has committed, as a separate XADD: best-effort,
unlike conversation events (which their Lua scripts keep in an outbox until published). A crash
between the write and the XADD loses the event, and a failed XADD is logged and counted, never
turned into a failed request: the write has happened and the client must hear so.
"""

from __future__ import annotations

import logging

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.lifecycle.events import event_around, new_event_id, xadd_command
from common.models.widget import Widget
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms

log = logging.getLogger(__name__)

_ENC = msgspec.json.Encoder()
UPDATED = "widget.updated"
DELETED = "widget.deleted"


class WidgetEvents:
    def __init__(
        self, redis: Redis, keys: RedisKeys, retention: int, batch: RedisBatch | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        # The app's command batch (common/redis_batch.py), as for the write before it.
        self.batch = batch if batch is not None else RedisBatch(redis)
        self.retention = retention
        self.outcomes = {"ok": 0, "failed": 0}  # the widget_events_published metric

    async def updated(self, widget: Widget, document: bytes) -> None:
        """``document``: the widget's JSON as written (the event's data)."""
        await self.publish(UPDATED, widget.organization_id, widget.id, document)

    async def deleted(self, organization_id: str, widget_id: str) -> None:
        data = _ENC.encode({"id": widget_id, "organization_id": organization_id})
        await self.publish(DELETED, organization_id, widget_id, data)

    async def publish(self, kind: str, organization_id: str, widget_id: str, data: bytes) -> None:
        """XADD one event; a failure is logged (WARNING) and counted, never raised."""
        event_id, now = new_event_id(), now_ms()
        event = event_around(event_id, kind, iso_from_ms(now), data)
        try:
            await self.batch.execute(*xadd_command(
                self.keys, event_id, kind, organization_id, widget_id, "", event, now,
                self.retention,
            ))
        except (RedisError, OSError) as exc:
            self.outcomes["failed"] += 1
            log.warning("could not publish %s for widget %s: %s", kind, widget_id, exc)
            return
        self.outcomes["ok"] += 1
