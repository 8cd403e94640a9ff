"""Widgets in Redis: the documents, the org's list index, and the write path.

The document (the ``Widget`` JSON, served byte for byte by the runtime) lives in the widget's hash
slot; the org's index (a lex-ordered sorted set, member ``<created_ms>:<id>``) lives in the org's
slot, so no script can touch both. Every document write goes through ``widget_write.lua``, which
compares-and-sets and publishes the invalidation event atomically. The index is kept consistent
by ordering: create adds the index entry before the document, delete removes the document before
the entry. The document is the source of truth: listing skips entries without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from msgspec import UNSET
from redis.asyncio import Redis

from common.domains import DomainError, normalize_domains, normalize_origin
from common.errors import ApiError
from common.ids import is_uuid, new_id
from common.models.events import EVENT_ENCODER, WidgetChanged
from common.models.widget import Widget, WidgetCreate, WidgetUpdate
from common.models.widget_config import validate_config
from common.pagination import collect_page, index_member
from common.redis_batch import RedisBatch
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, ms_from_iso, now_ms
from common.validation import invalid
from management_service.agents_store import AgentStore
from management_service.erasure_queue import ErasureQueue
from management_service.idempotency import Planned
from management_service.org_index import org_index_entries
from management_service.widget_events import WidgetEvents

_ENC = msgspec.json.Encoder()
_WIDGET = msgspec.json.Decoder(Widget)


class _Owned(msgspec.Struct):
    """The one field of a stored widget a GET checks; the rest is skipped, not decoded."""

    organization_id: str


class Listed(msgspec.Struct):
    """What the list page decodes of a stored widget: its owner and the fields its filters
    compare. The page answers the stored bytes themselves (``raw``, set after decoding)."""

    organization_id: str
    agent_id: str
    agent_version_id: str
    published: bool
    raw: bytes = b""


_OWNER = msgspec.json.Decoder(_Owned)
_LISTED = msgspec.json.Decoder(Listed)


def _listed(raw: bytes) -> Listed:
    item = _LISTED.decode(raw)
    item.raw = raw
    return item
WIDGET_WRITE = read_script(__file__, "widget_write.lua")
_ATTEMPTS = 8
# Losers of a compare-and-set wait a random moment before retrying, so writers that collided once
# do not collide again in lock step.
_BACKOFF_MS = 3
_CONFLICT = "The widget was modified concurrently; retry"

Mode = Literal["create", "replace", "delete"]


def clean_domains(entries: list[str]) -> list[str]:
    """Normalized origins; a bad entry is a 422 that points at its index."""
    try:
        return normalize_domains(entries)
    except DomainError as exc:
        error = exc
    for index, entry in enumerate(entries):
        try:
            normalize_origin(entry)
        except DomainError as exc:
            raise invalid(["body", "domains", index], str(exc)) from None
    raise invalid(["body", "domains"], str(error))


def check_config(config: dict[str, Any]) -> None:
    validate_config(config, ["body", "config"])


async def _backoff(attempt: int) -> None:
    if attempt:
        await asyncio.sleep(random.uniform(0, _BACKOFF_MS * attempt) / 1000)


def _member(widget: Widget) -> str:
    return index_member(ms_from_iso(widget.created_at), widget.id)


@dataclass(frozen=True)
class WidgetFilter:
    """The list filters; ``None`` matches anything."""

    agent_id: str | None = None
    agent_version_id: str | None = None
    published: bool | None = None

    def __call__(self, widget: Listed) -> bool:
        return (
            self.agent_id in (None, widget.agent_id)
            and self.agent_version_id in (None, widget.agent_version_id)
            and self.published in (None, widget.published)
        )


class Turns:
    """What the writers of one key share while they take turns: the lock, how many hold or
    wait for it, and what the last of them wrote (the next one's guess of the stored value)."""

    __slots__ = ("lock", "users", "written")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        self.written: bytes | None = None


class KeyedLocks:
    """A lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._turns: dict[str, Turns] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[Turns]:
        turns = self._turns.get(key) or self._turns.setdefault(key, Turns())
        turns.users += 1
        try:
            async with turns.lock:
                yield turns
        finally:
            turns.users -= 1
            if not turns.users:
                del self._turns[key]


class WidgetStore:
    def __init__(
        self, redis: Redis, keys: RedisKeys, agents: AgentStore | None = None,
        events: WidgetEvents | None = None, batch: RedisBatch | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        # The app's command batch (common/redis_batch.py): the reads, the list page and the
        # write script go through it; without one, over the client's pipelines.
        self.batch = batch if batch is not None else RedisBatch(redis)
        self.agents = agents or AgentStore(redis, keys)
        # widget.updated / widget.deleted for webhooks, after each committed write (best-effort).
        self.events = events
        self._write_script = register(redis, WIDGET_WRITE)
        self.erasures = ErasureQueue(redis, keys)
        # Writers of one widget in this process take turns: compare-and-set then only has to
        # settle races between pods, and a burst of PUTs to one widget is not a burst of 409s.
        self._writers = KeyedLocks()

    async def _write(self, mode: Mode, widget_id: str, expected: bytes, new: bytes) -> bool:
        op: Literal["upsert", "delete"] = "delete" if mode == "delete" else "upsert"
        event = EVENT_ENCODER.encode(WidgetChanged(widget_id=widget_id, op=op))
        written: int = await self.batch.script(
            self._write_script, [self.keys.widget(widget_id)],
            [mode, expected, new, self.keys.invalidation_channel(), event],
        )
        return written == 1

    async def _read(self, widget_id: str) -> bytes | None:
        raw: bytes | None = await self.batch.execute("GET", self.keys.widget(widget_id))
        return raw

    async def _load(self, org_id: str, widget_id: str) -> tuple[bytes, Widget] | None:
        """The raw document and the widget, or None when unknown, malformed or another org's."""
        if not is_uuid(widget_id):
            return None
        raw = await self._read(widget_id)
        return None if raw is None else self._decoded(org_id, raw)

    @staticmethod
    def _decoded(org_id: str, raw: bytes) -> tuple[bytes, Widget] | None:
        widget = _WIDGET.decode(raw)
        return (raw, widget) if widget.organization_id == org_id else None

    async def get(self, org_id: str, widget_id: str) -> Widget | None:
        loaded = await self._load(org_id, widget_id)
        return None if loaded is None else loaded[1]

    async def get_json(self, org_id: str, widget_id: str) -> bytes | None:
        """The widget's JSON as stored, which is the answer itself (the runtime serves the same
        bytes), or None when unknown, malformed or another org's. Only the owner is decoded."""
        if not is_uuid(widget_id):
            return None
        raw = await self._read(widget_id)
        if raw is None or _OWNER.decode(raw).organization_id != org_id:
            return None
        return raw

    async def check_agent_pair(
        self, org_id: str, agent_id: str, version_id: str, *, blame: str = "agent_version_id"
    ) -> None:
        """422 unless the agent is in the org and the version is one of that agent's versions
        (published or not). ``blame`` names the field a mismatched pair is reported on."""
        if await self.agents.get_agent(org_id, agent_id) is None:
            raise invalid(["body", "agent_id"], "Agent not found")
        version = await self.agents.get_version_by_id(agent_id, version_id)
        if version is None or version.organization_id != org_id or version.agent_id != agent_id:
            raise invalid(["body", blame], "Agent version not found for this agent")

    async def create(
        self, org_id: str, body: WidgetCreate, planned: Planned | None = None
    ) -> Widget:
        """``planned``: the id and time an Idempotency-Key fixed, the same on every attempt (so
        the index member is too); a widget an earlier attempt wrote under it is the answer."""
        domains = clean_domains(body.domains)
        check_config(body.config)
        await self.check_agent_pair(org_id, body.agent_id, body.agent_version_id)
        index = self.keys.org_widgets(org_id)
        for _ in range(_ATTEMPTS):
            created_ms = planned.created_ms if planned else now_ms()
            created_at = iso_from_ms(created_ms)
            widget = Widget(
                id=planned.id if planned else new_id(), organization_id=org_id,
                agent_id=body.agent_id,
                agent_version_id=body.agent_version_id, domains=domains,
                published=body.published, config=body.config,
                created_at=created_at, updated_at=created_at,
            )
            member = index_member(created_ms, widget.id)
            # Index entry first: listing skips an entry whose document is not there yet, while a
            # document without an entry could never be listed.
            added = await self.redis.zadd(index, {member: 0})
            if await self._write("create", widget.id, b"", _ENC.encode(widget)):
                return widget
            if planned is not None:
                existing = await self.get(org_id, widget.id)
                if existing is None:
                    raise ApiError(409, "Could not create the widget; retry")
                return existing
            # Only an id collision gets here; try again with a fresh id.
            if added:
                await self.redis.zrem(index, member)
        raise ApiError(409, "Could not allocate a widget id; retry")

    async def update(self, org_id: str, widget_id: str, changes: WidgetUpdate) -> bytes | None:
        """Replace the fields present in ``changes``; the widget's JSON as now stored (the
        answer, encoded once for the write, the event and the reply), None when not found.

        A body with no field to change is a no-op: nothing is written or published.
        """
        domains = UNSET if changes.domains is UNSET else clean_domains(changes.domains)
        if changes.config is not UNSET:
            check_config(changes.config)
        new: dict[str, Any] = {
            "agent_id": changes.agent_id,
            "agent_version_id": changes.agent_version_id,
            "domains": domains,
            "published": changes.published,
            "config": changes.config,
        }
        new = {name: value for name, value in new.items() if value is not UNSET}
        async with self._writers.hold(widget_id) as turns:
            return await self._update(org_id, widget_id, new, turns)

    async def _update(
        self, org_id: str, widget_id: str, new: dict[str, Any], turns: Turns
    ) -> bytes | None:
        for attempt in range(_ATTEMPTS):
            await _backoff(attempt)
            # In a burst of writes to one widget, the previous writer's bytes are the stored
            # value unless another pod wrote since: the compare-and-set tells, and a refused
            # guess is read again. One round trip of three saved for each writer that waited.
            guess, turns.written = turns.written, None
            loaded = self._decoded(org_id, guess) if guess else await self._load(org_id, widget_id)
            if loaded is None:
                if guess:
                    continue
                return None
            raw, widget = loaded
            if not new:
                return raw
            widget = msgspec.structs.replace(widget, **new)
            if "agent_id" in new or "agent_version_id" in new:
                blame = "agent_version_id" if "agent_version_id" in new else "agent_id"
                await self.check_agent_pair(
                    org_id, widget.agent_id, widget.agent_version_id, blame=blame
                )
            widget.updated_at = iso_from_ms(now_ms())
            stored = _ENC.encode(widget)
            if await self._write("replace", widget.id, raw, stored):
                turns.written = stored
                if self.events is not None:
                    await self.events.updated(widget, stored)
                return stored
        raise ApiError(409, _CONFLICT)

    async def delete(self, org_id: str, widget_id: str) -> bool:
        """Delete the widget; False when it is not found."""
        async with self._writers.hold(widget_id) as turns:
            turns.written = None  # the next writer's guess would be gone
            return await self._delete(org_id, widget_id)

    async def _delete(self, org_id: str, widget_id: str) -> bool:
        for attempt in range(_ATTEMPTS):
            await _backoff(attempt)
            loaded = await self._load(org_id, widget_id)
            if loaded is None:
                return False
            raw, widget = loaded
            # Its conversations' erasure is queued first: the eraser waits while the document
            # exists, and a failure after the document's deletion cannot leave them behind
            # unqueued (management_service/widget_eraser.py).
            await self.erasures.enqueue(
                org_id, widget.id, ms_from_iso(widget.created_at), now_ms()
            )
            if await self._write("delete", widget.id, raw, b""):
                # Document first, then its entry: a failure in between leaves an entry that
                # listing skips (and later removes), never a listed widget that cannot be read.
                await self.redis.zrem(self.keys.org_widgets(org_id), _member(widget))
                if self.events is not None:
                    await self.events.deleted(org_id, widget.id)
                return True
        raise ApiError(409, _CONFLICT)

    async def list_page(
        self, org_id: str, keep: WidgetFilter, start: str, limit: int
    ) -> tuple[bytes, str | None]:
        """One page, newest first, from the exclusive lex bound ``start`` (``+`` for the top):
        the JSON array of the stored documents (nothing decoded and encoded again)."""
        index = self.keys.org_widgets(org_id)

        async def fetch(bound: str, count: int) -> list[tuple[str, Listed | None]]:
            return await org_index_entries(
                self.batch, index, org_id, bound, count, self.keys.widget, _listed
            )

        items, cursor = await collect_page(fetch, keep, start, limit)
        return b"[" + b",".join([item.raw for item in items]) + b"]", cursor
