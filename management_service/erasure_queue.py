"""The queue of deleted widgets whose conversations are still to be erased (one `{erase}`-slot
script: enqueue, claim with a lease, save progress, done), shared by the widget DELETE (which
enqueues) and the background eraser (management_service/widget_eraser.py)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from common.redis_client import read_script, register
from common.redis_keys import RedisKeys

QUEUE = read_script(__file__, "erasure_queue.lua")


def job_member(org_id: str, widget_id: str) -> str:
    return f"{org_id}:{widget_id}"


class ErasureQueue:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._script = register(redis, QUEUE)

    def _keys(self, member: str) -> list[str]:
        return [self.keys.widget_erasures(), self.keys.widget_erasure(member.partition(":")[2])]

    async def enqueue(self, org_id: str, widget_id: str, created_ms: int, now_ms: int) -> None:
        member = job_member(org_id, widget_id)
        await self._script(
            keys=self._keys(member), args=["enqueue", member, now_ms, org_id, created_ms]
        )

    async def claim(self, now_ms: int, lease_ms: int) -> str | None:
        member: Any = await self._script(
            keys=[self.keys.widget_erasures(), self.keys.widget_erasures()],
            args=["claim", now_ms, lease_ms],
        )
        return None if member is None else bytes(member).decode()

    async def state(self, member: str) -> dict[str, str]:
        raw: dict[Any, Any] = await self.redis.hgetall(self._keys(member)[1])
        return {bytes(k).decode(): bytes(v).decode() for k, v in raw.items()}

    async def save(self, member: str, lease: int, next_ms: int, **fields: str | int) -> bool:
        flat = [item for pair in fields.items() for item in pair]
        return bool(await self._script(
            keys=self._keys(member), args=["save", member, lease, next_ms, *flat]
        ))

    async def done(self, member: str, lease: int) -> bool:
        return bool(await self._script(keys=self._keys(member), args=["done", member, lease]))
