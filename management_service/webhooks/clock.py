"""Time for the worker, injectable: tests move a fake clock instead of sleeping for hours."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    async def sleep_until(self, ms: int) -> None:
        """Return once ``now_ms() >= ms`` (or earlier if cancelled)."""


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep_until(self, ms: int) -> None:
        delay = (ms - self.now_ms()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """A clock that moves only when told (tests): sleepers wake when ``advance`` passes them."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._moved = asyncio.Event()

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1000)
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep_until(self, ms: int) -> None:
        while self._now < ms:
            await self._moved.wait()
