"""One pipelining connection to a standalone Redis, for RedisBatch's round trips.

redis-py's asyncio pipeline cost about a quarter of a conversation start's CPU: it packs commands
in Python, opens a timeout context per reply and parses through several layers, for pipelines of
a handful of commands. RedisBatch already sends one pipeline per loop turn, so this carries them
on one connection with hiredis packing and parsing, several pipelines in flight at once (Redis
answers in order). The replies are what redis-py gives: errors parsed by redis-py's own parser
(``NoScriptError``, ``BusyLoadingError``...) and the client's response callbacks applied.

Failures keep the service's rules: connecting and each round trip are bounded by the timeout
(``redis.exceptions.TimeoutError``, and the connection is dropped, since late replies would
answer the wrong callers); a broken connection is ``ConnectionError``, retried once on a new
connection as redis-py's client does (repeating a batched command is harmless: the writes are
idempotent, feedback carries its submission id, a rate limit at worst counts a request twice).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError

_Waiter = tuple[list[Any], int, "asyncio.Future[list[Any]]"]


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=BaseParser.parse_error)
        self.waiting: deque[_Waiter] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, packed: bytes, replies: int) -> asyncio.Future[list[Any]]:
        assert self.transport is not None
        done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.waiting.append(([], replies, done))
        self.transport.write(packed)
        return done

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                received, expected, done = self.waiting[0]
                received.append(reply)
                if len(received) == expected:
                    self.waiting.popleft()
                    if not done.done():
                        done.set_result(received)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.abort(RedisConnectionError(f"Protocol error from Redis: {exc!r}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(RedisConnectionError("Connection closed by server."))

    def abort(self, exc: Exception) -> None:
        self.lost = True
        self._fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        while self.waiting:
            done = self.waiting.popleft()[2]
            if not done.done():
                done.set_exception(exc)


class RedisWire:
    def __init__(
        self,
        url: str,
        timeout: float,
        callbacks: Mapping[str, Callable[[Any], Any]],
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

    async def pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Every command's reply, in order; a failed command's error is its reply."""
        packed, refused = _pack(commands)
        try:
            replies = await self._round_trip(packed, len(commands) - len(refused))
        except RedisConnectionError:
            replies = await self._round_trip(packed, len(commands) - len(refused))
        if refused:
            sent = iter(replies)
            replies = [refused.get(index) or next(sent) for index in range(len(commands))]
        callbacks = self.callbacks
        return [
            reply
            if isinstance(reply, Exception) or (callback := callbacks.get(command[0])) is None
            else callback(reply)
            for command, reply in zip(commands, replies, strict=True)
        ]

    async def _round_trip(self, packed: bytes, replies: int) -> list[Any]:
        protocol = await self._connection()
        if not replies:
            return []
        try:
            async with asyncio.timeout(self.timeout):
                return await protocol.send(packed, replies)
        except TimeoutError:
            protocol.abort(RedisTimeoutError("Timeout reading from Redis"))
            raise RedisTimeoutError("Timeout reading from Redis") from None

    async def _connection(self) -> _Protocol:
        if self._protocol is not None and not self._protocol.lost:
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
                _, protocol = await loop.create_connection(_Protocol, self.host, self.port)
                if self.handshake:
                    packed, _ = _pack(self.handshake)
                    for reply in await protocol.send(packed, len(self.handshake)):
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
