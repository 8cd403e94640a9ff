"""The public endpoints' rate limits: per client address and widget (and per conversation for
feedback), from the RATE_LIMIT_* settings. Start and resume spend one budget (RATE_LIMIT_START):
each dispatches a paid agent into a fresh room."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from common.rate_limit import Rate, RateLimitedError, RateLimiter, parse_rate
from common.redis_keys import RedisKeys
from common.settings import Settings

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
        address: str,
        action: Action,
        widget_id: str,
        conversation_id: str | None = None,
    ) -> None:
        """Count a request from ``address`` (runtime_service.client_address), or raise 429 (with
        Retry-After) when a limit is exhausted."""
        limits = []
        budget = _BUDGET[action]
        if (rate := self.rates[budget]) is not None:
            limits.append((self.keys.rate_limit(widget_id, budget, address), rate))
        if conversation_id is not None and self.per_conversation is not None:
            key = self.keys.rate_limit(widget_id, "feedback-conversation", conversation_id)
            limits.append((key, self.per_conversation))
        try:
            await self.limiter.hit(limits)
        except RateLimitedError:
            self.refused[action] += 1
            raise
