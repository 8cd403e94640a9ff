"""Typed application keys shared by both services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis

from common.redis_keys import RedisKeys
from common.settings import Settings

if TYPE_CHECKING:
    from common.metrics import Metrics
    from common.redis_batch import RedisBatch

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
KEYS = web.AppKey("redis_keys", RedisKeys)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
REDIS_BATCH: web.AppKey[RedisBatch] = web.AppKey("redis_batch")
