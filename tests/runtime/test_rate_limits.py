"""Rate limits of the public endpoints, enforced by one Lua script on a real redis-server."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys
from runtime_service.app import create_app
from runtime_service.client_address import client_address
from runtime_service.rate_limits import Rate, RateLimitedError, RateLimiter
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget

PREFIX = "/core/public/web-widgets"


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    return await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)


@pytest.fixture
async def limited(aiohttp_client: Any, settings_factory: Any) -> Any:
    async def factory(**limits: str) -> Any:
        settings = settings_factory("runtime", **limits)
        return await aiohttp_client(create_app(settings))

    return factory


async def test_start_limit_answers_429_with_retry_after(limited: Any, widget: Any) -> None:
    client = await limited(rate_limit_start="3/60")
    url = f"{PREFIX}/{widget.id}/conversations"
    statuses = [(await client.post(url, json={"user_id": "u"})).status for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    resp = await client.post(url, json={"user_id": "u"})
    assert 1 <= int(resp.headers["Retry-After"]) <= 20  # one slot frees every 20 s
    assert (await resp.json())["detail"]


async def test_40_concurrent_resumes_get_exactly_the_start_budget(
    limited: Any, widget: Any
) -> None:
    # Each resume dispatches a paid agent into a fresh room, like a start: one budget for both.
    client = await limited(rate_limit_start="10/60", trusted_proxies="1")
    url = f"{PREFIX}/{widget.id}/conversations"
    started = await client.post(
        url, json={"user_id": "u"}, headers={"X-Forwarded-For": "198.51.100.1"}
    )
    resume = {"user_id": "u", "conversation_id": (await started.json())["conversation"]["id"]}
    other = {"X-Forwarded-For": "198.51.100.2"}  # a full budget: the start was elsewhere
    statuses = await asyncio.gather(
        *(client.post(url, json=resume, headers=other) for _ in range(40))
    )
    assert Counter(resp.status for resp in statuses) == {200: 10, 429: 30}


async def test_starts_and_resumes_share_one_budget(limited: Any, widget: Any) -> None:
    client = await limited(rate_limit_start="3/60")
    url = f"{PREFIX}/{widget.id}/conversations"
    cid = (await (await client.post(url, json={"user_id": "u"})).json())["conversation"]["id"]
    resume = {"user_id": "u", "conversation_id": cid}
    assert (await client.post(url, json=resume)).status == 200
    assert (await client.post(url, json={"user_id": "u"})).status == 200
    assert (await client.post(url, json=resume)).status == 429
    assert (await client.post(url, json={"user_id": "u"})).status == 429


async def test_limits_are_per_widget_and_per_address(
    limited: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    client = await limited(rate_limit_list="2/60", trusted_proxies="1")
    other = await seed_widget(redis, keys, await seed_agent_version(redis, keys, new_id()))

    async def listing(widget_id: str, address: str) -> int:
        resp = await client.get(
            f"{PREFIX}/{widget_id}/conversations",
            params={"user_id": "u"},
            headers={"X-Forwarded-For": address},
        )
        return resp.status

    assert [await listing(widget.id, "203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert await listing(other.id, "203.0.113.1") == 200
    assert await listing(widget.id, "203.0.113.2") == 200


async def test_feedback_is_limited_per_conversation_too(limited: Any, widget: Any) -> None:
    client = await limited(rate_limit_feedback_per_conversation="2/60", trusted_proxies="1")
    start = await client.post(f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u"})
    cid = (await start.json())["conversation"]["id"]
    url = f"{PREFIX}/{widget.id}/conversations/{cid}/feedback"
    statuses = []
    for i in range(3):  # three addresses, one conversation
        resp = await client.post(
            url, json={"data": {"nope": 1}}, headers={"X-Forwarded-For": f"198.51.100.{i}"}
        )
        statuses.append(resp.status)
    assert statuses == [400, 400, 429]


async def test_widget_get_is_never_limited(limited: Any, widget: Any) -> None:
    client = await limited(rate_limit_list="1/60", rate_limit_start="1/60")
    statuses = {(await client.get(f"{PREFIX}/{widget.id}")).status for _ in range(50)}
    assert statuses == {200}


async def test_concurrent_hits_never_exceed_the_limit(redis: Redis, keys: RedisKeys) -> None:
    limiter = RateLimiter(RedisBatch(redis))
    key = keys.rate_limit(new_id(), "start", "203.0.113.9")

    async def one() -> str:
        try:
            await limiter.hit([(key, Rate(10, 60))])
            return "ok"
        except RateLimitedError:
            return "limited"

    results = Counter(await asyncio.gather(*(one() for _ in range(100))))
    assert results == {"ok": 10, "limited": 90}


async def test_a_refusal_counts_nothing_against_the_other_limits(
    redis: Redis, keys: RedisKeys
) -> None:
    limiter = RateLimiter(RedisBatch(redis))
    wide, narrow = keys.rate_limit("w", "a", "x"), keys.rate_limit("w", "b", "x")
    await limiter.hit([(narrow, Rate(1, 60))])
    for _ in range(3):
        with pytest.raises(RateLimitedError) as refused:
            await limiter.hit([(wide, Rate(3, 60)), (narrow, Rate(1, 60))])
        assert refused.value.which == 1
    for _ in range(3):  # all three of `wide` are still there
        await limiter.hit([(wide, Rate(3, 60))])


async def test_the_limit_refills_over_time(redis: Redis, keys: RedisKeys) -> None:
    limiter = RateLimiter(RedisBatch(redis))
    key = keys.rate_limit("w", "a", "refill")
    await limiter.hit([(key, Rate(2, 1))])
    await limiter.hit([(key, Rate(2, 1))])
    with pytest.raises(RateLimitedError):
        await limiter.hit([(key, Rate(2, 1))])
    await asyncio.sleep(0.55)  # one request's worth (500 ms) has come back
    await limiter.hit([(key, Rate(2, 1))])
    assert 0 < await redis.pttl(key) <= 1000


def _request(remote: str, forwarded: list[str]) -> web.Request:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    request = make_mocked_request("GET", "/", headers=headers)
    return request.clone(remote=remote)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.1", ["1.2.3.4"], "10.0.0.1"),  # no trusted proxy: the header is ignored
        (1, "10.0.0.1", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),  # the client wrote the left part
        (2, "10.0.0.1", ["6.6.6.6, 1.2.3.4, 172.16.0.9"], "1.2.3.4"),
        (2, "10.0.0.1", ["1.2.3.4", "172.16.0.9"], "1.2.3.4"),  # several header lines
        (2, "10.0.0.1", ["1.2.3.4"], "10.0.0.1"),  # fewer hops than proxies: only the peer
        (1, "10.0.0.1", ["garbage"], "10.0.0.1"),
        (1, "10.0.0.1", ["2001:db8:1:2:3:4:5:6"], "2001:db8:1:2::/64"),
        (0, "::ffff:1.2.3.4", [], "1.2.3.4"),
    ],
)
def test_client_address(trusted: int, remote: str, forwarded: list[str], expected: str) -> None:
    assert client_address(_request(remote, forwarded), trusted) == expected


@pytest.mark.parametrize("spec", ["10", "0/60", "10/0", "ten/60", "10/60/2", ""])
def test_malformed_limits_stop_start_up(spec: str) -> None:
    from common.settings import Settings

    with pytest.raises(SystemExit):
        Settings.from_env("runtime", {"RATE_LIMIT_START": spec})
