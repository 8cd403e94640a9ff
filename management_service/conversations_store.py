"""The owner's conversations, read from Redis (GET /core/conversations and .../{id}).

A page walks one time-ordered index, newest first (docs/architecture.md):

- ``web_widget_id`` (with or without ``status``): the widget's index or its status index, each
  stretch and its conversations' fields in one script call (``common/conversation_page.lua``);
- ``status`` alone: the status indexes of every widget of the organization, merged;
- otherwise the organization's index (members ``<created_ms>:<id>:<widget_id>``).

Every other filter is checked on each conversation as the walk reads it, within
``SCAN_BUDGET`` index entries per page (common/pagination.py): a rare filter may answer a short
page with a cursor to continue. Only ``doc`` is read while walking, unless the principal may
read the sensitive fields and no per-conversation filter drops entries (then all of them at
once); otherwise the page's own conversations get their sensitive fields in one more pipeline.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis

from common.conversation_record import PAGE, SAFE_FIELDS, summary_from
from common.ids import is_uuid
from common.models.conversation import INDEXED_STATUSES, ConversationSummary, OwnerConversation
from common.pagination import Fetch, collect_page, created_bounds
from common.redis_batch import RedisBatch, replies
from common.redis_client import as_bytes, read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import now_ms
from management_service.conversation_query import OwnerQuery
from management_service.org_index import DANGLING_AFTER_MS

FIELDS = read_script(__file__, "conversation_fields.lua")
SENSITIVE_FIELDS = (*SAFE_FIELDS, "meta", "feedback", "summary", "transcript")
# The custom_metadata filter reads what it matches: the metadata and the feedback form.
_MATCHED_FIELDS = (*SAFE_FIELDS, "meta", "feedback")
_SAFE = len(SAFE_FIELDS)
# Entries per fetch when a per-conversation filter drops some: fewer round trips per budget.
WALK_BATCH = 200
_OBJECT = msgspec.json.Decoder(dict[str, Any])
_WIDGET_ORG = msgspec.json.Decoder(dict[str, Any])

Item = ConversationSummary  # or its OwnerConversation subclass, with the sensitive fields
Entries = list[tuple[str, Item | None]]


def decode(
    widget_id: str, conversation_id: str, values: Sequence[Any], org_id: str
) -> Item | None:
    """A conversation from its hash fields (in ``SAFE_FIELDS``/``SENSITIVE_FIELDS``/
    ``_MATCHED_FIELDS`` order), or None when gone or not the organization's."""
    summary = summary_from(widget_id, conversation_id, values[:_SAFE])
    if summary is None or summary.organization_id != org_id:
        return None
    if len(values) == _SAFE:
        return summary
    meta, feedback = values[_SAFE], values[_SAFE + 1]
    metadata = _OBJECT.decode(meta) if meta else {}
    if feedback:
        metadata["feedback_form"] = _OBJECT.decode(feedback)
    text = values[_SAFE + 2] if len(values) > _SAFE + 2 else None
    transcript = values[_SAFE + 3] if len(values) > _SAFE + 3 else None
    return OwnerConversation(
        **msgspec.structs.asdict(summary), custom_metadata=metadata,
        summary=None if text is None else as_bytes(text).decode(),
        transcript=None if transcript is None else msgspec.Raw(as_bytes(transcript)),
    )


def _text(value: Any) -> str:
    text: str = as_bytes(value).decode()
    return text


class OwnerConversations:
    def __init__(self, redis: Redis, keys: RedisKeys, batch: RedisBatch | None = None) -> None:
        self.redis = redis
        self.keys = keys
        # The app's command batch (common/redis_batch.py); without one, the client's pipelines.
        self.batch = batch if batch is not None else RedisBatch(redis)
        self._page = register(redis, PAGE)
        self._fields = register(redis, FIELDS)

    async def get(self, org_id: str, conversation_id: str, sensitive: bool) -> Item | None:
        """The organization's conversation, or None when unknown, malformed or another
        organization's: the locator names its widget, and the conversation's own
        ``organization_id`` decides (two round trips, no widget read)."""
        if not is_uuid(conversation_id):
            return None
        widget_id = await self.batch.execute("GET", self.keys.conversation_owner(conversation_id))
        if widget_id is None:
            return None
        fields = SENSITIVE_FIELDS if sensitive else SAFE_FIELDS
        widget = _text(widget_id)
        values = await self.batch.execute(
            "HMGET", self.keys.conversation(widget, conversation_id), *fields
        )
        return decode(widget, conversation_id, values, org_id)

    async def _widget_is_orgs(self, org_id: str, widget_id: str) -> bool:
        raw = await self.batch.execute("GET", self.keys.widget(widget_id))
        return raw is not None and _WIDGET_ORG.decode(raw).get("organization_id") == org_id

    async def list_page(
        self, org_id: str, query: OwnerQuery, sensitive: bool
    ) -> tuple[list[Item], str | None]:
        filters = query.filters
        if not query.webrtc or filters.status not in (None, *INDEXED_STATUSES):
            return [], None  # nothing else exists here: no walk through every index
        bounds = created_bounds(query.created_after_ms, query.created_before_ms)
        if bounds is None:
            return [], None
        lower, upper = bounds
        start = query.start
        if upper != "+":
            start = upper if start == "+" else min(start, upper)
        walked = filters.walked
        fields: tuple[str, ...]
        if sensitive and not walked:
            fields = SENSITIVE_FIELDS
        elif filters.custom_metadata is not None:
            fields = _MATCHED_FIELDS
        else:
            fields = SAFE_FIELDS
        if filters.web_widget_id is not None:
            if not await self._widget_is_orgs(org_id, filters.web_widget_id):
                return [], None
            fetch = self._widget_fetch(org_id, filters.web_widget_id, filters.status, lower,
                                       fields)
        elif filters.status is not None:
            widgets = [
                _text(member).partition(":")[2]
                for member in await self.batch.execute(
                    "ZRANGE", self.keys.org_widgets(org_id), 0, -1
                )
            ]
            fetch = self._merged_fetch(org_id, widgets, filters.status, lower, fields)
        else:
            fetch = self._org_fetch(org_id, lower, fields)
        items, cursor = await collect_page(
            fetch, filters, start, query.limit, batch=WALK_BATCH if walked else None
        )
        if sensitive and fields != SENSITIVE_FIELDS:
            items = await self._complete(org_id, items)
        return items, cursor

    def _widget_fetch(
        self, org_id: str, widget_id: str, status: str | None, lower: str,
        fields: tuple[str, ...],
    ) -> Fetch[Item]:
        indexes = (
            self.keys.conversation_indexes(widget_id) if status is None
            else [self.keys.conversations_by_status(widget_id, status)]
        )
        prefix = self.keys.conversation(widget_id, "")
        width = len(fields) + 1

        async def fetch(bound: str, count: int) -> Entries:
            page = await self.batch.script(
                self._page, indexes, [bound, lower, count, prefix, *fields]
            )
            members = [_text(page[i]) for i in range(0, len(page), width)]
            return [
                (member, decode(widget_id, member[14:], page[i + 1:i + width], org_id))
                for member, i in zip(members, range(0, len(page), width), strict=True)
            ]

        return fetch

    async def _read(
        self, org_id: str, located: Sequence[tuple[str, str]], fields: Sequence[str]
    ) -> list[Item | None]:
        """The conversations ``(widget_id, conversation_id)``: one script call per widget (its
        conversations share its slot), all in one pipeline (split by slot on a cluster), rather
        than a command or a round trip per conversation."""
        if not located:
            return []
        groups: dict[str, list[int]] = {}
        for i, (widget_id, _) in enumerate(located):
            groups.setdefault(widget_id, []).append(i)
        calls = [
            [self.keys.conversation(widget_id, located[i][1]) for i in indexes]
            for widget_id, indexes in groups.items()
        ]
        read = await replies([self.batch.script(self._fields, keys, fields) for keys in calls])
        width = len(fields)
        found: list[Item | None] = [None] * len(located)
        for indexes, reply in zip(groups.values(), read, strict=True):
            for n, i in enumerate(indexes):
                widget_id, conversation_id = located[i]
                found[i] = decode(
                    widget_id, conversation_id, reply[n * width:(n + 1) * width], org_id
                )
        return found

    def _org_fetch(self, org_id: str, lower: str, fields: tuple[str, ...]) -> Fetch[Item]:
        index = self.keys.org_conversations(org_id)

        async def fetch(bound: str, count: int) -> Entries:
            found = await self.batch.execute(
                "ZREVRANGEBYLEX", index, bound, lower, "LIMIT", 0, count
            )
            members = [_text(member) for member in found]
            # "<ms>:<id>:<widget>": the cursor is "<ms>:<id>", which bounds these members too.
            parts = [member.split(":") for member in members]
            items = await self._read(org_id, [(w, c) for _, c, w in parts], fields)
            cutoff = f"{now_ms() - DANGLING_AFTER_MS:013d}"
            # An entry is written a moment before its conversation: only an old one without a
            # conversation is dangling (its conversation expired or was erased).
            dangling = [
                member for member, item in zip(members, items, strict=True)
                if item is None and member < cutoff
            ]
            if dangling:
                await self.redis.zrem(index, *dangling)
            return [
                (f"{ms}:{cid}", item) for (ms, cid, _), item in zip(parts, items, strict=True)
            ]

        return fetch

    def _merged_fetch(
        self, org_id: str, widgets: list[str], status: str, lower: str, fields: tuple[str, ...]
    ) -> Fetch[Item]:
        async def fetch(bound: str, count: int) -> Entries:
            if not widgets:
                return []
            ranges = await replies([
                self.batch.execute(
                    "ZREVRANGEBYLEX", self.keys.conversations_by_status(widget_id, status),
                    bound, lower, "LIMIT", 0, count,
                )
                for widget_id in widgets
            ])
            # The newest `count` of the union are among each widget's newest `count`.
            newest = heapq.nlargest(count, (
                (_text(member), widget_id)
                for widget_id, found in zip(widgets, ranges, strict=True) for member in found
            ))
            items = await self._read(
                org_id, [(widget_id, member[14:]) for member, widget_id in newest], fields
            )
            return [(member, item) for (member, _), item in zip(newest, items, strict=True)]

        return fetch

    async def _complete(self, org_id: str, items: list[Item]) -> list[Item]:
        """The page's conversations with their sensitive fields (read again, whole)."""
        read = await self._read(
            org_id, [(item.web_widget_id, item.id) for item in items], SENSITIVE_FIELDS
        )
        return [item for item in read if item is not None]
