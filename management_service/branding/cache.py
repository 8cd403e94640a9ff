"""Lookup outcomes in Redis, one key per normalized domain.

A found brand is kept for ``auto_brand_cache_ttl``; every other outcome (no brand, unreachable,
refused, timed out) for the shorter ``auto_brand_negative_ttl``, so a repeated call never refetches
and a failing site is not hammered, yet a fixed site is seen again soon.
"""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from common.redis_keys import RedisKeys
from management_service.branding.models import Lookup

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Lookup)


class BrandCache:
    def __init__(self, redis: Redis, keys: RedisKeys, ttl: int, negative_ttl: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl
        self.negative_ttl = negative_ttl

    async def get(self, domain: str) -> Lookup | None:
        raw = await self.redis.get(self.keys.brand(domain))
        if raw is None:
            return None
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError:
            return None  # written by an older, different shape: look again

    async def put(self, domain: str, lookup: Lookup) -> None:
        ttl = self.ttl if lookup.outcome == "found" else self.negative_ttl
        await self.redis.set(self.keys.brand(domain), _ENCODER.encode(lookup), ex=ttl)
