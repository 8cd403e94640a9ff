"""One submission per conversation holds under concurrency: the check and the write are one Lua
script on a real redis-server."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget

PREFIX = "/core/public/web-widgets"


async def test_100_concurrent_submissions_store_exactly_one(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    version = await seed_agent_version(redis, keys, new_id())
    widget = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    resp = await runtime_client.post(
        f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u1"}
    )
    cid = (await resp.json())["conversation"]["id"]
    url = f"{PREFIX}/{widget.id}/conversations/{cid}/feedback"

    async def submit(i: int) -> tuple[int, int]:
        data = {"rating": 1 + i % 5, "comment": f"submission {i}"}
        resp = await runtime_client.post(url, json={"data": data})
        return resp.status, i

    results = await asyncio.gather(*(submit(i) for i in range(100)))
    assert Counter(status for status, _ in results) == {200: 1, 409: 99}
    (winner,) = [i for status, i in results if status == 200]
    record = json.loads(await redis.hget(keys.conversation(widget.id, cid), "feedback"))
    assert record["data"] == {"rating": 1 + winner % 5, "comment": f"submission {winner}"}
