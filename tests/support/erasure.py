"""Looking through Redis for anything that still names a conversation (erasure tests)."""

from __future__ import annotations

from typing import Any


async def value_of(redis: Any, key: bytes) -> Any:
    """A key's whole value, whatever its type."""
    kind = (await redis.type(key)).decode()
    if kind == "string":
        return await redis.get(key)
    if kind == "hash":
        return sorted((await redis.hgetall(key)).items())
    if kind == "zset":
        return await redis.zrange(key, 0, -1)
    if kind == "set":
        return sorted(await redis.smembers(key))
    if kind == "list":
        return await redis.lrange(key, 0, -1)
    if kind == "stream":
        return await redis.xrange(key)
    return kind


async def mentions(
    redis: Any, prefix: str, needle: str, exempt: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Every key under ``prefix`` whose name or value (any type: strings, hash fields and
    values, sorted-set and set members, lists, streams) contains ``needle``, but ``exempt``."""
    found: dict[str, Any] = {}
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        name = key.decode()
        if name in exempt:
            continue
        value = await value_of(redis, key)
        if needle in name or needle.encode() in repr(value).encode():
            found[name] = value
    return found
