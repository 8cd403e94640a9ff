"""The one Redis retry policy (common/redis_client.py), as every caller gets it."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.redis_client import RETRIED_ERRORS, RETRIES, _options, call_with_retry, client_retry
from common.settings import Settings


class Failing:
    """A command that raises ``errors`` in turn, then answers "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, *args: object) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_a_broken_connection_is_retried_once() -> None:
    once = Failing(RedisConnectionError("reset"))
    assert await call_with_retry(1.0, once) == "ok"
    assert once.calls == 2
    twice = Failing(RedisConnectionError("reset"), RedisConnectionError("refused"))
    with pytest.raises(RedisConnectionError, match="refused"):
        await call_with_retry(1.0, twice)
    assert twice.calls == 2


async def test_a_timeout_is_not_retried() -> None:
    timing_out = Failing(RedisTimeoutError("slow"))
    with pytest.raises(RedisTimeoutError):
        await call_with_retry(1.0, timing_out)
    assert timing_out.calls == 1


async def test_the_whole_call_is_bounded() -> None:
    async def stalled() -> None:
        await asyncio.sleep(10)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RedisTimeoutError):
        await call_with_retry(0.05, stalled)
    assert loop.time() - started < 1


def test_the_clients_use_the_same_policy() -> None:
    options = _options(Settings(service="runtime"))
    retry = options["retry"]
    assert retry._retries == RETRIES == client_retry()._retries
    assert retry._supported_errors == RETRIED_ERRORS
    assert options["retry_on_error"] == list(RETRIED_ERRORS)
