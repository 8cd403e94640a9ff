"""The agent's report and the end (management, scope `conversations:manage`), on a real
redis-server; the end's room removal against a local stand-in of LiveKit's Twirp API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from management_service.app import create_app as create_management
from runtime_service.app import create_app as create_runtime
from tests.support.seed import seed_agent_version, seed_widget
from tests.support.settings import OrgFactory

PREFIX = "/core/public/web-widgets"
MANAGE = ["conversations:manage"]
# The started fixture: (auth headers, conversation id, room).
Started = tuple[dict[str, str], str, str]


@pytest.fixture
async def runtime(aiohttp_client: Any, settings_factory: Any) -> Any:
    return await aiohttp_client(create_runtime(settings_factory(
        "runtime", lifecycle_sweep_interval=3600
    )))


async def start(runtime: Any, redis: Redis, keys: RedisKeys, org_id: str) -> tuple[str, str]:
    version = await seed_agent_version(redis, keys, org_id)
    widget = await seed_widget(redis, keys, version)
    resp = await runtime.post(f"{PREFIX}/{widget.id}/conversations", json={"user_id": "u1"})
    assert resp.status == 200
    data = await resp.json()
    return data["conversation"]["id"], data["connection_details"]["room"]


def url(cid: str, action: str) -> str:
    return f"/core/conversations/{cid}/{action}"


@pytest.fixture
async def started(
    runtime: Any, org_with_key: OrgFactory, redis: Redis, keys: RedisKeys
) -> Started:
    """A conversation started on the runtime, in an organization with a conversations:manage
    key: ``(auth headers, conversation id, room)``."""
    org, auth = await org_with_key(MANAGE)
    cid, room = await start(runtime, redis, keys, org)
    return auth, cid, room


async def test_report_updates_the_conversation(
    management_client: Any, started: Started, redis: Redis, keys: RedisKeys
) -> None:
    auth, cid, _ = started
    item = {"role": "user", "text": "hello", "at": "2026-12-04T10:00:00Z"}
    resp = await management_client.post(url(cid, "report"), headers=auth, json={
        "user_turn_count": 3, "summary": "Asked about prices", "transcript": [item],
        "ended_reason": "visitor_hangup",
    })
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["user_turn_count"] == 3
    # user_turn_count only grows; the transcript is appended to.
    resp = await management_client.post(url(cid, "report"), headers=auth, json={
        "user_turn_count": 2, "transcript": [{**item, "role": "agent"}],
    })
    assert (await resp.json())["user_turn_count"] == 3
    stored = await redis.hgetall(keys.conversation((await redis.get(
        keys.conversation_owner(cid))).decode(), cid))
    assert [t["role"] for t in json.loads(stored[b"transcript"])] == ["user", "agent"]
    assert stored[b"summary"] == b"Asked about prices"
    assert stored[b"ended_reason"] == b"visitor_hangup"


async def test_report_refuses_a_transcript_past_its_bound(
    management_client: Any, started: Started
) -> None:
    auth, cid, _ = started
    item = {"role": "user", "text": "x" * 4000, "at": "2026-12-04T10:00:00Z"}
    # 2 x 50 x 4 KB: past the stored 256 KiB on the second call.
    for transcript, status in [
        ([item] * 50, 200), ([item] * 50, 413), ([item] * 51, 422), ([{"role": "bot"}], 422),
    ]:
        resp = await management_client.post(
            url(cid, "report"), headers=auth, json={"transcript": transcript}
        )
        assert resp.status == status, (len(transcript), await resp.text())


async def test_scopes_and_organizations(
    management_client: Any, started: Started, org_with_key: OrgFactory
) -> None:
    auth, cid, _ = started
    _, widgets_only = await org_with_key(["web_widgets:manage"])
    _, other_org = await org_with_key(MANAGE)
    for action in ("report", "end"):
        resp = await management_client.post(url(cid, action), headers=widgets_only, json={})
        assert resp.status == 403
        resp = await management_client.post(url(cid, action), headers=other_org, json={})
        assert resp.status == 404
        resp = await management_client.post(url("not-a-uuid", action), headers=auth, json={})
        assert resp.status == 404
        resp = await management_client.post(url(new_id(), action), headers=auth, json={})
        assert resp.status == 404


async def test_end_completes_once_and_reports_after_it(
    management_client: Any, started: Started, redis: Redis, keys: RedisKeys
) -> None:
    auth, cid, _ = started
    resp = await management_client.post(url(cid, "end"), headers=auth)
    assert resp.status == 200
    first = await resp.json()
    assert first == {"conversation_id": cid, "status": "completed", "duration": 0,
                     "summary": None}
    again = await management_client.post(url(cid, "end"), headers=auth)
    assert await again.json() == first
    ended = [f for _, f in await redis.xrange(keys.events_stream())
             if f[b"type"] == b"conversation.ended"]
    assert len(ended) == 1
    # Terminal: 409, except for a summary within the grace period.
    resp = await management_client.post(url(cid, "report"), headers=auth,
                                        json={"user_turn_count": 4})
    assert resp.status == 409
    resp = await management_client.post(url(cid, "report"), headers=auth,
                                        json={"summary": "late summary"})
    assert resp.status == 200
    resp = await management_client.post(url(cid, "end"), headers=auth)
    assert (await resp.json())["summary"] == "late summary"


async def test_a_summary_past_the_grace_period_is_409(
    aiohttp_client: Any, settings_factory: Any, started: Started, redis: Redis, keys: RedisKeys
) -> None:
    management = await aiohttp_client(create_management(settings_factory(
        "management", report_grace=0
    )))
    auth, cid, _ = started
    await management.post(url(cid, "end"), headers=auth)
    widget = (await redis.get(keys.conversation_owner(cid))).decode()
    await redis.hset(keys.conversation(widget, cid), "ended_ms", 1)  # long ago
    resp = await management.post(url(cid, "report"), headers=auth, json={"summary": "late"})
    assert resp.status == 409


class TwirpStandIn:
    """Answers LiveKit's RoomService.DeleteRoom (Twirp, protobuf) as a LiveKit server would."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[tuple[str, str, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((request.path, request.headers.get("Authorization", ""),
                           await request.read()))
        if self.status != 200:
            return web.json_response({"code": "internal", "msg": "boom"}, status=self.status)
        return web.Response(body=b"", content_type="application/protobuf")


@pytest.mark.parametrize("status", [200, 500])
async def test_end_removes_the_room_and_a_failure_there_does_not_undo_it(
    aiohttp_server: Any, aiohttp_client: Any, settings_factory: Any, started: Started,
    status: int,
) -> None:
    from livekit.protocol.room import DeleteRoomRequest

    stand_in = TwirpStandIn(status)
    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/DeleteRoom", stand_in.handle)
    server = await aiohttp_server(app)
    management = await aiohttp_client(create_management(settings_factory(
        "management", livekit_api_url=f"http://127.0.0.1:{server.port}"
    )))
    auth, cid, room = started
    resp = await management.post(url(cid, "end"), headers=auth)
    assert resp.status == 200
    assert (await resp.json())["status"] == "completed"
    assert stand_in.calls, "DeleteRoom was not called"
    _, authorization, body = stand_in.calls[0]
    assert authorization.startswith("Bearer ")
    request = DeleteRoomRequest()
    request.ParseFromString(body)
    assert request.room == room


def test_the_admin_cli_accepts_the_scope() -> None:
    from management_service.admin import _scopes

    assert _scopes("conversations:manage,web_widgets:read") == [
        "conversations:manage", "web_widgets:read",
    ]
