"""Starting and resuming conversations through the public runtime API, on a real redis-server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.conversation import TERMINAL_STATUSES
from common.redis_keys import RedisKeys
from management_service.agents_store import AgentStore
from tests.support.conversations import PREFIX, VERIFIER, start, started_id
from tests.support.seed import seed_agent_version, seed_widget


@pytest.fixture
async def version(redis: Redis, keys: RedisKeys) -> Any:
    return await seed_agent_version(
        redis, keys, new_id(), agent_name="support-agent",
        vision={"enabled": True, "video_input": True, "screen_share": False},
    )


async def test_start_returns_conversation_credentials_and_capabilities(
    runtime_client: Any, widget: Any, version: Any
) -> None:
    resp = await start(runtime_client, widget.id, user_id="guest_1", custom_metadata={"a": 1})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    conversation = body["conversation"]
    assert conversation["status"] == "token_created"
    assert conversation["channel"] == "webrtc"
    assert conversation["direction"] == "inbound"
    assert conversation["user_id"] == "guest_1"
    assert conversation["web_widget_id"] == widget.id
    assert conversation["organization_id"] == widget.organization_id
    assert conversation["agent_id"] == version.agent_id
    assert conversation["agent_version_id"] == version.id
    assert "custom_metadata" not in conversation
    assert conversation["created_at"].endswith("Z")
    assert body["capabilities"] == {"supportsVideoInput": True, "supportsScreenShare": False}
    details = body["connection_details"]
    assert details["url"] == "wss://livekit.test"
    assert details["room"].startswith(f"ww-{conversation['id']}-")


async def test_token_joins_only_its_room_and_dispatches_the_versions_agent(
    runtime_client: Any, widget: Any, version: Any
) -> None:
    body = await (await start(runtime_client, widget.id, user_id="guest_1")).json()
    details, conversation = body["connection_details"], body["conversation"]
    claims = VERIFIER.verify(details["token"])
    assert claims.identity == f"visitor-{conversation['id']}"
    assert claims.video.room_join is True
    assert claims.video.room == details["room"]
    assert not (claims.video.room_create or claims.video.room_admin or claims.video.room_list)
    (dispatch,) = claims.room_config.agents
    assert dispatch.agent_name == "support-agent"
    assert json.loads(dispatch.metadata) == {
        "conversation_id": conversation["id"],
        "web_widget_id": widget.id,
        "organization_id": widget.organization_id,
        "agent_id": version.agent_id,
        "agent_version_id": version.id,
        "user_id": "guest_1",
    }


async def test_conversation_is_stored_in_the_widgets_slot_with_its_metadata(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    resp = await start(runtime_client, widget.id, user_id="u1", custom_metadata={"plan": "pro"})
    cid = (await resp.json())["conversation"]["id"]
    stored = await redis.hgetall(keys.conversation(widget.id, cid))
    assert json.loads(stored[b"meta"]) == {"plan": "pro"}
    assert (stored[b"u"], stored[b"s"], stored[b"o"]) == (
        b"u1", b"token_created", widget.organization_id.encode()
    )
    assert 0 < await redis.ttl(keys.conversation(widget.id, cid)) <= 30 * 24 * 3600
    assert (await redis.get(keys.conversation_owner(cid))).decode() == widget.id
    (member,) = await redis.zrange(keys.conversations_by_status(widget.id, "token_created"), 0, -1)
    assert member.decode().endswith(":" + cid)
    assert await redis.zcard(keys.user_conversations(widget.id, "u1")) == 1


async def test_a_started_conversation_is_a_compact_hash_without_what_its_key_says(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    """Every field and value within Redis's default hash-max-listpack-value (64), so a started
    conversation is a listpack (a third of a hash table's memory: docs/performance.md)."""
    assert await redis.config_get("hash-max-listpack-value") == {"hash-max-listpack-value": "64"}
    resp = await start(runtime_client, widget.id, user_id="guest_" + "x" * 40)
    cid = (await resp.json())["conversation"]["id"]
    key = keys.conversation(widget.id, cid)
    assert await redis.object("encoding", key) == b"listpack"
    stored = await redis.hgetall(key)
    assert not {cid.encode(), widget.id.encode()} & set(stored.values())
    assert b"meta" not in stored  # empty custom_metadata is not stored
    # What the API answers is unchanged: read back through the public list.
    listed = await runtime_client.get(
        f"{PREFIX}/{widget.id}/conversations", params={"user_id": "guest_" + "x" * 40}
    )
    assert await listed.json() == [(await resp.json())["conversation"]]


async def test_a_new_conversation_is_in_its_organizations_and_status_indexes(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    cid = await started_id(runtime_client, widget.id)
    member = (await redis.hget(keys.conversation(widget.id, cid), "ix")).decode()
    assert member.endswith(":" + cid) and member[:13].isdigit()
    org = widget.organization_id
    # The organization's members name the widget, so a page needs no locator lookups.
    in_org = [f"{member}:{widget.id}".encode()]
    assert await redis.zrange(keys.org_conversations(org), 0, -1) == in_org
    fresh = keys.conversations_by_status(widget.id, "token_created")
    assert await redis.zrange(fresh, 0, -1) == [member.encode()]
    for index in (keys.org_conversations(org), fresh):
        assert 0 < await redis.ttl(index) <= 30 * 24 * 3600


async def test_resume_gives_a_fresh_room_for_the_same_conversation(
    runtime_client: Any, widget: Any
) -> None:
    first = await (await start(runtime_client, widget.id, user_id="u1")).json()
    cid = first["conversation"]["id"]
    resp = await start(runtime_client, widget.id, user_id="u1", conversation_id=cid)
    assert resp.status == 200
    second = await resp.json()
    assert second["conversation"] == first["conversation"]
    assert second["connection_details"]["room"] != first["connection_details"]["room"]
    claims = VERIFIER.verify(second["connection_details"]["token"])
    assert claims.video.room == second["connection_details"]["room"]


async def test_resume_refusals(
    runtime_client: Any, widget: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    other = await seed_widget(redis, keys, version)
    cid = await started_id(runtime_client, other.id)
    # Another widget's conversation: 403; unknown: 404; another visitor: 403.
    resp = await start(runtime_client, widget.id, user_id="u1", conversation_id=cid)
    assert resp.status == 403
    resp = await start(runtime_client, widget.id, user_id="u1", conversation_id=new_id())
    assert resp.status == 404
    resp = await start(runtime_client, other.id, user_id="u2", conversation_id=cid)
    assert resp.status == 403


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
async def test_resume_of_an_ended_conversation_is_409(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys, status: str
) -> None:
    cid = await started_id(runtime_client, widget.id)
    key = keys.conversation(widget.id, cid)
    await redis.hset(key, "s", status)
    resp = await start(runtime_client, widget.id, user_id="u1", conversation_id=cid)
    assert resp.status == 409
    assert status in (await resp.json())["detail"]


async def test_unknown_widget_is_404_and_unpublished_widget_is_409(
    runtime_client: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    assert (await start(runtime_client, new_id(), user_id="u1")).status == 404
    assert (await start(runtime_client, "not-a-uuid", user_id="u1")).status == 404
    hidden = await seed_widget(redis, keys, version, published=False)
    resp = await start(runtime_client, hidden.id, user_id="u1")
    assert resp.status == 409
    assert await redis.zcard(keys.conversations_by_status(hidden.id, "token_created")) == 0


async def test_unpublished_agent_version_is_409(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    draft = await seed_agent_version(redis, keys, new_id(), published=False)
    widget = await seed_widget(redis, keys, draft)
    resp = await start(runtime_client, widget.id, user_id="u1")
    assert resp.status == 409
    assert "agent version" in (await resp.json())["detail"]


async def test_publishing_the_agent_version_takes_effect_at_once(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    # The pod keeps published versions only: a draft is read again on every start.
    draft = await seed_agent_version(redis, keys, new_id(), published=False)
    widget = await seed_widget(redis, keys, draft)
    assert (await start(runtime_client, widget.id, user_id="u1")).status == 409
    await AgentStore(redis, keys).publish_version(
        draft.organization_id, draft.agent_id, str(draft.version)
    )
    for _ in range(2):  # read from Redis, then from the pod's own copy
        assert (await start(runtime_client, widget.id, user_id="u1")).status == 200


async def test_version_without_agent_name_starts_without_dispatch(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    version = await seed_agent_version(redis, keys, new_id(), agent_name=None)
    widget = await seed_widget(redis, keys, version)
    body = await (await start(runtime_client, widget.id, user_id="u1")).json()
    claims = VERIFIER.verify(body["connection_details"]["token"])
    assert claims.room_config is None  # LiveKit dispatches unnamed agents on its own
    assert body["capabilities"] == {"supportsVideoInput": False, "supportsScreenShare": False}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "user_id"]),
        ({"user_id": ""}, ["body", "user_id"]),
        ({"user_id": "a b"}, ["body", "user_id"]),
        ({"user_id": "x" * 129}, ["body", "user_id"]),
        ({"user_id": "u", "custom_metadata": []}, ["body", "custom_metadata"]),
        ({"user_id": "u", "custom_metadata": {"feedback_form": {}}},
         ["body", "custom_metadata", "feedback_form"]),
        ({"user_id": "u", "custom_metadata": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}},
         ["body", "custom_metadata"]),
        ({"user_id": "u", "custom_metadata": {"blob": "x" * 9000}}, ["body", "custom_metadata"]),
        ({"user_id": "u", "conversation_id": "nope"}, ["body", "conversation_id"]),
        ({"user_id": "u", "channel": "telephone"}, ["body", "channel"]),
    ],
)
async def test_invalid_bodies_are_422_and_store_nothing(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys, body: Any, loc: list[Any]
) -> None:
    resp = await start(runtime_client, widget.id, **body)
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == loc
    assert await redis.zcard(keys.conversations_by_status(widget.id, "token_created")) == 0


async def test_metadata_at_the_caps_is_accepted(runtime_client: Any, widget: Any) -> None:
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    resp = await start(runtime_client, widget.id, user_id="u", custom_metadata=deep)
    assert resp.status == 200
    blob = {"blob": "x" * (8 * 1024 - len('{"blob":""}'))}
    resp = await start(runtime_client, widget.id, user_id="u", custom_metadata=blob)
    assert resp.status == 200


async def test_non_json_body_is_415(runtime_client: Any, widget: Any) -> None:
    resp = await runtime_client.post(
        f"{PREFIX}/{widget.id}/conversations",
        data="user_id=u",
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 415


@pytest.mark.parametrize("depth", [600, 5000])
async def test_metadata_nested_hundreds_of_levels_is_422_not_500(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys, depth: int
) -> None:
    # 600 levels decode but would overflow a recursive depth check; 5000 overflow the decoder.
    nested = b"[" * depth + b"]" * depth
    body = b'{"user_id": "u", "custom_metadata": {"a": ' + nested + b"}}"
    resp = await runtime_client.post(
        f"{PREFIX}/{widget.id}/conversations", data=body,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == (["body", "custom_metadata"] if depth == 600 else ["body"])
    assert await redis.zcard(keys.conversations_by_status(widget.id, "token_created")) == 0


async def test_resume_continues_on_the_version_the_conversation_started_with(
    runtime_client: Any, widget: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    cid = await started_id(runtime_client, widget.id)
    newer = await seed_agent_version(redis, keys, widget.organization_id, agent_name="next-agent")
    await seed_widget(redis, keys, newer, widget_id=widget.id)
    for _ in range(200):  # until the invalidation event has reached the runtime's cache
        body = await (await runtime_client.get(f"{PREFIX}/{widget.id}")).json()
        if body["agent_version_id"] == newer.id:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the widget update was not served")
    fresh = await (await start(runtime_client, widget.id, user_id="u1")).json()
    assert fresh["conversation"]["agent_version_id"] == newer.id
    (dispatch,) = VERIFIER.verify(fresh["connection_details"]["token"]).room_config.agents
    assert dispatch.agent_name == "next-agent"

    resumed = await (await start(
        runtime_client, widget.id, user_id="u1", conversation_id=cid
    )).json()
    assert resumed["conversation"]["agent_version_id"] == version.id
    assert resumed["capabilities"] == {"supportsVideoInput": True, "supportsScreenShare": False}
    (dispatch,) = VERIFIER.verify(resumed["connection_details"]["token"]).room_config.agents
    assert dispatch.agent_name == "support-agent"
    assert json.loads(dispatch.metadata)["agent_version_id"] == version.id
