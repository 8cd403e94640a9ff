"""RedisWire against real redis-servers: the same replies as redis-py, its handshake, and the
service's failure rules (bounded waits, one retry on a new connection, no reply to a wrong
caller)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, DataError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common import redis_wire
from common.redis_batch import RedisBatch
from common.redis_process import RedisProcess
from common.redis_wire import RedisWire, redis_error_parser
from tests.support.paths import ROOT

TIMEOUT = 0.5


@pytest.fixture
async def wire(redis: Redis, redis_proc: RedisProcess) -> AsyncIterator[RedisWire]:
    made = RedisWire(redis_proc.url, TIMEOUT, redis.response_callbacks)
    yield made
    await made.aclose()


def comparable(reply: Any) -> Any:
    return (type(reply), str(reply)) if isinstance(reply, Exception) else reply


async def test_replies_are_what_redis_py_gives(wire: RedisWire, redis: Redis) -> None:
    await redis.hset("h", "f", "v")
    commands: list[tuple[Any, ...]] = [
        ("PING",), ("SET", "k", "v"), ("GET", "k"), ("GET", "missing"), ("INCR", "n"),
        ("INCR", "k"), ("HGET", "h", "f"), ("HGET", "h", "nope"), ("EXPIRE", "k", 60),
        ("ZADD", "z", 0, "a"), ("ZREVRANGEBYLEX", "z", "+", "-"),
        ("EVAL", "return {1, 'two', {3}}", 0), ("EVALSHA", "0" * 40, 0), ("NOSUCHCOMMAND",),
    ]
    ours = await wire.pipeline(commands)
    await redis.delete("k", "n", "z")
    async with redis.pipeline(transaction=False) as pipe:
        for command in commands:
            pipe.execute_command(*command)
        theirs = await pipe.execute(raise_on_error=False)
    assert [comparable(r) for r in ours] == [comparable(r) for r in theirs]
    assert isinstance(ours[12], NoScriptError) and isinstance(ours[5], ResponseError)


async def test_pipelines_in_flight_together_get_their_own_replies(wire: RedisWire) -> None:
    async def own(n: int) -> list[Any]:
        return await wire.pipeline([("SET", f"k{n}", n), ("GET", f"k{n}"), ("INCR", f"c{n}")])

    results = await asyncio.gather(*(own(n) for n in range(200)))
    assert results == [[True, str(n).encode(), 1] for n in range(200)]


async def test_an_argument_redis_cannot_take_fails_only_its_command(wire: RedisWire) -> None:
    replies = await wire.pipeline([("SET", "a", "1"), ("SET", "b", None), ("GET", "a")])
    assert replies[0] is True and replies[2] == b"1"
    assert isinstance(replies[1], DataError)


async def test_a_reply_its_callback_cannot_read_fails_its_pipeline_only(
    redis_proc: RedisProcess,
) -> None:
    def unreadable(reply: Any) -> Any:
        raise ValueError(f"cannot read {reply!r}")

    wire = RedisWire(redis_proc.url, TIMEOUT, {"ECHO": unreadable})
    try:
        with pytest.raises(ValueError, match="cannot read"):
            await wire.pipeline([("ECHO", "x"), ("SET", "k", "v")])
        assert await wire.pipeline([("GET", "k")]) == [b"v"]  # the connection still serves
    finally:
        await wire.aclose()


async def test_password_and_database_from_the_url(redis_proc: RedisProcess) -> None:
    async with Redis.from_url(redis_proc.url) as admin:
        await admin.config_set("requirepass", "s3cret")
    url = f"redis://:s3cret@127.0.0.1:{redis_proc.port}/2"
    client = Redis.from_url(url)
    wire = RedisWire(url, TIMEOUT, client.response_callbacks)
    wrong = RedisWire(f"redis://:nope@127.0.0.1:{redis_proc.port}/2", TIMEOUT, {})
    try:
        assert await wire.pipeline([("SET", "where", "db2")]) == [True]
        assert await client.get("where") == b"db2"  # the same database as redis-py's
        with pytest.raises(AuthenticationError):  # a ConnectionError: answered 503
            await wrong.pipeline([("PING",)])
    finally:
        await wire.aclose()
        await wrong.aclose()
        await client.aclose()


async def test_a_frozen_server_times_out_and_a_thawed_one_answers_again(
    wire: RedisWire, redis_proc: RedisProcess
) -> None:
    assert await wire.pipeline([("SET", "k", "before")]) == [True]
    redis_proc.pause()
    started = time.monotonic()
    waits = [wire.pipeline([("GET", "k")]) for _ in range(3)]
    results = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(r, RedisTimeoutError) for r in results), results
    assert time.monotonic() - started < TIMEOUT * 3
    redis_proc.resume()
    # A new connection: the old one's late replies can reach nobody.
    assert await wire.pipeline([("GET", "k")]) == [b"before"]


async def test_a_restarted_server_is_reached_on_a_new_connection(
    wire: RedisWire, redis_proc: RedisProcess
) -> None:
    assert await wire.pipeline([("PING",)]) == [True]
    redis_proc.restart()
    assert await wire.pipeline([("PING",)]) == [True]
    redis_proc.stop()
    with pytest.raises(RedisConnectionError):
        await wire.pipeline([("PING",)])


async def test_a_server_that_never_answers_the_handshake_is_left_in_time() -> None:
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads until the client goes away, answers nothing
        closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wire = RedisWire(f"redis://:pw@127.0.0.1:{port}/0", TIMEOUT, {})
    try:
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await wire.pipeline([("PING",)])
        assert time.monotonic() - started < TIMEOUT * 2
        await asyncio.wait_for(closed.wait(), 1)  # the half-open connection was closed
    finally:
        await wire.aclose()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("url", "supported"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("redis://:pw@redis:6379", True),
        ("rediss://redis:6380/0", False),
        ("unix:///run/redis.sock", False),
        ("redis://redis:6379/0?protocol=3", False),
    ],
)
def test_only_plain_tcp_urls_without_options_use_the_wire(url: str, supported: bool) -> None:
    assert RedisWire.supports(url) is supported


# What a redis-py without the private parser looks like to the import (a moved module, or a
# BaseParser without parse_error).
_WITHOUT_PARSER = {
    "moved": "import redis.asyncio; sys.modules['redis._parsers.base'] = None",
    "renamed": "import redis._parsers.base as b; del b.BaseParser.parse_error",
}


@pytest.mark.parametrize("change", sorted(_WITHOUT_PARSER))
def test_a_redis_py_without_its_private_parser_fails_the_runtime_start_clearly(
    change: str,
) -> None:
    # A fresh interpreter: the check runs when the runtime's app module is first imported.
    code = f"import sys; {_WITHOUT_PARSER[change]}; import runtime_service.app"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=ROOT,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: redis-py ")
    assert "redis._parsers.base.BaseParser.parse_error" in last
    assert "pyproject.toml" in last


def test_the_installed_redis_py_has_the_parser() -> None:
    parse = redis_error_parser()
    assert isinstance(parse("NOSCRIPT No matching script"), NoScriptError)


# --- a connection reset as soon as it is made -------------------------------------------------
# What a proxy whose backend is down does (tests/support/tcp_proxy.py "reset"): the connection
# is made, then reset before the caller writes on it. Made deterministic here: the transport is
# aborted as soon as it exists, as the loop does when it reads the RST. Run on both loops the
# services use: asyncio's drops the write silently (a timeout instead of a ConnectionError),
# uvloop's raises RuntimeError, which is not a Redis error and so was a 500.

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


class _ResetOnConnect(redis_wire._Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.abort()


def _on(loop: str, scenario: Any) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(asyncio.wait_for(scenario, 30))


async def _reset_then_recovered(url: str, password: str | None) -> None:
    admin = Redis.from_url(url)
    if password:  # admin's connection stays authenticated as it was
        await admin.config_set("requirepass", password)
        url = url.replace("redis://", f"redis://:{password}@")
    wire = RedisWire(url, TIMEOUT, admin.response_callbacks)
    batch = RedisBatch(admin, wire)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(redis_wire, "_Protocol", _ResetOnConnect)
            start = time.monotonic()
            with pytest.raises(RedisConnectionError):
                await wire.pipeline([("PING",)])
            with pytest.raises(RedisConnectionError):  # through the batch, retry and all
                await batch.execute("PING")
            assert time.monotonic() - start < TIMEOUT  # at once, not at the timeout
        assert await wire.pipeline([("SET", "k", "v"), ("GET", "k")]) == [True, b"v"]
        assert await batch.execute("GET", "k") == b"v"
    finally:
        await wire.aclose()
        if password:
            await admin.config_set("requirepass", "")
        await admin.aclose()


@pytest.mark.parametrize("password", [None, "s3cret"], ids=["no-handshake", "handshake"])
@pytest.mark.parametrize("loop", LOOPS)
def test_a_connection_reset_as_it_is_made_is_a_connection_error(
    loop: str, password: str | None, redis_proc: RedisProcess
) -> None:
    _on(loop, _reset_then_recovered(redis_proc.url, password))
