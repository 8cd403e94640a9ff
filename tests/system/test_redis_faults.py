"""Redis faults against a real redis-server that each test stops, freezes (SIGSTOP), kills
(SIGKILL) and restarts on the same port and data directory, under running apps that are never
restarted.

What must hold (docs/operations.md, "Redis faults"): runtime pods keep serving the widgets they
had cached; whatever needs Redis answers 503 JSON with Retry-After within the Redis timeout, never
a 500 or a hang; the apps recover on their own and the runtime's cache is cleared once its
subscription is back; management never reports success for a write that did not commit, and a
committed write always reaches the runtime; feedback acknowledged with 200 survives a crash of a
server with ``appendfsync always``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from common.settings import Settings
from management_service.app import create_app as create_management
from management_service.appkeys import WIDGETS
from runtime_service.app import create_app as create_runtime
from runtime_service.appkeys import LISTENER
from tests.support.polling import eventually
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget
from tests.support.settings import DURABLE

PREFIX = "/core/public/web-widgets"
MANAGE = "/core/web-widgets"
# Short, so the outage phases are quick; every request that needs Redis must answer within
# three times this (one Redis call timing out, plus the request's own work on a machine that
# runs other tests and the pod's lifecycle sweep: 2x was missed by 0.08 s under load). A request
# that hangs, or waits out REDIS_TIMEOUT more than twice, still fails.
TIMEOUT = 0.3
BOUND = 3 * TIMEOUT
# How long a service may take for /readyz to follow Redis going away or coming back.
READY_WITHIN = 5.0


# Durable, so a restart on the same data directory keeps the data.
REDIS_ARGS = DURABLE


@pytest.fixture
async def runtime(aiohttp_client: Any, settings_factory: Callable[..., Settings]) -> Any:
    return await aiohttp_client(create_runtime(settings_factory("runtime", redis_timeout=TIMEOUT)))


@pytest.fixture
async def management(aiohttp_client: Any, settings_factory: Callable[..., Settings]) -> Any:
    settings = settings_factory("management", redis_timeout=TIMEOUT)
    return await aiohttp_client(create_management(settings))


@pytest.fixture
async def org(org_with_key: Any) -> tuple[str, dict[str, str]]:
    return await org_with_key()


@pytest.fixture
async def version(redis: Redis, keys: RedisKeys, org: Any) -> Any:
    return await seed_agent_version(redis, keys, org[0])


# --- helpers --------------------------------------------------------------------------------


async def timed(request: Awaitable[Any]) -> tuple[Any, bytes, float]:
    """The response, its whole body, and how long both took."""
    start = time.monotonic()
    resp = await request
    body = await resp.read()
    return resp, body, time.monotonic() - start


async def unavailable(request: Awaitable[Any], what: str) -> None:
    """``request`` answers 503 JSON with Retry-After, within the bound."""
    resp, body, elapsed = await timed(request)
    assert resp.status == 503, (what, resp.status, body)
    assert resp.content_type == "application/json", what
    assert set(json.loads(body)) == {"detail"}, what
    assert resp.headers["Retry-After"] == "1", what
    assert elapsed < BOUND, (what, elapsed)


def status_is(client: Any, path: str, status: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await client.get(path)).status == status

    return check


async def theme_of(client: Any, widget_id: str) -> str | int:
    resp = await client.get(f"{PREFIX}/{widget_id}")
    if resp.status != 200:
        return resp.status
    return (await resp.json())["config"]["v1"]["theme"]


def theme_is(client: Any, widget_id: str, theme: str | int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await theme_of(client, widget_id) == theme

    return check


def config(theme: str) -> dict[str, Any]:
    return {"v1": {"theme": theme}}


def start_conversation(client: Any, widget_id: str, **body: Any) -> Any:
    return client.post(f"{PREFIX}/{widget_id}/conversations", json={"user_id": "u1", **body})


def kill9(proc: RedisProcess) -> None:
    """A crash: SIGKILL, no shutdown (no final fsync, no save)."""
    assert proc.proc is not None
    proc.proc.kill()
    proc.proc.wait()
    proc.proc = None


async def reconnect(redis: Redis) -> None:
    """The test's own client: drop connections to the server that went away."""
    await redis.connection_pool.disconnect()


async def outage_answers(
    runtime: Any, management: Any, auth: dict[str, str], cached: Any, uncached: Any, cid: str
) -> None:
    """Everything that needs Redis answers 503 in time, all at once (a stalled server must not
    make concurrent requests queue behind each other)."""
    feedback = f"{PREFIX}/{cached.id}/conversations/{cid}/feedback"
    create = {"agent_id": cached.agent_id, "agent_version_id": cached.agent_version_id}
    update = {"config": config("dark")}
    await asyncio.gather(
        unavailable(runtime.get(f"{PREFIX}/{uncached.id}"), "uncached widget"),
        unavailable(start_conversation(runtime, cached.id), "start"),
        unavailable(start_conversation(runtime, cached.id, conversation_id=cid), "resume"),
        unavailable(runtime.get(f"{PREFIX}/{cached.id}/conversations?user_id=u1"), "list"),
        unavailable(runtime.post(feedback, json={"data": {"rating": 5}}), "feedback"),
        unavailable(runtime.get("/readyz"), "runtime readyz"),
        unavailable(management.get("/readyz"), "management readyz"),
        unavailable(management.post(MANAGE, json=create, headers=auth), "create"),
        unavailable(management.put(f"{MANAGE}/{cached.id}", json=update, headers=auth), "update"),
        unavailable(management.delete(f"{MANAGE}/{cached.id}", headers=auth), "delete"),
        unavailable(management.get(MANAGE, headers=auth), "list widgets"),
    )


async def cached_copy(runtime: Any, widget_id: str) -> tuple[bytes, str]:
    resp, body, _ = await timed(runtime.get(f"{PREFIX}/{widget_id}"))
    assert resp.status == 200
    return body, resp.headers["ETag"]


# --- 1 and 2: Redis down, Redis frozen ------------------------------------------------------


@pytest.mark.parametrize("fault", ["stopped", "paused"])
async def test_outage_serves_cached_widgets_and_answers_503_in_time(
    fault: str,
    runtime: Any,
    management: Any,
    org: Any,
    redis: Redis,
    keys: RedisKeys,
    version: Any,
    redis_proc: RedisProcess,
) -> None:
    cached = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    uncached = await seed_widget(redis, keys, version, config=config("light"))
    body, etag = await cached_copy(runtime, cached.id)
    started = await (await start_conversation(runtime, cached.id)).json()
    cid = started["conversation"]["id"]
    stored = await redis.get(keys.widget(cached.id))

    if fault == "stopped":
        redis_proc.stop()  # connections refused
    else:
        redis_proc.pause()  # connections accepted by the kernel, nothing ever answered
    try:
        for _ in range(2):  # and a second time: nothing got stuck after the first round
            resp, served, elapsed = await timed(runtime.get(f"{PREFIX}/{cached.id}"))
            assert (resp.status, served, resp.headers["ETag"]) == (200, body, etag)
            assert elapsed < BOUND
            await outage_answers(runtime, management, org[1], cached, uncached, cid)
        assert (await runtime.get("/healthz")).status == 200  # the process itself is fine
    finally:
        if fault == "stopped":
            redis_proc.start()
        else:
            redis_proc.resume()

    # Back without restarting either app; nothing was written while Redis could not answer.
    await reconnect(redis)
    for client in (runtime, management):
        await eventually(status_is(client, "/readyz", 200), within=READY_WITHIN)
    assert await redis.get(keys.widget(cached.id)) == stored
    resumed = await start_conversation(runtime, cached.id, conversation_id=cid)
    assert resumed.status == 200
    resp = await management.get(f"{MANAGE}/{cached.id}", headers=org[1])
    assert resp.status == 200


# --- 3: restart on the same port and data -----------------------------------------------------


async def test_restart_recovers_and_clears_the_cache_after_resubscribing(
    runtime: Any, redis: Redis, keys: RedisKeys, version: Any, redis_proc: RedisProcess
) -> None:
    changed = await seed_widget(redis, keys, version, config=config("light"))
    kept = await seed_widget(redis, keys, version, config=config("light"))
    for widget in (changed, kept):
        assert await theme_of(runtime, widget.id) == "light"
    listener = runtime.server.app[LISTENER]
    assert listener.subscriptions == 1

    redis_proc.stop()
    await eventually(status_is(runtime, "/readyz", 503), within=READY_WITHIN)
    assert await theme_of(runtime, changed.id) == "light"  # the cached copy, Redis being down
    redis_proc.start()  # same port and data directory: both widgets are still there
    await reconnect(redis)
    # Changed while the runtime could not hear it: no event, or one sent before it resubscribed.
    await seed_widget(
        redis, keys, version, widget_id=changed.id, config=config("dark"), publish_event=False
    )

    await eventually(status_is(runtime, "/readyz", 200), within=READY_WITHIN)
    assert listener.live and listener.subscriptions == 2
    # From here on every request succeeds: no pooled connection to the old server is left over.
    assert await theme_of(runtime, changed.id) == "dark"
    assert await theme_of(runtime, kept.id) == "light"
    resp = await start_conversation(runtime, kept.id)
    assert resp.status == 200, await resp.text()
    cid = (await resp.json())["conversation"]["id"]
    listed = await runtime.get(f"{PREFIX}/{kept.id}/conversations?user_id=u1")
    assert listed.status == 200
    assert cid in [item["id"] for item in await listed.json()]
    # And invalidation works on the new subscription.
    await seed_widget(redis, keys, version, widget_id=changed.id, config=config("system"))
    await eventually(theme_is(runtime, changed.id, "system"), within=2.0)


async def test_a_change_without_an_event_is_served_within_the_cache_ttl(
    aiohttp_client: Any,
    settings_factory: Callable[..., Settings],
    redis: Redis,
    keys: RedisKeys,
    version: Any,
) -> None:
    # The backstop bound of docs/operations.md: an entry lives at most WIDGET_CACHE_TTL, even if
    # every event were lost while the subscription looked healthy.
    ttl = 0.5
    settings = settings_factory("runtime", redis_timeout=TIMEOUT, widget_cache_ttl=ttl)
    runtime = await aiohttp_client(create_runtime(settings))
    widget = await seed_widget(redis, keys, version, config=config("light"))
    assert await theme_of(runtime, widget.id) == "light"
    written = time.monotonic()
    await seed_widget(
        redis, keys, version, widget_id=widget.id, config=config("dark"), publish_event=False
    )
    assert await theme_of(runtime, widget.id) == "light"  # cached: the event is what is missing
    await eventually(theme_is(runtime, widget.id, "dark"), within=ttl + 1.0)
    assert time.monotonic() - written < ttl + 0.5
    assert runtime.server.app[LISTENER].subscriptions == 1  # not a resubscribe's clear


# --- 4: management writes -------------------------------------------------------------------


async def stored_widget(management: Any, auth: dict[str, str], widget_id: str) -> Any:
    resp = await management.get(f"{MANAGE}/{widget_id}", headers=auth)
    assert resp.status == 200
    return await resp.json()


def put_theme(management: Any, auth: dict[str, str], widget_id: str, theme: str) -> Any:
    """The request (not yet awaited) that sets the widget's theme through management."""
    return management.put(f"{MANAGE}/{widget_id}", json={"config": config(theme)}, headers=auth)


@contextmanager
def redis_fails_at_commit(
    management: Any, monkeypatch: pytest.MonkeyPatch, fail: Callable[[], None]
) -> Iterator[None]:
    """Management's widget writes call ``fail`` just as the write script is sent: everything
    before the write (auth, the read, the checks) has succeeded."""
    store = management.server.app[WIDGETS]
    queue = store.batch.script  # the write script goes through the app's command batch

    def at_commit(script: Any, keys: Any, args: Any) -> Any:
        if script is store._write_script:
            fail()
        return queue(script, keys, args)

    monkeypatch.setattr(store.batch, "script", at_commit)
    try:
        yield
    finally:
        monkeypatch.setattr(store.batch, "script", queue)


async def test_a_write_refused_at_the_commit_is_503_and_changes_nothing(
    runtime: Any,
    management: Any,
    org: Any,
    redis: Redis,
    keys: RedisKeys,
    version: Any,
    redis_proc: RedisProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = org[1]
    widget = await seed_widget(redis, keys, version, config=config("light"))
    before = await stored_widget(management, auth, widget.id)
    assert await theme_of(runtime, widget.id) == "light"
    # Redis goes away just as the write script is sent.
    with redis_fails_at_commit(management, monkeypatch, redis_proc.stop):
        put = put_theme(management, auth, widget.id, "dark")
        await unavailable(put, "update refused at the commit")
        redis_proc.start()

    await eventually(status_is(management, "/readyz", 200), within=READY_WITHIN)
    assert await stored_widget(management, auth, widget.id) == before
    await eventually(status_is(runtime, "/readyz", 200), within=READY_WITHIN)
    assert await theme_of(runtime, widget.id) == "light"
    # The same write, retried once Redis is back, commits and reaches the runtime.
    resp = await put_theme(management, auth, widget.id, "dark")
    assert resp.status == 200
    await eventually(theme_is(runtime, widget.id, "dark"), within=2.0)


async def test_a_write_that_times_out_is_never_a_success_and_never_unannounced(
    runtime: Any,
    management: Any,
    org: Any,
    redis: Redis,
    keys: RedisKeys,
    version: Any,
    redis_proc: RedisProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server freezes with the script in its socket: the client gives up after the timeout,
    # but the server may still run the script once it wakes up. The answer must not be a
    # success, and whatever the stored outcome, the runtime must end up serving it.
    auth = org[1]
    widget = await seed_widget(redis, keys, version, config=config("system"))
    # A first write loads the script, so the frozen one is a plain EVALSHA the server can run.
    resp = await put_theme(management, auth, widget.id, "light")
    assert resp.status == 200
    await eventually(theme_is(runtime, widget.id, "light"), within=2.0)
    with redis_fails_at_commit(management, monkeypatch, redis_proc.pause):
        put = put_theme(management, auth, widget.id, "dark")
        try:
            await unavailable(put, "update frozen at the commit")
        finally:
            redis_proc.resume()

    await eventually(status_is(management, "/readyz", 200), within=READY_WITHIN)
    # The case this test is for: the server ran the script when it woke up, so a write answered
    # with 503 did commit (docs/operations.md: a failed write's outcome is unknown; re-read).
    stored = (await stored_widget(management, auth, widget.id))["config"]["v1"]["theme"]
    assert stored == "dark"
    # The event is published by the same script as the write: committed means announced. The
    # subscription never dropped, so only the event can have replaced the cached copy.
    await eventually(theme_is(runtime, widget.id, "dark"), within=2.0)
    listener = runtime.server.app[LISTENER]
    assert listener.live and listener.subscriptions == 1


async def test_no_write_commits_without_its_event(
    management: Any, org: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    # The write script publishes in the same atomic step: every committed create, update and
    # delete is one event on the channel, and a refused compare-and-set is none.
    auth = org[1]
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.invalidation_channel())
    assert (await pubsub.get_message(timeout=1.0))["type"] == "subscribe"
    body = {"agent_id": version.agent_id, "agent_version_id": version.id}
    created = await management.post(MANAGE, json=body, headers=auth)
    assert created.status == 201
    widget_id = (await created.json())["id"]
    store = management.server.app[WIDGETS]
    assert not await store._write("replace", widget_id, b"not what is stored", b"{}")
    resp = await management.put(f"{MANAGE}/{widget_id}", json={"published": True}, headers=auth)
    assert resp.status == 200
    assert (await management.delete(f"{MANAGE}/{widget_id}", headers=auth)).status == 204
    ops = []
    while (message := await pubsub.get_message(timeout=0.5)) is not None:
        ops.append(json.loads(message["data"]))
    await pubsub.aclose()
    assert [(op["widget_id"], op["op"]) for op in ops] == [
        (widget_id, "upsert"), (widget_id, "upsert"), (widget_id, "delete"),
    ]


# --- 5: feedback durability -----------------------------------------------------------------


async def test_acknowledged_feedback_survives_a_crash(
    runtime: Any, redis: Redis, keys: RedisKeys, redis_proc: RedisProcess
) -> None:
    version = await seed_agent_version(redis, keys, new_id())
    widget = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    resp = await start_conversation(runtime, widget.id)
    cid = (await resp.json())["conversation"]["id"]
    url = f"{PREFIX}/{widget.id}/conversations/{cid}/feedback"
    resp = await runtime.post(url, json={"data": {"rating": 4, "comment": "ok"}})
    assert resp.status == 200

    kill9(redis_proc)  # straight after the 200: only what was fsynced survives
    redis_proc.start()  # same port, same data directory: replays the append-only file
    await reconnect(redis)
    raw = await redis.hget(keys.conversation(widget.id, cid), "feedback")
    assert raw is not None
    assert json.loads(raw)["data"] == {"rating": 4, "comment": "ok"}

    await eventually(status_is(runtime, "/readyz", 200), within=READY_WITHIN)
    again = await runtime.post(url, json={"data": {"rating": 1}})
    assert again.status == 409
