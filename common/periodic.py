"""A background pass run every few seconds by a service (the lifecycle sweep, the widget
eraser): waits first, so a process starting up serves before it works; a failed pass is logged
and counted, and the next one tries again; stopping lets the pass under way finish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self.passes = 0
        self.failures = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            if self._stop.is_set():
                return
            try:
                await self.work()
                self.passes += 1
            except Exception:  # Redis unavailable, most likely: what is due stays due
                self.failures += 1
                log.warning("%s pass failed", self.name, exc_info=True)

    def stop(self) -> None:
        """Ends the loop after the pass under way: a finished pass leaves nothing half done."""
        self._stop.set()


@asynccontextmanager
async def running(periodic: Periodic, stop_timeout: float) -> AsyncIterator[Periodic]:
    """The pass as a task for the life of a cleanup context; cancelled if it will not stop."""
    task = asyncio.create_task(periodic.run(), name=periodic.name)
    try:
        yield periodic
    finally:
        periodic.stop()
        try:
            await asyncio.wait_for(task, stop_timeout)
        except TimeoutError:
            log.warning("%s did not stop in time; cancelled", periodic.name)
