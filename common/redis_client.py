"""The Redis client a service owns (created and closed in a cleanup context) and Lua scripts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.appkeys import REDIS, SETTINGS
from common.settings import Settings

log = logging.getLogger(__name__)


def read_script(package_file: str, name: str) -> str:
    """Read ``name`` next to ``package_file``; called at import, so no file I/O in the loop."""
    return (Path(package_file).parent / name).read_text()


def create_redis(settings: Settings) -> Redis:
    # from_url does no I/O. Every call is bounded by redis_timeout, so an unreachable or stalled
    # server gives a quick error (rendered as 503) instead of a hung request. One immediate retry
    # on a broken connection replaces pooled connections left dead by a server restart; timeouts
    # are not retried, so a stalled server costs one timeout, not several.
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        health_check_interval=15,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
        protocol=2,
    )


async def wait_for_redis(client: Redis, attempts: int = 20, delay: float = 0.25) -> None:
    """Ping until the server answers, so a bad REDIS_URL fails at start-up, not on a request."""
    for attempt in range(1, attempts + 1):
        try:
            await client.ping()
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            last: Exception = exc
        log.warning("redis not reachable yet (attempt %d/%d): %r", attempt, attempts, last)
        await asyncio.sleep(delay)
    raise RuntimeError(f"Redis is not reachable: {last!r}")


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    client = create_redis(app[SETTINGS])
    app[REDIS] = client
    try:
        await wait_for_redis(client)
        yield
    finally:
        await client.aclose()


def register(client: Redis, source: str) -> AsyncScript:
    """Register a script (no I/O): it runs by EVALSHA and reloads itself after a server restart."""
    return client.register_script(source)
