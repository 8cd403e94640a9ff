"""GET /core/public/web-widgets/{id}: the stored widget bytes for published widgets only, with
ETag revalidation and public caching headers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from common.settings import Settings
from tests.support.seed import seed_widget

PREFIX = "/core/public/web-widgets"


async def test_published_widget_body_is_the_stored_bytes(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(
        redis, keys, version, domains=["https://shop.example"], config={"v1": {"theme": "dark"}}
    )
    resp = await client.get(f"{PREFIX}/{widget.id}")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.read() == await redis.get(keys.widget(widget.id))
    body = await resp.json()
    assert list(body) == [
        "id", "organization_id", "agent_id", "agent_version_id", "domains", "published",
        "config", "created_at", "updated_at",
    ]  # fmt: skip
    assert body["id"] == widget.id and body["config"] == {"v1": {"theme": "dark"}}


async def test_unpublished_widget_is_404(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(redis, keys, version, published=False)
    resp = await client.get(f"{PREFIX}/{widget.id}")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Widget not found"}


@pytest.mark.parametrize(
    "widget_id",
    [new_id(), "not-a-uuid", new_id().upper(), "00000000-0000-0000-0000-000000000000x"],
)
async def test_unknown_or_malformed_id_is_404(client: Any, widget_id: str) -> None:
    resp = await client.get(f"{PREFIX}/{widget_id}")
    assert resp.status == 404
    assert await resp.json() == {"detail": "Widget not found"}


async def test_malformed_id_does_not_touch_redis(client: Any, redis: Redis) -> None:
    before = (await redis.info("stats"))["keyspace_misses"]
    for _ in range(5):
        assert (await client.get(f"{PREFIX}/definitely-not-a-uuid")).status == 404
    assert (await redis.info("stats"))["keyspace_misses"] == before


async def test_unknown_ids_are_negatively_cached(client: Any, redis: Redis) -> None:
    missing = new_id()
    before = (await redis.info("stats"))["keyspace_misses"]
    for _ in range(10):
        assert (await client.get(f"{PREFIX}/{missing}")).status == 404
    assert (await redis.info("stats"))["keyspace_misses"] == before + 1


async def test_etag_and_cache_headers(
    client: Any, redis: Redis, keys: RedisKeys, version: Any, runtime_settings: Settings
) -> None:
    widget = await seed_widget(redis, keys, version)
    resp = await client.get(f"{PREFIX}/{widget.id}")
    etag = resp.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert resp.headers["Cache-Control"] == (
        f"public, max-age={runtime_settings.public_cache_max_age}"
    )
    assert "Origin" in resp.headers["Vary"]
    again = await client.get(f"{PREFIX}/{widget.id}")
    assert again.headers["ETag"] == etag


@pytest.mark.parametrize(
    "header",
    ["{etag}", "W/{etag}", '"other", {etag}', '"a",W/{etag} , "b"', "*"],
)
async def test_if_none_match_answers_304(
    client: Any, redis: Redis, keys: RedisKeys, version: Any, header: str
) -> None:
    widget = await seed_widget(redis, keys, version)
    etag = (await client.get(f"{PREFIX}/{widget.id}")).headers["ETag"]
    resp = await client.get(
        f"{PREFIX}/{widget.id}", headers={"If-None-Match": header.format(etag=etag)}
    )
    assert resp.status == 304
    assert await resp.read() == b""
    assert resp.headers["ETag"] == etag
    assert resp.headers["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize("header", ['"nope"', 'W/"nope"', "garbage", '"a", "b"'])
async def test_if_none_match_mismatch_answers_200(
    client: Any, redis: Redis, keys: RedisKeys, version: Any, header: str
) -> None:
    widget = await seed_widget(redis, keys, version)
    resp = await client.get(f"{PREFIX}/{widget.id}", headers={"If-None-Match": header})
    assert resp.status == 200
    assert (await resp.json())["id"] == widget.id


async def test_etag_changes_with_the_widget(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(redis, keys, version, config={"v1": {"theme": "light"}})
    first = (await client.get(f"{PREFIX}/{widget.id}")).headers["ETag"]
    await seed_widget(redis, keys, version, widget_id=widget.id, config={"v1": {"theme": "dark"}})
    # The event arrives asynchronously; an If-None-Match with the old tag must end in a 200.
    deadline = asyncio.get_running_loop().time() + 2.0
    while True:
        resp = await client.get(f"{PREFIX}/{widget.id}", headers={"If-None-Match": first})
        if resp.status == 200 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    assert resp.status == 200
    assert resp.headers["ETag"] != first
    assert (await resp.json())["config"] == {"v1": {"theme": "dark"}}


async def test_404_is_not_publicly_cacheable(client: Any) -> None:
    resp = await client.get(f"{PREFIX}/{new_id()}")
    assert resp.status == 404
    assert "public" not in resp.headers.get("Cache-Control", "")


async def test_a_burst_of_requests_reads_redis_once(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(redis, keys, version, publish_event=False)
    before = (await redis.info("stats"))["keyspace_hits"]
    responses = await asyncio.gather(*(client.get(f"{PREFIX}/{widget.id}") for _ in range(30)))
    assert [resp.status for resp in responses] == [200] * 30
    assert (await redis.info("stats"))["keyspace_hits"] == before + 1


async def test_head_has_the_get_headers(client: Any, widget: Any) -> None:
    resp = await client.head(f"{PREFIX}/{widget.id}")
    assert resp.status == 200
    assert resp.headers["ETag"].startswith('"')
    assert await resp.read() == b""
