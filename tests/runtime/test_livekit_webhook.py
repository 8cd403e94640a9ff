"""POST /livekit/webhook on the runtime, with webhooks signed exactly as LiveKit signs them, on a
real redis-server and on the 3-master cluster."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.json_format import MessageToJson
from livekit.api import AccessToken
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from common.appkeys import REDIS_BATCH
from common.ids import new_id
from common.redis_keys import RedisKeys
from runtime_service.app import create_app
from runtime_service.appkeys import LIFECYCLE
from tests.support.conversations import stored_doc
from tests.support.seed import seed_agent_version, seed_widget
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings

PREFIX = "/core/public/web-widgets"
SETTLE = 1.0


def event_body(kind: str, room: str, at: int, identity: str = "", agent: bool = False,
               sid: str = "PA_1", event_id: str = "") -> bytes:
    event = WebhookEvent(
        event=kind, id=event_id or f"EV_{new_id()}", created_at=at, room=Room(name=room),
    )
    if identity:
        kind_ = ParticipantInfo.Kind.AGENT if agent else ParticipantInfo.Kind.STANDARD
        event.participant.CopyFrom(
            ParticipantInfo(identity=identity, sid=sid, kind=kind_, joined_at=at)
        )
    return MessageToJson(event).encode()


def sign(body: bytes, key: str = LIVEKIT_KEY, secret: str = LIVEKIT_SECRET,
         ttl: timedelta | None = None) -> str:
    token = AccessToken(key, secret).with_sha256(
        base64.b64encode(hashlib.sha256(body).digest()).decode()
    )
    if ttl is not None:
        token = token.with_ttl(ttl)
    return token.to_jwt()


async def post(client: Any, body: bytes, auth: str | None = "sign", bearer: bool = False) -> Any:
    headers = {"Content-Type": "application/webhook+json"}
    if auth == "sign":
        auth = sign(body)
    if auth is not None:
        headers["Authorization"] = ("Bearer " if bearer else "") + auth
    return await client.post("/livekit/webhook", data=body, headers=headers)


@pytest.fixture(params=["standalone", "cluster"])
async def setup(request: pytest.FixtureRequest, aiohttp_client: Any) -> Any:
    overrides = {"lifecycle_settle": SETTLE, "lifecycle_sweep_interval": 3600}
    if request.param == "standalone":
        url = request.getfixturevalue("redis_proc").url
        settings = make_settings("runtime", url, **overrides)
        redis: Any = Redis.from_url(url)
    else:
        prefix = "t" + new_id()[:8]
        url = request.getfixturevalue("redis_cluster").url
        settings = make_settings(
            "runtime", url, redis_mode="cluster", redis_key_prefix=prefix, **overrides
        )
        redis = RedisCluster.from_url(url)
    keys = RedisKeys(settings.redis_key_prefix)
    version = await seed_agent_version(redis, keys, new_id())
    widget = await seed_widget(redis, keys, version)
    client = await aiohttp_client(create_app(settings))
    yield client, redis, keys, widget
    await redis.aclose()


async def start(client: Any, widget_id: str) -> tuple[str, str]:
    resp = await client.post(f"{PREFIX}/{widget_id}/conversations", json={"user_id": "u1"})
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    return data["conversation"]["id"], data["connection_details"]["room"]


async def doc(redis: Any, keys: RedisKeys, widget_id: str, cid: str) -> dict[str, Any]:
    return await stored_doc(redis, keys, widget_id, cid)


async def events(redis: Any, keys: RedisKeys) -> list[str]:
    return [f[b"type"].decode() for _, f in await redis.xrange(keys.events_stream())]


async def test_a_call_goes_from_token_to_completed(setup: Any) -> None:
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    now = int(time.time())
    visitor = f"visitor-{cid}"
    for body in [
        event_body("room_started", room, now),
        event_body("participant_joined", room, now, visitor, sid="PA_v"),
        event_body("participant_joined", room, now + 1, "agent-1", agent=True, sid="PA_a"),
    ]:
        resp = await post(client, body)
        assert resp.status == 200, await resp.text()
    assert (await doc(redis, keys, widget.id, cid))["status"] == "in_progress"
    await post(client, event_body("participant_left", room, now + 42, visitor, sid="PA_v"))
    await post(client, event_body("room_finished", room, now + 43))
    await client.app[LIFECYCLE].sweep((now + 43) * 1000 + int(SETTLE * 1000))
    final = await doc(redis, keys, widget.id, cid)
    assert (final["status"], final["duration"]) == ("completed", 42)
    assert await events(redis, keys) == [
        "conversation.started", "conversation.in_progress", "conversation.ended",
    ]


async def test_a_webhook_is_five_batched_commands_in_four_round_trips(setup: Any) -> None:
    # The owner locator; the due index with the script (one pipeline); the event's XADD; its
    # outbox HDEL, which the answer does not wait for. All through the command batch.
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    batch = client.app[REDIS_BATCH]
    await batch.drain()
    pipelines, commands = batch.pipelines, batch.commands
    body = event_body("participant_joined", room, int(time.time()), f"visitor-{cid}", sid="PA_v")
    resp = await post(client, body)
    assert resp.status == 200, await resp.text()
    await batch.drain()
    assert (batch.pipelines - pipelines, batch.commands - commands) == (4, 5)
    assert await events(redis, keys) == ["conversation.started", "conversation.in_progress"]
    stored = await redis.hkeys(keys.conversation(widget.id, cid))
    assert not [name for name in stored if name.startswith(b"outbox:")]


async def test_bearer_prefix_is_accepted(setup: Any) -> None:
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    body = event_body("participant_joined", room, int(time.time()), f"visitor-{cid}")
    resp = await post(client, body, bearer=True)
    assert resp.status == 200
    assert (await doc(redis, keys, widget.id, cid))["status"] == "in_progress"


@pytest.mark.parametrize("case", ["none", "garbage", "wrong_key", "body_changed", "expired"])
async def test_bad_signatures_are_401_and_write_nothing(setup: Any, case: str) -> None:
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    body = event_body("participant_joined", room, int(time.time()), f"visitor-{cid}")
    auth: str | None = {
        "none": None,
        "garbage": "not-a-jwt",
        "wrong_key": sign(body, secret="another-secret-0123456789abcdef0123456789"),
        "body_changed": sign(body + b" "),
        "expired": sign(body, ttl=timedelta(seconds=-300)),
    }[case]
    before = await state(redis, keys, widget.id, cid)
    resp = await post(client, body, auth=auth)
    assert resp.status == 401
    assert "detail" in await resp.json()
    assert await state(redis, keys, widget.id, cid) == before


async def state(redis: Any, keys: RedisKeys, widget_id: str, cid: str) -> dict[bytes, bytes]:
    # The start's outbox field is deleted without waiting: not part of what a webhook writes.
    stored = await redis.hgetall(keys.conversation(widget_id, cid))
    return {k: v for k, v in stored.items() if not k.startswith(b"outbox:")}


async def test_a_signed_body_that_is_not_an_event_is_400(setup: Any) -> None:
    client, *_ = setup
    body = b'{"event": 5, "room": []}'
    resp = await post(client, body)
    assert resp.status == 400


async def test_a_corrupt_compressed_body_is_415(setup: Any) -> None:
    # The body is read as every JSON body is (common.bodies.read_body), not by hand: a gzip
    # body that does not inflate is the sender's mistake, not a 500.
    client, *_ = setup
    headers = {
        "Content-Type": "application/webhook+json", "Content-Encoding": "gzip",
        "Authorization": sign(b"{}"),
    }
    body = b"\x1f\x8b\x08\x00garbage-not-deflate" * 4
    resp = await client.post("/livekit/webhook", data=body, headers=headers)
    assert resp.status == 415, await resp.text()


async def test_a_large_body_is_413(setup: Any) -> None:
    client, *_ = setup
    body = b'{"event": "room_started", "pad": "' + b"x" * 70_000 + b'"}'
    resp = await post(client, body)
    assert resp.status == 413


async def test_unused_events_and_foreign_rooms_are_200(setup: Any) -> None:
    client, redis, keys, _widget = setup
    now = int(time.time())
    for body in [
        event_body("track_published", f"ww-{new_id()}-0000000a", now),
        event_body("participant_joined", "someone-elses-room", now, "x"),
        event_body("participant_joined", f"ww-{new_id()}-0000000a", now, "x"),  # unknown
    ]:
        resp = await post(client, body)
        assert resp.status == 200
    assert await events(redis, keys) == []


async def test_the_same_event_fifty_times_concurrently_is_one_change(setup: Any) -> None:
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    body = event_body("participant_joined", room, int(time.time()), f"visitor-{cid}")
    responses = await asyncio.gather(*[post(client, body) for _ in range(50)])
    assert {r.status for r in responses} == {200}
    assert await events(redis, keys) == ["conversation.started", "conversation.in_progress"]


async def test_resume_mid_call_then_the_old_room_finishing_leaves_it_active(setup: Any) -> None:
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    now = int(time.time())
    await post(client, event_body("participant_joined", room, now, f"visitor-{cid}"))
    await post(client, event_body("participant_joined", room, now, "agent", agent=True, sid="A"))
    resp = await client.post(
        f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u1", "conversation_id": cid}
    )
    assert resp.status == 200
    new_room = (await resp.json())["connection_details"]["room"]
    assert new_room != room
    assert await redis.hget(keys.conversation(widget.id, cid), "room") == new_room.encode()
    await post(client, event_body("room_finished", room, now + 5))
    await client.app[LIFECYCLE].sweep((now + 60) * 1000)
    assert (await doc(redis, keys, widget.id, cid))["status"] == "in_progress"


async def test_resuming_a_terminal_conversation_is_409(setup: Any) -> None:
    client, redis, keys, widget = setup
    cid, room = await start(client, widget.id)
    now = int(time.time())
    await post(client, event_body("room_finished", room, now))
    await client.app[LIFECYCLE].sweep((now + 60) * 1000)
    assert (await doc(redis, keys, widget.id, cid))["status"] == "failed"
    resp = await client.post(
        f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u1", "conversation_id": cid}
    )
    assert resp.status == 409


async def test_the_webhook_route_has_no_cors_and_takes_a_jwt(setup: Any) -> None:
    client, *_ = setup
    body = event_body("room_started", "x", int(time.time()))
    resp = await client.post(
        "/livekit/webhook", data=body,
        headers={"Authorization": sign(body), "Origin": "https://evil.example"},
    )
    assert resp.status == 200
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert resp.headers["X-Request-ID"]
