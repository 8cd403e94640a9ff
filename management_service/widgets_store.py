"""PLACEHOLDER (being written): widget storage."""
from redis.asyncio import Redis

from common.redis_keys import RedisKeys


class WidgetStore:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
