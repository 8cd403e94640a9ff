"""Rate limits enforced atomically in Redis (GCRA, one Lua script, one hash slot per request)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from common.errors import ApiError
from common.redis_batch import RedisBatch
from common.redis_client import read_script, register

SCRIPT = read_script(__file__, "rate_limit.lua")


@dataclass(frozen=True, slots=True)
class Rate:
    """``requests`` per ``seconds``, in bursts of up to ``requests``."""

    requests: int
    seconds: int

    @property
    def interval_ms(self) -> int:
        return max(1, math.ceil(self.seconds * 1000 / self.requests))


def parse_rate(spec: str) -> Rate | None:
    """``"10/60"`` -> Rate(10, 60); ``"off"`` -> None (the settings pattern checked the form)."""
    if spec == "off":
        return None
    requests, seconds = spec.split("/")
    return Rate(int(requests), int(seconds))


class RateLimitedError(ApiError):
    def __init__(self, retry_after_ms: int, which: int) -> None:
        seconds = max(1, math.ceil(retry_after_ms / 1000))
        super().__init__(429, "Too many requests; retry later", {"Retry-After": str(seconds)})
        self.which = which


class RateLimiter:
    def __init__(self, batch: RedisBatch) -> None:
        self._batch = batch
        self._script = register(batch.redis, SCRIPT)

    async def hit(self, limits: Sequence[tuple[str, Rate]]) -> None:
        """Count one request against every ``(key, rate)`` (keys of one hash slot), or raise
        RateLimitedError, counting nothing, when any of them is exhausted."""
        if not limits:
            return
        args: list[int] = []
        for _, rate in limits:
            args += (rate.interval_ms, rate.requests)
        allowed, retry_ms, which = await self._batch.script(
            self._script, keys=[key for key, _ in limits], args=args
        )
        if not allowed:
            raise RateLimitedError(int(retry_ms), int(which) - 1)
