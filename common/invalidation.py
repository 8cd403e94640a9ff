"""A pub/sub listener that keeps one per-process cache in step with the writes published on one
channel: the runtime's widget cache (runtime_service/invalidation.py) and management's credential
cache (management_service/credential_cache.py) share it.

It holds its own pub/sub connection on the channel. Every event drops the entry it names (what a
change is does not matter: the next read goes to Redis). Every subscribe confirmation, the first
one included, clears the whole cache, since events published while we were not subscribed are
lost. When the subscription drops, the cache is suspended at once and the listener reconnects
with a short capped backoff. A keep-alive PING notices a connection that went silent without
closing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.1
BACKOFF_MAX = 1.0
# Silence on the subscription longer than this sends a PING; no answer within the Redis timeout
# means the connection is dead even if the socket still looks open.
KEEPALIVE_INTERVAL = 5.0


class Invalidated(Protocol):
    """The cache a listener keeps in step."""

    def invalidate(self, key: str) -> None:
        """Drop ``key`` and supersede any read of it in flight."""

    def suspend(self) -> None:
        """Events may be getting lost: serve nothing as fresh until ``resume``."""

    def resume(self) -> None:
        """The subscription is confirmed: forget everything that might have missed an event."""


class InvalidationListener:
    def __init__(
        self,
        connect: Callable[[], Redis],
        channel: str,
        source: Invalidated,
        *,
        decode: Callable[[bytes], str],
        pong_timeout: float,
        keepalive: float = KEEPALIVE_INTERVAL,
        what: str = "cache",
    ) -> None:
        """``decode``: an event's bytes to the key it invalidates (msgspec.DecodeError if not
        an event); ``what``: the cache's name in log lines."""
        self.connect = connect
        self.channel = channel
        self.source = source
        self.decode = decode
        self.what = what
        self.pong_timeout = pong_timeout
        self.keepalive = keepalive
        self.live = False
        # Subscribe confirmations seen so far (each one cleared the cache).
        self.subscriptions = 0
        self._became_live = asyncio.Event()

    async def wait_live(self, within: float) -> bool:
        with suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._became_live.wait()
        return self.live

    @asynccontextmanager
    async def running(self, name: str, within: float) -> AsyncIterator[bool]:
        """Runs the listener as a task ``name`` for the block, which is given whether the
        subscription became live within ``within`` seconds (the services start either way)."""
        task = asyncio.create_task(self.run(), name=name)
        try:
            yield await self.wait_live(within)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        delay = BACKOFF_MIN
        while True:
            confirmed = self.subscriptions
            try:
                await self._listen()
            except asyncio.CancelledError:
                self._went_down(stopping=True)  # the app is shutting down: not an outage
                raise
            except (RedisError, OSError) as exc:
                # Loud once per outage, quiet for each failed reconnect attempt.
                log.log(
                    logging.WARNING if self.live else logging.DEBUG,
                    "%s subscription: %r", self.what, exc,
                )
            except Exception:
                log.exception("%s invalidation listener failed; reconnecting", self.what)
            self._went_down()
            if self.subscriptions > confirmed:
                delay = BACKOFF_MIN  # a working subscription was lost: retry at once
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _listen(self) -> None:
        client = self.connect()
        pubsub: PubSub = client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            loop = asyncio.get_running_loop()
            heard = loop.time()
            pinged: float | None = None
            while True:
                message = await pubsub.get_message(timeout=min(self.keepalive, self.pong_timeout))
                now = loop.time()
                if message is not None:
                    heard, pinged = now, None
                    self._handle(message)
                elif pinged is not None and now - pinged >= self.pong_timeout:
                    raise RedisTimeoutError("no answer to a keep-alive PING")
                elif pinged is None and now - heard >= self.keepalive:
                    await pubsub.ping()
                    pinged = now
        finally:
            await pubsub.aclose()
            await client.aclose()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self.source.resume()
            self.subscriptions += 1
            self.live = True
            self._became_live.set()
            log.info("%s invalidation subscription confirmed; cache cleared", self.what)
        elif kind == "message":
            try:
                key = self.decode(message["data"])
            except msgspec.DecodeError as exc:
                log.warning("ignoring an undecodable %s invalidation event: %s", self.what, exc)
                return
            self.source.invalidate(key)

    def _went_down(self, *, stopping: bool = False) -> None:
        if self.live and not stopping:
            log.warning(
                "%s invalidation subscription down; reading from Redis only", self.what
            )
        self.live = False
        self._became_live.clear()
        self.source.suspend()
