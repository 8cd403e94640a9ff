"""``Idempotency-Key`` on the management API's creating POSTs, against a real redis-server (and
the 3-master cluster): a retry answers the first response and never creates a second resource."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from common.errors import ApiError
from common.ids import new_id
from common.redis_keys import RedisKeys
from management_service.appkeys import AGENTS, IDEMPOTENCY, WIDGETS

# The cluster fixtures (a 3-master cluster, one key prefix per test).
from tests.support.widget_helpers import expect, issue, make_version

WIDGETS_PATH = "/core/web-widgets"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def widget_ids(client: Any, headers: dict[str, str]) -> list[str]:
    resp = await client.get(WIDGETS_PATH, params={"limit": "100"}, headers=headers)
    return [widget["id"] for widget in await expect(resp, 200)]


@pytest.fixture
async def setup(management_client: Any, org_with_key: Any) -> Any:
    _, headers = await org_with_key()
    agent_id, version_id = await make_version(management_client, headers)
    return management_client, headers, {"agent_id": agent_id, "agent_version_id": version_id}


async def test_same_key_same_body_replays_the_first_answer(setup: Any) -> None:
    client, headers, body = setup
    first = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "k-1"))
    created = await expect(first, 201)
    assert "Idempotent-Replayed" not in first.headers
    again = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "k-1"))
    assert await expect(again, 201) == created
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await widget_ids(client, headers) == [created["id"]]


async def test_same_key_other_body_or_route_is_422(setup: Any) -> None:
    client, headers, body = setup
    await expect(await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "k")), 201)
    other = {**body, "published": True}
    resp = await client.post(WIDGETS_PATH, json=other, headers=keyed(headers, "k"))
    assert issue(await expect(resp, 422))["loc"] == ["header", "Idempotency-Key"]
    resp = await client.post("/core/agents", json={"name": "x"}, headers=keyed(headers, "k"))
    assert issue(await expect(resp, 422))["loc"] == ["header", "Idempotency-Key"]
    assert len(await widget_ids(client, headers)) == 1


@pytest.mark.parametrize("key", ["", "a" * 256, "has space", "é", "a\tb"])
async def test_malformed_keys_are_422(setup: Any, key: str) -> None:
    client, headers, body = setup
    resp = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, key))
    assert issue(await expect(resp, 422))["loc"] == ["header", "Idempotency-Key"]
    assert await widget_ids(client, headers) == []


async def test_keys_are_per_organization(setup: Any, org_with_key: Any) -> None:
    client, headers, body = setup
    _, other_headers = await org_with_key()
    agent_id, version_id = await make_version(client, other_headers)
    other_body = {"agent_id": agent_id, "agent_version_id": version_id}
    mine = await expect(
        await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "shared")), 201
    )
    theirs = await expect(
        await client.post(WIDGETS_PATH, json=other_body, headers=keyed(other_headers, "shared")),
        201,
    )
    assert mine["id"] != theirs["id"]
    assert await widget_ids(client, headers) == [mine["id"]]
    assert await widget_ids(client, other_headers) == [theirs["id"]]


async def test_concurrent_requests_with_one_key_create_one(setup: Any) -> None:
    client, headers, body = setup
    responses = await asyncio.gather(*(
        client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "burst")) for _ in range(10)
    ))
    statuses = sorted(resp.status for resp in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    created = {(await resp.json())["id"] for resp in responses if resp.status == 201}
    assert len(created) == 1
    for resp in responses:
        if resp.status == 409:
            assert resp.headers["Retry-After"] == "1"
    assert await widget_ids(client, headers) == list(created)


async def test_a_repeat_while_the_first_runs_is_409_not_a_second_write(setup: Any) -> None:
    client, headers, body = setup
    store = client.server.app[WIDGETS]
    create, entered, go_on = store.create, asyncio.Event(), asyncio.Event()

    async def slow_create(*args: Any) -> Any:
        entered.set()
        await go_on.wait()
        return await create(*args)

    store.create = slow_create
    first = asyncio.ensure_future(
        client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "slow"))
    )
    await entered.wait()
    second = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "slow"))
    detail = (await expect(second, 409))["detail"]
    assert "still in progress" in detail and second.headers["Retry-After"] == "1"
    go_on.set()
    created = await expect(await first, 201)
    assert await widget_ids(client, headers) == [created["id"]]


async def test_an_attempt_that_died_holds_the_key_only_for_its_lease(setup: Any) -> None:
    client, _, _ = setup
    idempotency = client.server.app[IDEMPOTENCY]
    idempotency.lease_ms = 200
    org_id, fingerprint = new_id(), "f" * 64
    # A reservation whose process died before finishing or releasing it.
    planned = await idempotency.reserve(org_id, "k", fingerprint, "dead-attempt")
    with pytest.raises(ApiError) as busy:
        await idempotency.reserve(org_id, "k", fingerprint, "retry")
    assert busy.value.status == 409
    await asyncio.sleep(0.3)
    # Past the lease the retry takes over, with the same planned identity.
    assert await idempotency.reserve(org_id, "k", fingerprint, "retry") == planned


async def test_the_answer_is_kept_24_hours_then_the_key_is_free(
    setup: Any, redis: Any, keys: RedisKeys
) -> None:
    client, headers, body = setup
    org_id = (await expect(await client.post(
        WIDGETS_PATH, json=body, headers=keyed(headers, "day")), 201))["organization_id"]
    ttl = await redis.pttl(keys.idempotency(org_id, "day"))
    assert 24 * 3600 * 1000 - 60_000 < ttl <= 24 * 3600 * 1000
    # Time, controlled: the store's TTL shortened, then past it the same key creates anew.
    client.server.app[IDEMPOTENCY].ttl_ms = 200
    again = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "short"))
    first_id = (await expect(again, 201))["id"]
    await asyncio.sleep(0.4)
    later = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "short"))
    assert "Idempotent-Replayed" not in later.headers
    assert (await expect(later, 201))["id"] != first_id


async def test_a_503_after_the_write_then_a_retry_creates_exactly_one(setup: Any) -> None:
    client, headers, body = setup
    store = client.server.app[WIDGETS]
    write = store._write
    failures = [RedisConnectionError("connection reset after the write was applied")]

    async def applied_then_lost(*args: Any) -> bool:
        written = await write(*args)
        if failures:
            raise failures.pop()
        return written

    store._write = applied_then_lost
    resp = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "retry"))
    await expect(resp, 503)
    assert len(await widget_ids(client, headers)) == 1  # the write did happen
    retry = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "retry"))
    created = await expect(retry, 201)
    assert await widget_ids(client, headers) == [created["id"]]
    replay = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "retry"))
    assert await expect(replay, 201) == created


async def test_a_client_error_is_not_remembered(setup: Any) -> None:
    client, headers, body = setup
    bad = {**body, "domains": ["not a domain"]}
    await expect(await client.post(WIDGETS_PATH, json=bad, headers=keyed(headers, "fix")), 422)
    # The key was released: the corrected request may use it.
    await expect(await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "fix")), 201)


async def test_agents_and_versions_honour_the_key(setup: Any) -> None:
    client, headers, _ = setup
    first = await client.post("/core/agents", json={"name": "A"}, headers=keyed(headers, "a"))
    agent = await expect(first, 201)
    again = await client.post("/core/agents", json={"name": "A"}, headers=keyed(headers, "a"))
    assert await expect(again, 201) == agent and again.headers["Idempotent-Replayed"] == "true"
    path = f"/core/agents/{agent['id']}/versions"
    config = {"config": {"livekit_agent_name": "a"}}
    version = await expect(await client.post(path, json=config, headers=keyed(headers, "v")), 201)
    replay = await client.post(path, json=config, headers=keyed(headers, "v"))
    assert await expect(replay, 201) == version
    latest = await client.get(f"{path}/latest", headers=headers)
    assert (await expect(latest, 200))["version"] == 1  # one version, not two


async def test_a_version_retried_after_a_503_is_numbered_once(setup: Any) -> None:
    client, headers, _ = setup
    resp = await client.post("/core/agents", json={"name": "A"}, headers=headers)
    agent = await expect(resp, 201)
    store = client.server.app[AGENTS]
    create = store._create_version
    failures = [RedisConnectionError("reset")]

    async def applied_then_lost(**kwargs: Any) -> Any:
        raw = await create(**kwargs)
        if failures:
            raise failures.pop()
        return raw

    store._create_version = applied_then_lost
    path = f"/core/agents/{agent['id']}/versions"
    config = {"config": {"livekit_agent_name": "a"}}
    await expect(await client.post(path, json=config, headers=keyed(headers, "v")), 503)
    version = await expect(await client.post(path, json=config, headers=keyed(headers, "v")), 201)
    assert version["version"] == 1
    latest = await client.get(f"{path}/latest", headers=headers)
    assert (await expect(latest, 200))["id"] == version["id"]


async def test_on_a_cluster_concurrent_retries_create_one(stack: Any) -> None:
    client, _, headers = stack
    agent_id, version_id = await make_version(client, headers)
    body = {"agent_id": agent_id, "agent_version_id": version_id}
    responses = await asyncio.gather(*(
        client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "c")) for _ in range(5)
    ))
    created = {(await resp.json())["id"] for resp in responses if resp.status == 201}
    assert len(created) == 1, [resp.status for resp in responses]
    replay = await client.post(WIDGETS_PATH, json=body, headers=keyed(headers, "c"))
    assert (await expect(replay, 201))["id"] in created
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await widget_ids(client, headers) == list(created)


def test_every_creating_post_documents_the_key() -> None:
    from management_service.openapi import DOCUMENT

    key = {"$ref": "#/components/parameters/IdempotencyKey"}
    creating = {
        path for path, item in DOCUMENT["paths"].items()
        if "201" in item.get("post", {}).get("responses", {})
    }
    assert creating == {"/core/web-widgets", "/core/agents", "/core/agents/{id}/versions",
                        "/core/webhooks"}
    for path in creating:
        operation = DOCUMENT["paths"][path]["post"]
        assert key in operation["parameters"], path
        assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"], path
        assert {"409", "422"} <= set(operation["responses"]), path
