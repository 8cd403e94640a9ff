"""Cursor paging never skips or repeats, even when every item shares one timestamp, and accepts
the reference's Base64-of-created_at cursor."""

from __future__ import annotations

import base64

import msgspec
import pytest
from redis.asyncio import Redis

from common.errors import ApiError
from common.ids import new_id
from common.pagination import collect_page, decode_cursor, encode_cursor, index_member
from common.timeutil import iso_from_ms


def test_cursor_round_trip() -> None:
    member = index_member(1_700_000_000_000, new_id())
    assert decode_cursor(encode_cursor(member)) == "(" + member


def test_reference_cursor_continues_strictly_before_that_instant() -> None:
    created_at = iso_from_ms(1_700_000_000_123)
    cursor = base64.b64encode(created_at.encode()).decode()
    assert decode_cursor(cursor) == "(1700000000123:"


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGEgY3Vyc29y", ""])
def test_bad_cursor_is_422(cursor: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_cursor(cursor)
    assert info.value.status == 422
    assert msgspec.to_builtins(info.value.detail)[0]["loc"] == ["query", "cursor"]


async def _walk(redis: Redis, key: str, limit: int, keep=lambda item: True) -> list[str]:
    async def fetch(bound: str, count: int) -> list[tuple[str, str]]:
        members = [m.decode() for m in await redis.zrevrangebylex(key, bound, "-", 0, count)]
        return [(m, m.split(":", 1)[1]) for m in members]

    seen: list[str] = []
    start = "+"
    while True:
        items, cursor = await collect_page(fetch, keep, start, limit)
        seen.extend(items)
        if cursor is None:
            return seen
        assert len(items) == limit
        start = decode_cursor(cursor)


async def test_walk_with_shared_timestamps_sees_each_item_once(redis: Redis) -> None:
    ids = [new_id() for _ in range(137)]
    await redis.zadd("test:idx", {index_member(1_700_000_000_000, i): 0 for i in ids})
    for limit in (1, 7, 50, 200):
        seen = await _walk(redis, "test:idx", limit)
        assert sorted(seen) == sorted(ids)
        assert len(seen) == len(set(seen))
        assert seen == sorted(ids, reverse=True)  # newest first, ties by id


async def test_filtered_walk_skips_nothing(redis: Redis) -> None:
    ids = [new_id() for _ in range(300)]
    members = {index_member(1_700_000_000_000 + n, i): 0 for n, i in enumerate(ids)}
    await redis.zadd("test:idx", members)
    wanted = set(ids[::13])
    seen = await _walk(redis, "test:idx", 4, keep=lambda item: item in wanted)
    assert seen == [i for i in reversed(ids) if i in wanted]
