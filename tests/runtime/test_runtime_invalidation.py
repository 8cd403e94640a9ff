"""Cache invalidation across pods: two runtime app instances share one real Redis with the
writer. After a write every pod serves the new value within a bound; a lost subscription, a
killed subscriber connection or a Redis restart never leaves a stale entry served once Redis
answers again; during an outage cached widgets are still served (stale-if-error)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.events import EVENT_ENCODER, WidgetChanged
from common.redis_client import subscriber_factory
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from common.settings import Settings
from runtime_service.app import create_app
from runtime_service.appkeys import LISTENER
from runtime_service.cache import WidgetSource
from runtime_service.invalidation import InvalidationListener
from tests.support.polling import eventually
from tests.support.seed import seed_agent_version, seed_widget
from tests.support.settings import make_settings

PREFIX = "/core/public/web-widgets"
# How soon after a write (plus its event) every pod must serve the new value.
CONVERGENCE_BOUND = 2.0


async def theme_of(client: Any, widget_id: str) -> str | int:
    """The served widget's theme, or the status code when it is not a 200."""
    resp = await client.get(f"{PREFIX}/{widget_id}")
    if resp.status != 200:
        return resp.status
    return (await resp.json())["config"]["v1"]["theme"]


def config(theme: str) -> dict[str, Any]:
    return {"v1": {"theme": theme}}


async def cached_light(pods: list[Any], redis: Redis, keys: RedisKeys, version: Any) -> Any:
    """A new widget with the light theme, read once by every pod (so each has it cached)."""
    widget = await seed_widget(redis, keys, version, config=config("light"))
    for pod in pods:
        assert await theme_of(pod, widget.id) == "light"
    return widget


@pytest.fixture
async def pods(aiohttp_client: Any, runtime_settings: Settings) -> list[Any]:
    return [await aiohttp_client(create_app(runtime_settings)) for _ in range(2)]


async def publish(redis: Redis, keys: RedisKeys, widget_id: str, op: str = "upsert") -> None:
    event = WidgetChanged(widget_id=widget_id, op=op)  # type: ignore[arg-type]
    await redis.publish(keys.invalidation_channel(), EVENT_ENCODER.encode(event))


async def test_pods_start_subscribed(pods: list[Any]) -> None:
    for pod in pods:
        assert pod.server.app[LISTENER].live
        resp = await pod.get("/readyz")
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_update_reaches_every_pod_within_the_bound(
    pods: list[Any], redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await cached_light(pods, redis, keys, version)
    # Written without its event: the pods keep serving their cached copy (this is the cache)...
    await seed_widget(
        redis, keys, version, widget_id=widget.id, config=config("dark"), publish_event=False
    )
    for pod in pods:
        assert await theme_of(pod, widget.id) == "light"
    # ...and the event is what makes every pod serve the new value.
    await publish(redis, keys, widget.id)
    for pod in pods:
        elapsed = await eventually(
            lambda pod=pod: _is(theme_of(pod, widget.id), "dark"), CONVERGENCE_BOUND
        )
        assert elapsed < CONVERGENCE_BOUND


async def test_unpublish_and_delete_answer_404_on_every_pod(
    pods: list[Any], redis: Redis, keys: RedisKeys, version: Any
) -> None:
    first = await seed_widget(redis, keys, version, config=config("light"))
    second = await seed_widget(redis, keys, version, config=config("light"))
    for pod in pods:
        assert await theme_of(pod, first.id) == "light"
        assert await theme_of(pod, second.id) == "light"
    await seed_widget(redis, keys, version, widget_id=first.id, published=False)
    await redis.delete(keys.widget(second.id))
    await publish(redis, keys, second.id, "delete")
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, first.id), 404), CONVERGENCE_BOUND)
        await eventually(lambda pod=pod: _is(theme_of(pod, second.id), 404), CONVERGENCE_BOUND)


async def test_a_new_widget_replaces_a_negative_entry(
    pods: list[Any], redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget_id = new_id()
    for pod in pods:
        assert await theme_of(pod, widget_id) == 404
    await seed_widget(redis, keys, version, widget_id=widget_id, config=config("dark"))
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget_id), "dark"), CONVERGENCE_BOUND)


async def test_undecodable_events_are_ignored(
    pods: list[Any], redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await cached_light(pods, redis, keys, version)
    channel = keys.invalidation_channel()
    for garbage in [b"not json", b'{"widget_id": 1}', b'{"op": "upsert"}', b"\xff\xfe"]:
        await redis.publish(channel, garbage)
    await seed_widget(redis, keys, version, widget_id=widget.id, config=config("dark"))
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget.id), "dark"))
        assert pod.server.app[LISTENER].live
        assert pod.server.app[LISTENER].subscriptions == 1


async def test_killed_subscription_leaves_no_stale_entry(
    pods: list[Any], redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await cached_light(pods, redis, keys, version)
    listeners = [pod.server.app[LISTENER] for pod in pods]
    assert [listener.subscriptions for listener in listeners] == [1, 1]

    killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert killed == 2
    # Written while the pods are not subscribed: its event is lost.
    await seed_widget(
        redis, keys, version, widget_id=widget.id, config=config("dark"), publish_event=False
    )

    async def resubscribed() -> bool:
        return all(listener.live and listener.subscriptions == 2 for listener in listeners)

    await eventually(resubscribed, within=3.0)
    for pod in pods:
        assert await theme_of(pod, widget.id) == "dark"
        assert (await pod.get("/readyz")).status == 200
    # And invalidation works again on the new subscription.
    await seed_widget(redis, keys, version, widget_id=widget.id, config=config("system"))
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget.id), "system"))


@pytest.fixture
async def fast_pods(aiohttp_client: Any, settings_factory: Callable[..., Settings]) -> list[Any]:
    # A short Redis timeout keeps the outage phases of these tests quick.
    settings = settings_factory("runtime", redis_timeout=0.5)
    return [await aiohttp_client(create_app(settings)) for _ in range(2)]


async def test_redis_restart_readiness_stale_if_error_and_no_stale_entry_after(
    fast_pods: list[Any], redis: Redis, keys: RedisKeys, version: Any, redis_proc: RedisProcess
) -> None:
    cached = await seed_widget(redis, keys, version, config=config("light"))
    uncached = await seed_widget(redis, keys, version, config=config("light"))
    for pod in fast_pods:
        assert await theme_of(pod, cached.id) == "light"

    redis_proc.stop()
    for pod in fast_pods:
        await eventually(lambda pod=pod: _status_is(pod, "/readyz", 503), within=5.0)
        assert not pod.server.app[LISTENER].live
        assert (await pod.get("/healthz")).status == 200  # the process itself is fine
        # Redis is down: the last known copy is served, an id never seen is a 503.
        assert await theme_of(pod, cached.id) == "light"
        resp = await pod.get(f"{PREFIX}/{uncached.id}")
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        assert (await resp.json())["detail"]

    redis_proc.start()  # same port, empty data set
    await redis.connection_pool.disconnect()  # the test's own client: drop dead connections
    for pod in fast_pods:
        await eventually(lambda pod=pod: _status_is(pod, "/readyz", 200), within=5.0)
        # Redis answers again and no longer has the widget: the cached copy must not be served.
        assert await theme_of(pod, cached.id) == 404
    await seed_widget(redis, keys, version, widget_id=cached.id, config=config("dark"))
    for pod in fast_pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, cached.id), "dark"))


async def test_while_unsubscribed_every_request_reads_redis(
    pods: list[Any], redis: Redis, keys: RedisKeys, version: Any
) -> None:
    pod = pods[0]
    listener = pod.server.app[LISTENER]
    widget = await seed_widget(redis, keys, version, config=config("light"))
    assert await theme_of(pod, widget.id) == "light"
    # Redis stays up but refuses SUBSCRIBE, so the listener cannot resubscribe.
    await redis.execute_command("ACL", "SETUSER", "default", "-subscribe")
    try:
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await eventually(lambda: _status_is(pod, "/readyz", 503))
        assert not listener.live
        resp = await pod.get("/readyz")
        assert (await resp.json())["detail"] == "Widget cache invalidation is not subscribed"
        assert resp.headers["Retry-After"] == "1"
        # Events are lost now, yet a write is served at once: nothing is cached as fresh.
        for theme in ["dark", "system"]:
            await seed_widget(
                redis, keys, version, widget_id=widget.id, config=config(theme),
                publish_event=False,
            )  # fmt: skip
            assert await theme_of(pod, widget.id) == theme
    finally:
        await redis.execute_command("ACL", "SETUSER", "default", "+subscribe")
    await eventually(lambda: _status_is(pod, "/readyz", 200), within=3.0)
    assert listener.live and listener.subscriptions == 2


async def test_management_writes_reach_every_pod(
    pods: list[Any],
    management_client: Any,
    org_with_key: Any,
    redis: Redis,
    keys: RedisKeys,
) -> None:
    org_id, auth = await org_with_key()
    version = await seed_agent_version(redis, keys, org_id)
    created = await management_client.post(
        "/core/web-widgets",
        json={
            "agent_id": version.agent_id,
            "agent_version_id": version.id,
            "published": True,
            "config": config("light"),
        },
        headers=auth,
    )
    assert created.status in (200, 201), await created.text()
    widget_id = (await created.json())["id"]
    for pod in pods:
        assert await theme_of(pod, widget_id) == "light"

    async def put(body: dict[str, Any]) -> None:
        resp = await management_client.put(
            f"/core/web-widgets/{widget_id}", json=body, headers=auth
        )
        assert resp.status == 200, await resp.text()

    await put({"config": config("dark")})
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget_id), "dark"), CONVERGENCE_BOUND)
        stored = await management_client.get(f"/core/web-widgets/{widget_id}", headers=auth)
        served = await pod.get(f"{PREFIX}/{widget_id}")
        assert await served.read() == await stored.read()
    await put({"published": False})
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget_id), 404), CONVERGENCE_BOUND)
    await put({"published": True})
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget_id), "dark"), CONVERGENCE_BOUND)
    deleted = await management_client.delete(f"/core/web-widgets/{widget_id}", headers=auth)
    assert deleted.status == 204
    for pod in pods:
        await eventually(lambda pod=pod: _is(theme_of(pod, widget_id), 404), CONVERGENCE_BOUND)


async def test_a_silent_subscription_is_detected_by_the_keepalive(
    redis_proc: RedisProcess, keys: RedisKeys
) -> None:
    # A frozen server keeps the socket open but answers nothing, like a half-open connection.
    source = WidgetSource(_never_called, max_size=10, ttl=60.0, negative_ttl=1.0)
    settings = make_settings("runtime", redis_proc.url, redis_timeout=0.3)
    listener = InvalidationListener(
        subscriber_factory(settings, None),  # type: ignore[arg-type]  # standalone: unused
        keys.invalidation_channel(), source, pong_timeout=0.3, keepalive=0.2,
    )
    task = asyncio.create_task(listener.run())
    try:
        assert await listener.wait_live(2.0)
        assert source.live
        redis_proc.pause()
        try:
            await eventually(_async(lambda: not listener.live), within=3.0)
            assert not source.live
        finally:
            redis_proc.resume()
        await eventually(_async(lambda: listener.live), within=3.0)
        assert listener.subscriptions >= 2 and source.live
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_stopping_the_listener_suspends_the_cache_without_an_outage_warning(
    redis_proc: RedisProcess, keys: RedisKeys, caplog: pytest.LogCaptureFixture
) -> None:
    # Every pod stops this way on SIGTERM: a warning each time would be a false alarm.
    source = WidgetSource(_never_called, max_size=10, ttl=60.0, negative_ttl=1.0)
    settings = make_settings("runtime", redis_proc.url)
    listener = InvalidationListener(
        subscriber_factory(settings, None),  # type: ignore[arg-type]  # standalone: unused
        keys.invalidation_channel(), source, pong_timeout=1.0,
    )
    task = asyncio.create_task(listener.run())
    assert await listener.wait_live(2.0)
    with caplog.at_level(logging.DEBUG, logger="common.invalidation"):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not listener.live and not source.live
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def _never_called(widget_id: str) -> Any:
    raise AssertionError("no widget is read in this test")


def _async(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def _status_is(client: Any, path: str, status: int) -> bool:
    return (await client.get(path)).status == status
