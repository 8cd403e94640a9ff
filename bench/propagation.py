"""Invalidation propagation: from a management PUT returning to every runtime serving the change.

Each update writes a unique marker into the widget's config; right after the PUT's response
arrives, one watcher per runtime process re-asks with ``If-None-Match`` until it gets a body that
carries the marker. The delay of an update is the slowest of the runtimes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp

PUBLIC = "/core/public/web-widgets/"
_GIVE_UP_S = 2.0


async def _watch(
    session: aiohttp.ClientSession, url: str, etags: dict[str, str], marker: bytes, since: float
) -> float:
    while True:
        async with session.get(url, headers={"If-None-Match": etags[url]}) as resp:
            if resp.status == 200:
                etags[url] = resp.headers["ETag"]
                if marker in await resp.read():
                    return time.perf_counter() - since
            elif resp.status != 304:
                raise RuntimeError(f"{url} answered {resp.status}")
        if time.perf_counter() - since > _GIVE_UP_S:
            raise RuntimeError(f"{url} still served the old widget after {_GIVE_UP_S} s")


async def measure(
    management_url: str,
    api_key: str,
    runtime_urls: list[str],
    widget_id: str,
    config: dict[str, Any],
    updates: int,
) -> list[float]:
    """Seconds until all runtimes serve each of ``updates`` successive changes."""
    urls = [base + PUBLIC + widget_id for base in runtime_urls]
    headers = {"Authorization": f"Bearer {api_key}"}
    delays: list[float] = []
    async with aiohttp.ClientSession() as session:
        etags: dict[str, str] = {}
        for url in urls:
            async with session.get(url) as resp:
                resp.raise_for_status()
                etags[url] = resp.headers["ETag"]
        for _ in range(updates):
            marker = f"bench-{uuid.uuid4().hex}"
            body = {"config": {**config, "v1": {**config["v1"], "title": marker}}}
            async with session.put(
                f"{management_url}/core/web-widgets/{widget_id}", json=body, headers=headers
            ) as resp:
                resp.raise_for_status()
                await resp.read()
            since = time.perf_counter()
            seen = await asyncio.gather(
                *(_watch(session, url, etags, marker.encode(), since) for url in urls)
            )
            delays.append(max(seen))
    return delays
