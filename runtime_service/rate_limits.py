"""The public endpoints' rate limits: per client address and widget (and per conversation for
feedback), from the RATE_LIMIT_* settings. Start and resume spend one budget (RATE_LIMIT_START):
each dispatches a paid agent into a fresh room.

Enforced atomically in Redis (GCRA, one Lua script, rate_limit.lua, one hash slot per request)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from common.errors import ApiError
from common.redis_batch import RedisBatch
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys
from common.settings import Settings

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


Action = Literal["start", "resume", "list", "feedback"]
Budget = Literal["start", "list", "feedback"]
_BUDGET: dict[Action, Budget] = {
    "start": "start", "resume": "start", "list": "list", "feedback": "feedback"
}


class PublicRateLimits:
    def __init__(self, limiter: RateLimiter, keys: RedisKeys, settings: Settings) -> None:
        self.limiter = limiter
        self.keys = keys
        # For the handlers, which read the client's address with it (client_address).
        self.trusted_proxies = settings.trusted_proxies
        self.rates: dict[Budget, Rate | None] = {
            "start": parse_rate(settings.rate_limit_start),
            "list": parse_rate(settings.rate_limit_list),
            "feedback": parse_rate(settings.rate_limit_feedback),
        }
        self.per_conversation = parse_rate(settings.rate_limit_feedback_per_conversation)
        self.refused: Counter[str] = Counter()

    async def hit(
        self,
        address: Callable[[], str],
        action: Action,
        widget_id: str,
        conversation_id: str | None = None,
    ) -> None:
        """Count the request, or raise 429 (with Retry-After) when a limit is exhausted.
        ``address()`` gives the client's address (runtime_service.client_address), read only
        when a per-address limit is on: reading it costs more than the rest of a hit."""
        limits = []
        budget = _BUDGET[action]
        if (rate := self.rates[budget]) is not None:
            limits.append((self.keys.rate_limit(widget_id, budget, address()), rate))
        if conversation_id is not None and self.per_conversation is not None:
            key = self.keys.rate_limit(widget_id, "feedback-conversation", conversation_id)
            limits.append((key, self.per_conversation))
        try:
            await self.limiter.hit(limits)
        except RateLimitedError:
            self.refused[action] += 1
            raise
