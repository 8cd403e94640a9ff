"""The lifecycle sweep a runtime pod runs (docs/lifecycle.md): every LIFECYCLE_SWEEP_INTERVAL,
one pass over the due index. Safe with any number of pods: each claims what it sweeps."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from common.lifecycle.lifecycle import Lifecycle
from common.timeutil import now_ms

log = logging.getLogger(__name__)


class LifecycleSweeper:
    def __init__(self, lifecycle: Lifecycle, interval: float) -> None:
        self.lifecycle = lifecycle
        self.interval = interval
        self.passes = 0
        self.failures = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            # Waiting first: a pod starting up serves before it sweeps.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            if self._stop.is_set():
                return
            try:
                await self.lifecycle.sweep(now_ms())
                self.passes += 1
            except Exception:
                # Redis unavailable, most likely: the due members stay due for the next pass.
                self.failures += 1
                log.warning("lifecycle sweep failed", exc_info=True)

    def stop(self) -> None:
        """Ends the loop after the pass under way: a cancelled Redis call mid-pass would only
        leave claimed members to their lease, but a finished pass leaves nothing."""
        self._stop.set()
