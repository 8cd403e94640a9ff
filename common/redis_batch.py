"""Redis commands of concurrent requests sent together: one pipeline per event-loop turn.

Each round trip costs a write and a read system call on both ends, which on a small machine
costs more than the command itself. Commands queued while the loop runs the handlers that are
ready go out as one non-transactional pipeline when those handlers have all yielded, so a busy
pod pays one round trip per turn instead of one per command. A lone request waits for nothing:
its pipeline leaves on the loop's next turn. Commands one caller queues without an await between
them go in the same pipeline, in order (on a cluster: in order per node). The one exception:
after a server restart emptied its script cache, a script runs again (and loads) once its
pipeline has returned, so after the commands queued behind it; no caller reads a script's
effect in the same pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from common.appkeys import REDIS, REDIS_BATCH, SETTINGS
from common.redis_wire import RedisWire

# A queued command: its arguments, the caller's future, and the script when it is an EVALSHA.
_Pending = tuple[tuple[Any, ...], "asyncio.Future[Any]", AsyncScript | None]


class RedisBatch:
    def __init__(self, redis: Redis, wire: RedisWire | None = None) -> None:
        self.redis = redis
        self.wire = wire  # when set, the pipelines go over it instead of redis-py's
        self._pending: list[_Pending] = []
        self._sending: set[asyncio.Task[None]] = set()
        self.pipelines = 0  # how many round trips the commands took (for tests and metrics)
        self.commands = 0

    def execute(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command; the future holds its reply (or its error)."""
        return self._queue(args, None)

    def script(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        """Queue a registered script (EVALSHA); the future holds its reply. After a server
        restart emptied the script cache the batch runs it once directly, which loads it."""
        return self._queue(("EVALSHA", script.sha, len(keys), *keys, *args), script)

    def _queue(self, args: tuple[Any, ...], script: AsyncScript | None) -> asyncio.Future[Any]:
        # A plain future, not a coroutine: a caller awaits several in turn without a task.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((args, future, script))
        return future

    def _flush(self) -> None:
        if not self._pending:  # drain() sent them already
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Pending]) -> None:
        self.pipelines += 1
        self.commands += len(batch)
        try:
            if self.wire is not None:
                replies = await self.wire.pipeline([args for args, _, _ in batch])
            else:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for args, _, _ in batch:
                        pipe.execute_command(*args)
                    replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed or timed out: every caller hears it
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (args, future, script), reply in zip(batch, replies, strict=True):
            if isinstance(reply, NoScriptError) and script is not None:
                reply = await self._load_and_run(script, args)
            if future.done():  # its caller went away
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    @staticmethod
    async def _load_and_run(script: AsyncScript, evalsha: tuple[Any, ...]) -> Any:
        # The keys and arguments are the EVALSHA's: "EVALSHA", sha, number of keys, keys, args.
        keys = evalsha[3 : 3 + evalsha[2]]
        try:
            return await script(keys=keys, args=evalsha[3 + len(keys) :])
        except Exception as exc:  # handed to the caller like any other reply
            return exc

    async def drain(self) -> None:
        """Wait for the pipelines in flight (at shutdown, before the client closes)."""
        if self._pending:
            self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


async def redis_batch_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, redis = app[SETTINGS], app[REDIS]
    wire = None
    if settings.redis_mode == "standalone" and RedisWire.supports(settings.redis_url):
        wire = RedisWire(settings.redis_url, settings.redis_timeout, redis.response_callbacks)
    app[REDIS_BATCH] = batch = RedisBatch(redis, wire)
    yield
    await batch.drain()
    if wire is not None:
        await wire.aclose()
