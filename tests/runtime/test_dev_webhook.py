"""``python -m runtime_service.dev_webhook`` (the README walk-through's step 5), run as a real
process against the runtime app on a real port and a real redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from runtime_service.app import create_app
from runtime_service.appkeys import LIFECYCLE
from runtime_service.dev_webhook import build_parser
from tests.support.conversations import stored_doc
from tests.support.paths import ROOT
from tests.support.seed import seed_agent_version, seed_widget
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings

pytestmark = pytest.mark.usefixtures("bundle")
SETTLE = 1.0


@pytest.fixture
async def setup(redis_proc: Any, aiohttp_client: Any) -> Any:
    settings = make_settings(
        "runtime", redis_proc.url, lifecycle_settle=SETTLE, lifecycle_sweep_interval=3600
    )
    redis = Redis.from_url(redis_proc.url)
    keys = RedisKeys(settings.redis_key_prefix)
    widget = await seed_widget(redis, keys, await seed_agent_version(redis, keys, new_id()))
    client = await aiohttp_client(create_app(settings))
    resp = await client.post(
        f"/core/public/web-widgets/{widget.id}/conversations", json={"user_id": "guest_123"}
    )
    assert resp.status == 200, await resp.text()
    started = await resp.json()
    yield client, redis, keys, widget.id, started
    await redis.aclose()


async def dev_webhook(*args: str, key: str = LIVEKIT_KEY) -> tuple[int, list[Any]]:
    env = {**os.environ, "LIVEKIT_API_KEY": key, "LIVEKIT_API_SECRET": LIVEKIT_SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runtime_service.dev_webhook", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, [json.loads(line) for line in (out + err).decode().splitlines()]


async def status(redis: Redis, keys: RedisKeys, widget_id: str, cid: str) -> Any:
    return (await stored_doc(redis, keys, widget_id, cid)).get("status")


async def test_the_command_takes_a_conversation_to_completed(setup: Any) -> None:
    client, redis, keys, widget_id, started = setup
    cid, room = started["conversation"]["id"], started["connection_details"]["room"]
    url = str(client.make_url("/livekit/webhook"))

    code, lines = await dev_webhook("--url", url, "--room", room, "visitor-joined", "agent-joined")
    assert code == 0
    assert [(line["event"], line["status"]) for line in lines] == [
        ("visitor-joined", 200), ("agent-joined", 200),
    ]
    assert await status(redis, keys, widget_id, cid) == "in_progress"

    code, lines = await dev_webhook("--url", url, "--room", room, "room-finished")
    assert (code, lines[0]["status"]) == (0, 200)
    await client.app[LIFECYCLE].sweep(int((time.time() + SETTLE + 1) * 1000))
    assert await status(redis, keys, widget_id, cid) == "completed"


async def test_a_wrong_key_is_refused_and_exits_1(setup: Any) -> None:
    client, redis, keys, widget_id, started = setup
    cid, room = started["conversation"]["id"], started["connection_details"]["room"]
    url = str(client.make_url("/livekit/webhook"))
    code, lines = await dev_webhook("--url", url, "--room", room, "visitor-joined", key="other")
    assert (code, lines[0]["status"]) == (1, 401)
    assert await status(redis, keys, widget_id, cid) == "token_created"


async def test_a_room_that_is_no_conversation_exits_2(setup: Any) -> None:
    code, lines = await dev_webhook("--room", "some-room", "room-finished")
    assert code == 2
    assert "not a conversation's room" in lines[0]["detail"]


def test_the_readme_walk_through_uses_the_command_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    walk = readme.split("### A walk-through with curl", 1)[1].split("\n```\n", 1)[0]
    # The room is the current one: the resume's answer, before the webhooks.
    assert re.search(r"ROOM=\$\(curl [^)]*conversation_id[^)]*jq -r \.connection_details\.room\)",
                     walk.replace("\\\n", " "))
    commands = [
        line for line in walk.replace("\\\n", " ").splitlines()
        if "runtime_service.dev_webhook" in line
    ]
    assert len(commands) == 2
    sent = []
    for command in commands:
        argv = shlex.split(command.split("#", 1)[0])
        assert argv[:3] == [".venv/bin/python", "-m", "runtime_service.dev_webhook"]
        args = build_parser().parse_args(argv[3:])
        assert (args.url, args.room) == ("$R/livekit/webhook", "$ROOM")
        sent += args.events
    assert sent == ["visitor-joined", "agent-joined", "room-finished"]
    # The wait before `completed` outlasts the default LIFECYCLE_SETTLE (15 s).
    assert re.search(r"sleep (\d+)", walk) and int(re.search(r"sleep (\d+)", walk)[1]) > 15
