"""Waiting for something another task or process does (invalidation, metrics, failover)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 2.0) -> float:
    """Poll ``check`` until it is true; return how long that took, fail past ``within``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > within:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(0.01)
    return loop.time() - start
