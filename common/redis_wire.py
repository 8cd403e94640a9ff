"""One pipelining connection to a standalone Redis, for RedisBatch's round trips.

redis-py's asyncio pipeline cost about a quarter of a conversation start's CPU: it packs commands
in Python, opens a timeout context per reply and parses through several layers, for pipelines of
a handful of commands. RedisBatch already sends one pipeline per loop turn, so this carries them
on one connection with hiredis packing and parsing, several pipelines in flight at once (Redis
answers in order). On an open connection a pipeline is written at once and its outcome handed to
a callback from ``data_received`` (``send``): no task, coroutine or timeout context per round
trip; ``pipeline`` is the awaitable form, which also connects. The replies are what redis-py
gives: errors parsed by redis-py's own parser (``NoScriptError``, ``BusyLoadingError``...) and
the client's response callbacks applied.

Failures keep the service's rules: connecting and each round trip are bounded by the timeout
(``redis.exceptions.TimeoutError``, and the connection is dropped, since late replies would
answer the wrong callers); a broken connection is ``ConnectionError`` (also one reset before it
is written on: its transport is closed before ``connection_lost`` runs), retried once on a new
connection as redis-py's client does (repeating a batched command is harmless: the writes are
idempotent, feedback carries its submission id, a rate limit at worst counts a request twice).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import hiredis
import redis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError


def redis_error_parser() -> Callable[[str], Exception]:
    """redis-py's own parser of error replies (``NoScriptError``, ``BusyLoadingError``...).

    It lives in redis-py's private ``redis._parsers``, which a new major version may move:
    pyproject.toml pins the major version, and this is checked when the runtime starts (this
    module is imported by its app), with an error that says what to do rather than a bare
    ImportError from deep inside a request."""
    try:
        from redis._parsers.base import BaseParser

        parse_error: Callable[[str], Exception] = BaseParser.parse_error
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(
            f"redis-py {redis.__version__} has no redis._parsers.base.BaseParser.parse_error, "
            "which common/redis_wire.py uses to parse error replies: install the "
            "redis-py major version pyproject.toml pins"
        ) from exc
    return parse_error


_PARSE_ERROR = redis_error_parser()

# A round trip in flight: the replies so far, how many are due, who hears the outcome (the
# replies, or the error that ended the connection), and by when (the loop's clock).
Outcome = list[Any] | Exception
_Waiter = tuple[list[Any], int, Callable[[Outcome], None], float]


class _Protocol(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self.reader = hiredis.Reader(replyError=_PARSE_ERROR)
        self.waiting: deque[_Waiter] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()  # made by the loop's create_connection
        # One timer for the connection, set to the oldest round trip's deadline, instead of a
        # timeout per round trip.
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    @property
    def open(self) -> bool:
        """Whether a write can still reach Redis. A reset connection's transport is closed
        before ``connection_lost`` runs (on uvloop, writing to it then raises RuntimeError)."""
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def send(self, packed: bytes, replies: int, done: Callable[[Outcome], None]) -> None:
        if not self.open:  # reset since it was handed out: nothing would ever answer
            done(RedisConnectionError("Connection closed by server."))
            return
        assert self.transport is not None
        self.waiting.append(([], replies, done, self.loop.time() + self.timeout))
        if self._timer is None:
            self._timer = self.loop.call_at(self.waiting[0][3], self._check_deadline)
        self.transport.write(packed)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                received, expected, done, _ = self.waiting[0]
                received.append(reply)
                if len(received) == expected:
                    self.waiting.popleft()
                    done(received)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.abort(RedisConnectionError(f"Protocol error from Redis: {exc!r}"))

    def _check_deadline(self) -> None:
        self._timer = None
        if not self.waiting:
            return
        deadline = self.waiting[0][3]
        if self.loop.time() < deadline:  # the round trip it was set for has returned
            self._timer = self.loop.call_at(deadline, self._check_deadline)
        else:  # late replies would answer the wrong callers: the connection goes
            self.abort(RedisTimeoutError("Timeout reading from Redis"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(RedisConnectionError("Connection closed by server."))

    def abort(self, exc: Exception) -> None:
        self.lost = True
        self._fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.waiting:
            self.waiting.popleft()[2](exc)


class RedisWire:
    def __init__(
        self,
        url: str,
        timeout: float,
        # The client's response callbacks: redis-py's defaults, all synchronous.
        callbacks: Mapping[str | bytes, Callable[..., Any]],
    ) -> None:
        options = parse_url(url)
        self.host = options.get("host", "localhost")
        self.port = int(options.get("port", 6379))
        self.timeout = timeout
        # A plain dict by upper-case name: redis-py's case-insensitive mapping costs a call.
        self.callbacks = {name.upper(): callback for name, callback in callbacks.items()}
        # Sent first on every new connection, in the order redis-py sends them.
        self.handshake: list[tuple[Any, ...]] = []
        if options.get("password") is not None:
            username = options.get("username")
            auth = (username, options["password"]) if username else (options["password"],)
            self.handshake.append(("AUTH", *auth))
        if int(options.get("db", 0)):
            self.handshake.append(("SELECT", int(options["db"])))
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None

    @staticmethod
    def supports(url: str) -> bool:
        """Plain TCP with no query options: TLS, unix sockets and URLs that tune the connection
        (``?protocol=3``...) stay with redis-py, which honours them."""
        return url.startswith("redis://") and "?" not in url

    @property
    def ready(self) -> bool:
        """Whether a connection is open, so ``send`` can write at once."""
        return self._protocol is not None and self._protocol.open

    def send(self, commands: Sequence[Sequence[Any]], done: Callable[[Outcome], None]) -> None:
        """Write ``commands`` on the open connection (only when ``ready``); ``done`` hears every
        command's reply (a failed command's error is its reply) or the round trip's error, from
        the connection's callbacks: no task and no coroutine per round trip."""
        assert self._protocol is not None
        self._send_on(self._protocol, commands, done)

    async def pipeline(
        self, commands: Sequence[Sequence[Any]], *, retry: bool = True
    ) -> list[Any]:
        """Every command's reply, in order, connecting first when needed; on ConnectionError,
        tried once more on a new connection when ``retry``."""
        try:
            return await self._attempt(commands)
        except RedisConnectionError:
            if not retry:
                raise
            return await self._attempt(commands)

    async def _attempt(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        return await self._round_trip(await self._connection(), commands)

    async def _round_trip(
        self, protocol: _Protocol, commands: Sequence[Sequence[Any]]
    ) -> list[Any]:
        """``send`` on ``protocol``, awaited: the replies, or the round trip's error raised."""
        outcome: asyncio.Future[Outcome] = protocol.loop.create_future()
        self._send_on(protocol, commands, _settles(outcome))
        replies = await outcome
        if isinstance(replies, Exception):
            raise replies
        return replies

    def _send_on(
        self,
        protocol: _Protocol,
        commands: Sequence[Sequence[Any]],
        done: Callable[[Outcome], None],
    ) -> None:
        packed, refused = _pack(commands)
        callbacks = self.callbacks

        def replied(replies: Outcome) -> None:
            if isinstance(replies, Exception):
                done(replies)
                return
            if refused:
                sent = iter(replies)
                replies = [refused.get(index) or next(sent) for index in range(len(commands))]
            try:
                replies = [
                    reply
                    if isinstance(reply, Exception)
                    or (callback := callbacks.get(command[0])) is None
                    else callback(reply)
                    for command, reply in zip(commands, replies, strict=True)
                ]
            except Exception as exc:  # a reply a callback cannot read: nobody is left waiting
                replies = exc
            done(replies)

        if len(refused) == len(commands):  # nothing to send
            replied([])
        else:
            protocol.send(packed, len(commands) - len(refused), replied)

    async def _connection(self) -> _Protocol:
        if self._protocol is not None and self._protocol.open:
            return self._protocol
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
            # Its failure is read here too, should every caller have given up waiting.
            self._connecting.add_done_callback(lambda task: task.cancelled() or task.exception())
        connecting = self._connecting
        try:
            # Shielded: one caller giving up must not stop the connection the others wait for.
            self._protocol = await asyncio.shield(connecting)
        finally:
            if self._connecting is connecting and connecting.done():
                self._connecting = None
        return self._protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        protocol: _Protocol | None = None
        try:
            async with asyncio.timeout(self.timeout):
                _, protocol = await loop.create_connection(
                    lambda: _Protocol(self.timeout), self.host, self.port
                )
                for reply in await self._round_trip(protocol, self.handshake):
                    if isinstance(reply, Exception):
                        raise reply
            return protocol
        except BaseException as exc:
            if protocol is not None:  # connected, but the handshake failed or took too long
                protocol.abort(RedisConnectionError("Redis handshake failed"))
            if isinstance(exc, TimeoutError):  # before OSError: it is one
                raise RedisTimeoutError("Timeout connecting to Redis") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"Error connecting to Redis: {exc}") from None
            raise

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


def _settles(future: asyncio.Future[Outcome]) -> Callable[[Outcome], None]:
    """A ``done`` for ``send`` that hands the outcome to ``future`` (unless its waiter left)."""

    def done(outcome: Outcome) -> None:
        if not future.done():
            future.set_result(outcome)

    return done


def _pack(commands: Sequence[Sequence[Any]]) -> tuple[bytes, dict[int, Exception]]:
    """The RESP bytes of the commands that can be sent, and the errors of those that cannot
    (an argument that is not a string or a number), by position."""
    chunks: list[bytes] = []
    refused: dict[int, Exception] = {}
    for index, command in enumerate(commands):
        try:
            chunks.append(hiredis.pack_command(tuple(command)))  # it takes tuples only
        except TypeError as exc:
            refused[index] = DataError(str(exc))
    return b"".join(chunks), refused
