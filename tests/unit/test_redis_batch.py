"""Redis commands of concurrent callers share one pipeline; each caller gets its own reply or
error, against a real redis-server, over redis-py's pipeline and over RedisWire alike."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from common.redis_batch import RedisBatch, replies
from common.redis_process import RedisProcess
from common.redis_wire import RedisWire

TRANSPORTS = ["redis-py", "wire"]


def over(transport: str, redis: Redis, url: str) -> RedisBatch:
    wire = RedisWire(url, 1.0, redis.response_callbacks) if transport == "wire" else None
    return RedisBatch(redis, wire)


@pytest.fixture(params=TRANSPORTS)
async def batch(request: Any, redis: Redis, redis_proc: RedisProcess) -> AsyncIterator[RedisBatch]:
    made = over(request.param, redis, redis_proc.url)
    yield made
    if made.wire is not None:
        await made.wire.aclose()


async def test_concurrent_commands_share_one_round_trip(batch: RedisBatch) -> None:
    replies = await asyncio.gather(*(batch.execute("INCR", "counter") for _ in range(20)))
    assert sorted(replies) == list(range(1, 21))
    assert (batch.pipelines, batch.commands) == (1, 20)
    # Callers that arrive on a later turn take the next pipeline.
    assert await batch.execute("GET", "counter") == b"20"
    assert batch.pipelines == 2


async def test_one_callers_commands_keep_their_order(batch: RedisBatch) -> None:
    written = batch.execute("SET", "key", "first")
    read = batch.execute("GET", "key")
    assert await asyncio.gather(written, read) == [True, b"first"]
    assert batch.pipelines == 1


async def test_an_error_reply_reaches_only_its_caller(batch: RedisBatch) -> None:
    results = await asyncio.gather(
        batch.execute("SET", "text", "x"),
        batch.execute("INCR", "text"),
        batch.execute("GET", "text"),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] == b"x"
    assert isinstance(results[1], ResponseError)


async def test_script_reloads_itself_after_the_script_cache_is_flushed(
    batch: RedisBatch, redis: Redis
) -> None:
    script = redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await batch.script(script, ["n"], [2]) == 2
    await redis.script_flush()  # what a restarted server looks like
    assert await batch.script(script, ["n"], [3]) == 5
    assert await batch.script(script, ["n"], [1]) == 6


async def test_scripts_missing_from_the_script_cache_each_get_their_own_outcome(
    batch: RedisBatch, redis: Redis
) -> None:
    incr = redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    broken = redis.register_script("return redis.call('NOSUCHCOMMAND')")
    await redis.script_flush()
    # All queued in one loop turn: one pipeline, in which both scripts miss the script cache.
    added = batch.script(incr, ["n"], [4])
    failed = batch.script(broken, [], [])
    other = batch.execute("SET", "other", "x")
    assert await added == 4
    with pytest.raises(ResponseError, match=r"(?i)unknown"):
        await failed
    assert await other is True
    assert batch.pipelines == 1
    assert await redis.get("n") == b"4"


async def test_replies_come_in_order_and_the_first_error_is_raised(batch: RedisBatch) -> None:
    await batch.execute("SET", "text", "x")
    assert await replies([batch.execute("GET", "text"), batch.execute("EXISTS", "none")]) == [
        b"x", 0
    ]
    unretrieved: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unretrieved.append(context))
    queued = [batch.execute("GET", "text"), batch.execute("INCR", "text"),
              batch.execute("LPUSH", "text", "y")]
    with pytest.raises(ResponseError, match="not an integer"):
        await replies(queued)
    assert batch.pipelines == 3
    # The other error was read too: a future dropped with an unread exception would be reported
    # to the loop's handler ("Future exception was never retrieved") when collected.
    del queued
    gc.collect()
    assert unretrieved == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_failed_connection_reaches_every_caller(transport: str) -> None:
    proc = RedisProcess().start()
    client = Redis.from_url(proc.url, socket_timeout=1, socket_connect_timeout=1)
    batch = over(transport, client, proc.url)
    try:
        assert await batch.execute("PING") is True
        proc.stop()
        results = await asyncio.gather(
            *(batch.execute("GET", f"k{n}") for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(result, RedisConnectionError) for result in results), results
    finally:
        if batch.wire is not None:
            await batch.wire.aclose()
        await client.aclose()
        proc.cleanup()


@pytest.mark.parametrize("connected", [False, True])
async def test_drain_waits_for_pipelines_in_flight(batch: RedisBatch, connected: bool) -> None:
    if connected:  # over the wire, an open connection answers by callback rather than a task
        assert await batch.execute("PING") is True
    queued = batch.execute("SET", "drained", "yes")
    await batch.drain()
    assert queued.done() and queued.result() is True


async def test_a_connection_lost_mid_pipeline_is_tried_once_more_on_a_new_one(
    redis: Redis, redis_proc: RedisProcess
) -> None:
    batch = over("wire", redis, redis_proc.url)
    try:
        own_id = await batch.execute("CLIENT", "ID")
        # Redis answers the kill of its own connection, closes it and leaves the SET unanswered.
        kill = batch.execute("CLIENT", "KILL", "ID", own_id, "SKIPME", "no")
        written = batch.execute("SET", "after-kill", "x")
        results = await asyncio.gather(kill, written, return_exceptions=True)
        # Both ran again on a new connection: there the kill finds no such client (it killed
        # one the first time), and the SET is answered.
        assert results == [0, True]
        assert await redis.get("after-kill") == b"x"
    finally:
        assert batch.wire is not None
        await batch.wire.aclose()
