"""Typed application keys shared by both services."""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from common.metrics import Metrics
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys
from common.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
KEYS = web.AppKey("redis_keys", RedisKeys)
METRICS = web.AppKey("metrics", Metrics)
# The command batch (common/redis_batch.py); each service opens it with redis_batch_ctx.
REDIS_BATCH = web.AppKey("redis_batch", RedisBatch)
