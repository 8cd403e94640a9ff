"""Reading an organization's lex index of documents kept in other slots (widgets, webhook
endpoints): one page of entries and their documents, dangling entries skipped and removed.

A create writes its index entry a moment before its document, so an entry without a document is
only treated as dangling (and removed) once it is older than DANGLING_AFTER_MS; an entry whose
document names another organization is removed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from common.redis_batch import RedisBatch, replies
from common.timeutil import now_ms

DANGLING_AFTER_MS = 60_000


class Owned(Protocol):
    @property
    def organization_id(self) -> str: ...


T = TypeVar("T", bound=Owned)


async def org_index_entries(
    batch: RedisBatch, index: str, org_id: str, bound: str, count: int,
    key_of: Callable[[str], str], decode: Callable[[bytes], T],
) -> list[tuple[str, T | None]]:
    """Up to ``count`` entries below ``bound``, newest first, each with its document (None when
    it is missing or another organization's). ``key_of`` maps an entry's id to its key."""
    found = await batch.execute("ZREVRANGEBYLEX", index, bound, "-", "LIMIT", 0, count)
    members = [member.decode() for member in found]
    if not members:
        return []
    # One GET per key, queued together so that they leave in one pipeline (common/redis_batch.py),
    # not MGET: the keys are in different slots.
    raws = await replies(
        [batch.execute("GET", key_of(member.partition(":")[2])) for member in members]
    )
    items: list[T | None] = []
    dangling: list[str] = []
    cutoff = f"{now_ms() - DANGLING_AFTER_MS:013d}"
    for member, raw in zip(members, raws, strict=True):
        item = None if raw is None else decode(raw)
        if item is not None and item.organization_id == org_id:
            items.append(item)
            continue
        items.append(None)
        if item is not None or member < cutoff:
            dangling.append(member)
    if dangling:
        await batch.execute("ZREM", index, *dangling)
    return list(zip(members, items, strict=True))
