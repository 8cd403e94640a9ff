"""The Redis client a service owns (created and closed in a cleanup context) and Lua scripts."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast, overload

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import ConnectKwargs, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import (
    ClusterDownError,
    RedisClusterUnreachableError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.appkeys import METRICS, REDIS, REDIS_BATCH, SETTINGS
from common.redis_batch import RedisBatch
from common.redis_wire import RedisWire
from common.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)

# Redis cannot answer now: the client's 503 with Retry-After, never a 500. A broken, refused or
# reset connection (BusyLoadingError is one), a time-out, and a cluster that cannot serve: no
# node reachable, CLUSTERDOWN or MASTERDOWN, a slot no reachable node covers, TRYAGAIN. Not
# any RedisError: a wrong command or a cross-slot operation is the code's bug, a 500.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisClusterUnreachableError,
    ClusterDownError,
    SlotNotCoveredError,
    TryAgainError,
)


def read_script(package_file: str, name: str) -> str:
    """Read ``name`` next to ``package_file``; called at import, so no file I/O in the loop."""
    return (Path(package_file).parent / name).read_text()


def _host_ports(spec: str) -> list[tuple[str, int]]:
    pairs = [item.rsplit(":", 1) for item in spec.split(",") if item]
    return [(host, int(port)) for host, port in pairs]


def _tls_options(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url.startswith("rediss://"):
        return {}
    options = {
        "ssl_ca_certs": settings.redis_tls_ca_file,
        "ssl_certfile": settings.redis_tls_cert_file,
        "ssl_keyfile": settings.redis_tls_key_file,
    }
    return {name: value for name, value in options.items() if value}


# The one retry policy for Redis calls: one immediate retry on a broken connection, which
# replaces pooled connections left dead by a server restart or a failover; timeouts are not
# retried, so a stalled server costs one timeout, not several. The clients apply it to every
# command (client_retry); call_with_retry applies it to a whole call under one time bound.
RETRIES = 1
RETRIED_ERRORS = (RedisConnectionError,)


def client_retry() -> Retry:
    # supported_errors spelled out: redis-py's default also retries timeouts.
    return Retry(NoBackoff(), RETRIES, supported_errors=RETRIED_ERRORS)


async def call_with_retry(
    seconds: float, command: Callable[..., Awaitable[T]], *args: Any
) -> T:
    """``await command(*args)`` under the retry policy, the whole of it (a retry included)
    bounded by ``seconds``: an outage answers (or falls back) quickly. Past the bound:
    ``redis.exceptions.TimeoutError``, as for any other Redis timeout."""
    try:
        async with asyncio.timeout(seconds):
            for _ in range(RETRIES):
                try:
                    return await command(*args)
                except RETRIED_ERRORS:
                    pass
            return await command(*args)
    except TimeoutError:
        raise RedisTimeoutError("Redis did not answer in time") from None


def _options(settings: Settings, *, retry: bool = True) -> dict[str, Any]:
    # Every call is bounded by redis_timeout, so an unreachable or stalled server gives a quick
    # error (rendered as 503) instead of a hung request; the retry policy is above.
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "protocol": 2,
        **_tls_options(settings),
    }
    if retry:
        options.update(retry=client_retry(), retry_on_error=list(RETRIED_ERRORS))
    else:
        options["retry"] = None
    return options


class _SentinelMaster(Redis):
    """The master Sentinel names; closing it closes the connections to the sentinels too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        assert isinstance(pool, SentinelConnectionPool)  # master_for's pool
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()


def _master(settings: Settings, options: dict[str, Any]) -> Redis:
    sentinel = _sentinel(settings, options)
    # master_for is unannotated in redis-py: it returns an instance of redis_class.
    master: Redis = sentinel.master_for(settings.redis_sentinel_master, redis_class=_SentinelMaster)
    return master


def _sentinel(settings: Settings, options: dict[str, Any]) -> Sentinel:
    # REDIS_URL gives what the master connections need (database, credentials, TLS).
    from_url = parse_url(settings.redis_url)
    from_url.pop("host", None)
    from_url.pop("port", None)
    sentinel_options: dict[str, float | str] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    if settings.redis_sentinel_password:
        sentinel_options["password"] = settings.redis_sentinel_password
    return Sentinel(
        _host_ports(settings.redis_sentinels), sentinel_kwargs=sentinel_options,
        **{**from_url, **options},
    )


def create_redis(settings: Settings) -> Redis:
    """The service's client for the configured topology (no I/O). A cluster client has the same
    command API; every multi-key operation and script of this project stays in one hash slot."""
    options = _options(settings)
    if settings.redis_mode == "cluster":
        cluster = RedisCluster.from_url(settings.redis_url, **options)
        return cast(Redis, cluster)
    if settings.redis_mode == "sentinel":
        return _master(settings, options)
    return Redis.from_url(settings.redis_url, health_check_interval=15, **options)


def subscriber_factory(settings: Settings, client: Redis) -> Callable[[], Redis]:
    """Clients for the invalidation subscription, a fresh one per (re)subscribe attempt.

    Classic PUBLISH reaches every node of a Redis Cluster, so any node will do: attempts go round
    the nodes the cluster client knows (the seed node first), so a failed node is left behind.
    With Sentinel every attempt subscribes on the master Sentinel names at that moment. No client
    retries: a dropped subscription must surface at once, so the cache is cleared."""
    options = _options(settings, retry=False)
    if settings.redis_mode == "sentinel":
        return lambda: _master(settings, options)
    if settings.redis_mode == "cluster":
        seed = parse_url(settings.redis_url)
        attempts = itertools.count()

        def next_node() -> Redis:
            known = [
                (node.host, int(node.port)) for node in cast(RedisCluster, client).get_nodes()
            ]
            nodes = [(seed.get("host", "127.0.0.1"), int(seed.get("port", 6379)))]
            nodes += [node for node in known if node not in nodes]
            host, port = nodes[next(attempts) % len(nodes)]
            return Redis(host=host, port=port, **_without_db(seed), **options)

        return next_node
    return lambda: Redis.from_url(settings.redis_url, **options)


def _without_db(parsed: ConnectKwargs) -> dict[str, Any]:
    return {k: v for k, v in parsed.items() if k in ("username", "password", "connection_class")}


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


@overload
def as_bytes(reply: bytes | str) -> bytes: ...
@overload
def as_bytes(reply: bytes | str | None) -> bytes | None: ...
def as_bytes(reply: bytes | str | None) -> bytes | None:
    """A string reply as what it is here: bytes. redis-py annotates replies ``bytes | str``
    because a client may set decode_responses; no client of this project does."""
    assert reply is None or isinstance(reply, bytes), "a client with decode_responses"
    return reply


def register(client: Redis, source: str) -> AsyncScript:
    """Register a script (no I/O): it runs by EVALSHA and reloads itself after a server restart."""
    return client.register_script(source)


async def redis_batch_ctx(app: web.Application) -> AsyncIterator[None]:
    """The pod's command batch (common/redis_batch.py), over its own connection where the server
    is a standalone `redis://` one (common/redis_wire.py), else over the redis-py client."""
    settings, redis = app[SETTINGS], app[REDIS]
    wire = None
    if settings.redis_mode == "standalone" and RedisWire.supports(settings.redis_url):
        wire = RedisWire(settings.redis_url, settings.redis_timeout, redis.response_callbacks)
    app[REDIS_BATCH] = batch = RedisBatch(redis, wire)
    app[METRICS].counter(
        "redis_batched_pipelines", "Pipelines that carried the requests' batched Redis commands",
        lambda: batch.pipelines,
    )
    app[METRICS].counter(
        "redis_batched_commands", "Redis commands sent through those pipelines",
        lambda: batch.commands,
    )
    yield
    await batch.drain()
    if wire is not None:
        await wire.aclose()
