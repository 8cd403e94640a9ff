"""The per-pod widget cache: what every public request reads instead of Redis.

Bounded (LRU) and TTL'd, with short negative entries for unknown ids and one shared Redis read
for concurrent misses of one id. The invalidation listener keeps it correct:

* an event for an id drops its entry and supersedes any read of that id still in flight, so a
  value read before the event arrived is never stored (a per-load generation: only ids being
  loaded are tracked, so nothing grows with the number of ids ever seen);
* while the subscription is down (events may be lost) the cache is *suspended*: entries become
  stale copies, every request reads Redis, and a stale copy is served only when Redis itself is
  unreachable (stale-if-error); when the subscription is back everything is cleared.

A malformed (non-UUID) id never reaches Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import msgspec
from multidict import CIMultiDict
from redis.asyncio import Redis

from common.bodies import SECURITY_HEADERS, strong_etag
from common.ids import is_uuid
from common.models.widget import Widget
from common.models.widget_config import feedback_fields, pre_conversation_fields, stored_v1
from common.redis_client import REDIS_UNAVAILABLE, as_bytes, call_with_retry
from common.redis_keys import RedisKeys
from runtime_service.public_widget import PublicWidget

# A coroutine, not any awaitable: each load runs as its own task (asyncio.create_task).
Loader = Callable[[str], Coroutine[Any, Any, PublicWidget | None]]
REDIS_DOWN = REDIS_UNAVAILABLE

_WIDGET = msgspec.json.Decoder(Widget)


def to_public(raw: bytes, headers: Mapping[str, str] = SECURITY_HEADERS) -> PublicWidget:
    """``headers``: what the widget GET answers with, whatever the widget (route_headers)."""
    widget = _WIDGET.decode(raw)
    v1 = stored_v1(widget.config)
    etag = strong_etag(raw)
    not_modified = CIMultiDict(headers)
    not_modified["ETag"] = etag
    ok = not_modified.copy()
    ok["Content-Type"] = "application/json"
    return PublicWidget(
        id=widget.id,
        organization_id=widget.organization_id,
        agent_id=widget.agent_id,
        agent_version_id=widget.agent_version_id,
        published=widget.published,
        domains=frozenset(widget.domains),
        body=raw,
        etag=etag,
        feedback_fields=feedback_fields(v1),
        conversation_list=v1.conversation_list,
        ok_headers=ok,
        not_modified_headers=not_modified,
        pre_conversation_fields=pre_conversation_fields(v1),
        retention_days=v1.retention_days,
    )


def redis_loader(
    redis: Redis, keys: RedisKeys, timeout: float, headers: Mapping[str, str]
) -> Loader:
    async def load(widget_id: str) -> PublicWidget | None:
        # One bound for the whole read, so an outage answers (or falls back to a stale copy)
        # quickly; after a Redis restart every pooled connection fails once before it
        # reconnects, and that must not look like an outage.
        raw = await call_with_retry(timeout, redis.get, keys.widget(widget_id))
        return None if raw is None else to_public(as_bytes(raw), headers)

    return load


@dataclass(slots=True)
class _Entry:
    widget: PublicWidget | None
    expires: float
    fresh: bool  # False: a stale copy, served only when Redis is unreachable


@dataclass(slots=True, eq=False)
class _Load:
    fresh: bool  # started while live: may be stored as a fresh entry
    superseded: bool = False  # an invalidation or clear happened since the read began
    task: asyncio.Task[PublicWidget | None] = field(init=False)


@dataclass(slots=True)
class CacheStats:
    """Plain counts, read when metrics are scraped (nothing on the hit path but an addition)."""

    hits: int = 0
    negative_hits: int = 0
    misses: int = 0
    stale_served: int = 0
    evictions: int = 0
    invalidations: int = 0
    clears: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class WidgetSource:
    """``get(id)`` returns the widget (published or not: handlers decide) or None."""

    def __init__(
        self,
        load: Loader,
        *,
        max_size: int,
        ttl: float,
        negative_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._max_size = max_size
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._loading: dict[str, _Load] = {}
        self.stats = CacheStats()
        # Nothing is cached as fresh until the listener's subscription is confirmed.
        self._live = False

    @property
    def live(self) -> bool:
        return self._live

    def __len__(self) -> int:
        return len(self._entries)

    def hit(self, widget_id: str) -> PublicWidget | None:
        """The widget when it is cached and fresh, without a coroutine: the hot path's share."""
        entry = self._entries.get(widget_id)
        if entry is None or entry.widget is None or not entry.fresh:
            return None
        if self._clock() >= entry.expires:
            return None
        self._entries.move_to_end(widget_id)
        self.stats.hits += 1
        return entry.widget

    async def get(self, widget_id: str) -> PublicWidget | None:
        if not is_uuid(widget_id):
            return None
        entry = self._entries.get(widget_id)
        if entry is not None and entry.fresh and self._clock() < entry.expires:
            self._entries.move_to_end(widget_id)
            if entry.widget is None:
                self.stats.negative_hits += 1
            else:
                self.stats.hits += 1
            return entry.widget
        self.stats.misses += 1
        load = self._loading.get(widget_id) or self._start_load(widget_id)
        try:
            # Shielded: one caller going away must not cancel the read the others wait for.
            return await asyncio.shield(load.task)
        except REDIS_DOWN:
            stale = self._entries.get(widget_id)
            if stale is not None and stale.widget is not None:
                self.stats.stale_served += 1
                return stale.widget
            raise

    def invalidate(self, widget_id: str) -> None:
        self.stats.invalidations += 1
        self._entries.pop(widget_id, None)
        load = self._loading.pop(widget_id, None)
        if load is not None:
            load.superseded = True

    def clear(self) -> None:
        self.stats.clears += 1
        self._entries.clear()
        for load in self._loading.values():
            load.superseded = True
        self._loading.clear()

    def suspend(self) -> None:
        """Events may be getting lost: demote every entry to a stale-if-error copy."""
        self._live = False
        for entry in self._entries.values():
            entry.fresh = False
        for load in self._loading.values():
            load.fresh = False

    def resume(self) -> None:
        """The subscription is confirmed: forget everything that might have missed an event."""
        self.clear()
        self._live = True

    async def aclose(self) -> None:
        tasks = [load.task for load in self._loading.values()]
        self.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    def _start_load(self, widget_id: str) -> _Load:
        load = _Load(fresh=self._live)
        load.task = asyncio.create_task(self._load(widget_id))
        self._loading[widget_id] = load
        # Registered before any waiter's callback: the entry is stored before a waiter resumes.
        load.task.add_done_callback(lambda task: self._finish(widget_id, load, task))
        return load

    def _finish(self, widget_id: str, load: _Load, task: asyncio.Task[PublicWidget | None]) -> None:
        if self._loading.get(widget_id) is load:
            del self._loading[widget_id]
        # Reading the exception marks it retrieved even when every waiter went away.
        if task.cancelled() or task.exception() is not None or load.superseded:
            return
        widget = task.result()
        if load.fresh:
            ttl = self._ttl if widget is not None else self._negative_ttl
            self._store(widget_id, _Entry(widget, self._clock() + ttl, fresh=True))
        elif widget is not None:
            self._store(widget_id, _Entry(widget, 0.0, fresh=False))
        else:
            self._entries.pop(widget_id, None)

    def _store(self, widget_id: str, entry: _Entry) -> None:
        if self._max_size <= 0:
            return
        self._entries[widget_id] = entry
        self._entries.move_to_end(widget_id)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)
            self.stats.evictions += 1
