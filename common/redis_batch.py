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
from collections.abc import Coroutine, Sequence
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from common.redis_wire import Outcome, RedisWire

# A queued command: its arguments, the caller's future, and the script when it is an EVALSHA.
_Pending = tuple[tuple[Any, ...], "asyncio.Future[Any]", AsyncScript | None]
_Batch = list[_Pending]


async def replies(futures: Sequence[asyncio.Future[Any]]) -> list[Any]:
    """The replies of commands queued together, awaited in turn (gather's machinery costs more
    than the awaits); every outcome is read, so no error is left unretrieved, and the first
    error is raised."""
    try:
        return [await future for future in futures]
    except Exception:
        for future in futures:
            if future.done():
                _retrieve(future)
            else:  # a script reloading after the rest replied
                future.add_done_callback(_retrieve)
        raise


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class RedisBatch:
    def __init__(self, redis: Redis, wire: RedisWire | None = None) -> None:
        self.redis = redis
        self.wire = wire  # when set, the pipelines go over it instead of redis-py's
        self._pending: _Batch = []
        self._loop: asyncio.AbstractEventLoop  # the running loop, set with the first pending
        self._sending: set[asyncio.Task[None]] = set()
        # On the wire, answered by callback, by id; drain() waits on _drained for them.
        self._in_flight: dict[int, _Batch] = {}
        self._drained: asyncio.Future[None] | None = None
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
        if not self._pending:
            self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._flush)
        # A plain future, not a coroutine: a caller awaits several in turn without a task.
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending.append((args, future, script))
        return future

    def _flush(self) -> None:
        if not self._pending:  # drain() sent them already
            return
        batch, self._pending = self._pending, []
        self.pipelines += 1
        self.commands += len(batch)
        if self.wire is not None and self.wire.ready:
            # The hot path: written now, answered from the connection's callback, no task.
            self._in_flight[id(batch)] = batch
            self.wire.send([args for args, _, _ in batch], partial(self._replied, batch))
        else:
            self._spawn(self._send(batch, retry=True))

    def _replied(self, batch: _Batch, outcome: Outcome) -> None:
        del self._in_flight[id(batch)]
        if self._drained is not None and not self._in_flight and not self._drained.done():
            self._drained.set_result(None)
        if isinstance(outcome, RedisConnectionError):  # tried once more on a new connection
            self._spawn(self._send(batch, retry=False))
        else:
            self._deliver(batch, outcome)

    async def _send(self, batch: _Batch, *, retry: bool) -> None:
        try:
            if self.wire is not None:
                replies = await self.wire.pipeline([args for args, _, _ in batch], retry=retry)
            else:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for args, _, _ in batch:
                        pipe.execute_command(*args)
                    replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed or timed out: every caller hears it
            self._deliver(batch, exc)
        else:
            self._deliver(batch, replies)

    def _deliver(self, batch: _Batch, replies: Outcome) -> None:
        if isinstance(replies, Exception):
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(replies)
            return
        for (args, future, script), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller went away
                continue
            if isinstance(reply, NoScriptError) and script is not None:
                self._spawn(self._load_and_run(script, args, future))
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(work)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    @staticmethod
    async def _load_and_run(
        script: AsyncScript, evalsha: tuple[Any, ...], future: asyncio.Future[Any]
    ) -> None:
        # The keys and arguments are the EVALSHA's: "EVALSHA", sha, number of keys, keys, args.
        keys = evalsha[3 : 3 + evalsha[2]]
        try:
            reply = await script(keys=keys, args=evalsha[3 + len(keys) :])
        except Exception as exc:  # handed to the caller like any other reply
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(reply)

    async def drain(self) -> None:
        """Wait for the pipelines in flight (at shutdown, before the client closes)."""
        if self._pending:
            self._flush()
        # A wire batch that fails comes back as a task (its retry), and a script reload is one
        # too: until neither is left.
        while self._sending or self._in_flight:
            if self._in_flight:
                self._drained = self._loop.create_future()
                await self._drained
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
