"""Both services behind a TCP proxy to a real redis-server that resets, refuses or black-holes
every connection (tests/support/tcp_proxy.py): every route that touches Redis answers 503 JSON with
Retry-After within a bound, never a 500, and all of them succeed again soon after the proxy
forwards again, without restarting either app.

On both ways the batched commands reach Redis (common/redis_batch.py): the service's own
wire client (a plain ``redis://`` URL) and redis-py's pipelines (a URL with a query option), and on
both event loops the services run on (uvloop in production, asyncio's own as a fallback): they
fail differently when written to after a reset. Each case runs in its own loop, so the tests
are synchronous and build their clients themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvloop
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from common import redis_client
from common.ids import new_id
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from management_service.app import create_app as create_management
from management_service.credentials import CredentialStore
from runtime_service.app import create_app as create_runtime
from runtime_service.dev_webhook import event_body, sign
from runtime_service.embed import assets as embed_assets
from tests.support.bundle import write_stand_in_bundle
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget
from tests.support.settings import ALL_SCOPES, LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.support.tcp_proxy import TcpProxy

PUBLIC = "/core/public/web-widgets"
MANAGE = "/core/web-widgets"
TIMEOUT = 0.3
# Where a fault is known at once (reset, refused), the timeout is set long enough that "at once"
# (under half of it) can never be met by waiting for it, whatever the machine's load.
AT_ONCE_TIMEOUT = 2.0
# One Redis call timing out, its retry on a new connection failing, and the request's own work,
# on a machine shared with other tests.
BOUND = 4 * TIMEOUT
RECOVERY = 5.0  # seconds within which every route succeeds again once the proxy forwards

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
# A standalone URL with a harmless query option keeps the batches on redis-py (RedisWire.supports).
PATHS = {"wire": "", "redis-py": "?protocol=2"}


@pytest.fixture(autouse=True)
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in bundle, so the iframe page answers without npm."""
    monkeypatch.setattr(embed_assets, "STATIC_DIR", write_stand_in_bundle(tmp_path))


@pytest.fixture
def proxy(redis_proc: RedisProcess) -> Iterator[TcpProxy]:
    made = TcpProxy("127.0.0.1", redis_proc.port).start()
    try:
        yield made
    finally:
        made.close()


def run(loop: str, scenario: Awaitable[None]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(asyncio.wait_for(scenario, 120))


# --- the routes -----------------------------------------------------------------------------


Call = Callable[[], Awaitable[Any]]


@dataclass
class Route:
    name: str
    call: Call
    ok: int  # its status once Redis answers


@dataclass
class Stack:
    runtime: TestClient[Any, Any]
    management: TestClient[Any, Any]
    redis: Redis
    keys: RedisKeys
    auth: dict[str, str]
    member: dict[str, str]  # a pat_ of a member of the same organization
    version: Any


async def stack(redis_url: str, direct: Any, prefix: str = "test", **overrides: Any) -> Stack:
    """Both apps on ``redis_url`` (the proxy); ``direct``, the test's own client, seeds them."""
    overrides = {"redis_timeout": TIMEOUT, "redis_key_prefix": prefix, **overrides}
    runtime = TestClient(
        TestServer(create_runtime(make_settings("runtime", redis_url, **overrides)))
    )
    management = TestClient(
        TestServer(create_management(make_settings("management", redis_url, **overrides)))
    )
    await runtime.start_server()
    await management.start_server()
    keys = RedisKeys(prefix)
    credentials = CredentialStore(direct, keys)
    org = await credentials.create_org("Acme")
    token, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    user = await credentials.create_user("Ann")
    await credentials.add_member(org.id, user.id)
    pat, _ = await credentials.issue("pat", ALL_SCOPES, user_id=user.id)
    member = {"Authorization": f"Bearer {pat}", "X-Anyreach-Org": org.id}
    version = await seed_agent_version(direct, keys, org.id)
    return Stack(
        runtime, management, direct, keys, {"Authorization": f"Bearer {token}"}, member, version
    )


async def close(stack: Stack) -> None:
    await stack.runtime.close()
    await stack.management.close()
    await stack.redis.aclose()


async def started(s: Stack, widget_id: str) -> tuple[str, str]:
    """A conversation started through the runtime: its id and room."""
    resp = await s.runtime.post(f"{PUBLIC}/{widget_id}/conversations", json={"user_id": "u1"})
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    return answer["conversation"]["id"], answer["connection_details"]["room"]


async def runtime_routes(s: Stack) -> list[Route]:
    """Every runtime route that touches Redis, each on fresh data (a widget not cached yet, a
    conversation without feedback), so it can run once in the outage and once after."""
    widget = await seed_widget(s.redis, s.keys, s.version, config=FEEDBACK_CONFIG)
    uncached = await seed_widget(s.redis, s.keys, s.version)
    embed = await seed_widget(s.redis, s.keys, s.version)
    frame = await seed_widget(s.redis, s.keys, s.version)
    rt = s.runtime
    cid, _ = await started(s, widget.id)
    conversations = f"{PUBLIC}/{widget.id}/conversations"
    # The visitor joining, signed as LiveKit signs it: the owner locator, the due index, the
    # lifecycle script and the event's publication, all through the command batch.
    _, room = await started(s, widget.id)
    webhook = event_body("participant_joined", room, int(time.time()), "visitor")
    webhook_headers = {
        "Content-Type": "application/webhook+json",
        "Authorization": sign(webhook, LIVEKIT_KEY, LIVEKIT_SECRET),
    }
    return [
        Route("widget (cache miss)", lambda: rt.get(f"{PUBLIC}/{uncached.id}"), 200),
        Route("embed loader (cache miss)", lambda: rt.get(f"/public/embed/{embed.id}"), 200),
        Route("embed frame (cache miss)", lambda: rt.get(f"/public/embed/{frame.id}/frame"), 200),
        Route("start", lambda: rt.post(conversations, json={"user_id": "u1"}), 200),
        Route(
            "resume",
            lambda: rt.post(conversations, json={"user_id": "u1", "conversation_id": cid}),
            200,
        ),
        Route("list", lambda: rt.get(f"{conversations}?user_id=u1"), 200),
        Route(
            "feedback",
            lambda: rt.post(f"{conversations}/{cid}/feedback", json={"data": {"rating": 5}}),
            200,
        ),
        Route(
            "livekit webhook",
            lambda: rt.post("/livekit/webhook", data=webhook, headers=webhook_headers),
            200,
        ),
        Route("runtime readyz", lambda: rt.get("/readyz"), 200),
    ]


async def management_routes(s: Stack) -> list[Route]:
    """Every management route that touches Redis (each authenticated one looks its credential
    up there first, unless it is cached; a pat_ its membership too), on data made for it."""
    mg, auth = s.management, s.auth
    agent = await mg.post("/core/agents", json={"name": "Support"}, headers=auth)
    assert agent.status == 201, await agent.text()
    agent_id = (await agent.json())["id"]
    versions = f"/core/agents/{agent_id}/versions"
    made = await mg.post(versions, json={"config": {"vision": {"enabled": False}}}, headers=auth)
    assert made.status == 201, await made.text()
    named = {"name": "Another"}
    pair = {"agent_id": s.version.agent_id, "agent_version_id": s.version.id}
    kept, doomed = [
        (await (await mg.post(MANAGE, json=pair, headers=auth)).json())["id"] for _ in range(2)
    ]
    # The agent's report and end run the lifecycle script (common/lifecycle/lifecycle.py).
    widget = await seed_widget(s.redis, s.keys, s.version)
    reported, _ = await started(s, widget.id)
    ending, _ = await started(s, widget.id)
    return [
        Route("list widgets", lambda: mg.get(MANAGE, headers=auth), 200),
        Route("create widget", lambda: mg.post(MANAGE, json=pair, headers=auth), 201),
        Route("get widget", lambda: mg.get(f"{MANAGE}/{kept}", headers=auth), 200),
        Route("get widget (pat_)", lambda: mg.get(f"{MANAGE}/{kept}", headers=s.member), 200),
        Route(
            "update widget",
            lambda: mg.put(f"{MANAGE}/{kept}", json={"published": True}, headers=auth),
            200,
        ),
        Route("delete widget", lambda: mg.delete(f"{MANAGE}/{doomed}", headers=auth), 204),
        Route("create agent", lambda: mg.post("/core/agents", json=named, headers=auth), 201),
        Route("get agent", lambda: mg.get(f"/core/agents/{agent_id}", headers=auth), 200),
        Route(
            "create version",
            lambda: mg.post(versions, json={"config": {}}, headers=auth),
            201,
        ),
        Route("get version", lambda: mg.get(f"{versions}/1", headers=auth), 200),
        Route(
            "update version",
            lambda: mg.put(f"{versions}/1", json={"config": {"x": 1}}, headers=auth),
            200,
        ),
        Route("publish version", lambda: mg.post(f"{versions}/1/publish", headers=auth), 200),
        Route(
            # An unknown widget once Redis answers: nothing is fetched.
            "auto-brand",
            lambda: mg.post(
                f"{MANAGE}/{new_id()}/auto-brand", json={"domain": "example.com"}, headers=auth
            ),
            404,
        ),
        Route("list webhooks", lambda: mg.get("/core/webhooks", headers=auth), 200),
        # The owner's conversations API: the organization's index, the status merge, one GET.
        Route("list conversations", lambda: mg.get("/core/conversations", headers=auth), 200),
        Route(
            "list conversations by status",
            lambda: mg.get("/core/conversations?status=token_created", headers=auth),
            200,
        ),
        Route(
            "get conversation",
            lambda: mg.get(f"/core/conversations/{reported}", headers=auth),
            200,
        ),
        Route(
            "report conversation",
            lambda: mg.post(f"/core/conversations/{reported}/report",
                            json={"user_turn_count": 1}, headers=auth),
            200,
        ),
        Route(
            "end conversation",
            lambda: mg.post(f"/core/conversations/{ending}/end", headers=auth),
            200,
        ),
        Route("management readyz", lambda: mg.get("/readyz"), 200),
    ]


# --- what must hold -------------------------------------------------------------------------


async def unavailable(route: Route, bound: float) -> None:
    start = time.monotonic()
    resp = await route.call()
    body = await resp.read()
    elapsed = time.monotonic() - start
    assert resp.status == 503, (route.name, resp.status, body)
    assert resp.content_type == "application/json", route.name
    assert set(json.loads(body)) == {"detail"}, route.name
    assert resp.headers["Retry-After"] == "1", route.name
    assert elapsed < bound, (route.name, elapsed)


async def recovers(route: Route) -> None:
    """The route succeeds within RECOVERY; until then it answers 503, never anything else."""
    deadline = time.monotonic() + RECOVERY
    while True:
        resp = await route.call()
        body = await resp.read()
        if resp.status == route.ok:
            return
        assert resp.status == 503, (route.name, resp.status, body)
        assert time.monotonic() < deadline, (route.name, "not recovered", body)
        await asyncio.sleep(0.05)


def bound(mode: str, cluster: bool = False) -> float:
    # A reset or refused connection is known at once: nothing waits for the timeout. What is
    # black-holed costs the timeout; on a cluster several, as its client refreshes the topology
    # and retries (measured: about four).
    if mode in ("reset", "refuse"):
        return AT_ONCE_TIMEOUT / 2
    return 8 * TIMEOUT if cluster else BOUND


def timeout_for(mode: str) -> float:
    return AT_ONCE_TIMEOUT if mode in ("reset", "refuse") else TIMEOUT


async def outage_and_recovery(proxies: list[TcpProxy], mode: str, routes: list[Route]) -> None:
    limit = bound(mode, cluster=len(proxies) > 1)
    for proxy in proxies:
        proxy.mode = mode  # type: ignore[assignment]
    try:
        for _ in range(2):  # and again: nothing got stuck after the first round
            await asyncio.gather(*(unavailable(route, limit) for route in routes))
    finally:
        for proxy in proxies:
            proxy.mode = "forward"
    for route in routes:  # one at a time: each must recover by itself
        await recovers(route)


async def both_services(proxy: TcpProxy, direct_url: str, query: str, mode: str) -> None:
    direct = Redis.from_url(direct_url)
    s = await stack(proxy.url + query, direct, redis_timeout=timeout_for(mode))
    try:
        routes = await runtime_routes(s) + await management_routes(s)
        await outage_and_recovery([proxy], mode, routes)
    finally:
        await close(s)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", ["reset", "refuse", "blackhole"])
def test_every_route_answers_503_and_recovers(
    mode: str, path: str, loop: str, proxy: TcpProxy, redis_proc: RedisProcess
) -> None:
    run(loop, both_services(proxy, redis_proc.url, PATHS[path], mode))


# --- a cluster --------------------------------------------------------------------------------


@pytest.fixture
def cluster_proxies(redis_cluster: Any) -> Iterator[list[TcpProxy]]:
    """A proxy in front of each node of the shared 3-master cluster."""
    made = [TcpProxy("127.0.0.1", node.port).start() for node in redis_cluster.nodes]
    try:
        yield made
    finally:
        for proxy in made:
            proxy.close()


def through(proxies: list[TcpProxy]) -> type[RedisCluster]:
    """The services' cluster client, told to reach each node through its proxy (the nodes
    announce their own addresses)."""
    by_port = {proxy.upstream[1]: proxy.address for proxy in proxies}

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        return by_port.get(address[1], address)

    class Proxied(RedisCluster):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, address_remap=remap, **kwargs)

    return Proxied


async def cluster_services(proxies: list[TcpProxy], seed_url: str, mode: str) -> None:
    direct = RedisCluster.from_url(seed_url)
    s = await stack(
        proxies[0].url, direct, prefix="p" + new_id()[:8], redis_mode="cluster",
        redis_timeout=timeout_for(mode),
    )
    try:
        routes = await runtime_routes(s) + await management_routes(s)
        await outage_and_recovery(proxies, mode, routes)
    finally:
        await close(s)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("mode", ["reset", "refuse", "blackhole"])
def test_on_a_cluster_every_route_answers_503_and_recovers(
    mode: str,
    loop: str,
    cluster_proxies: list[TcpProxy],
    redis_cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_client, "RedisCluster", through(cluster_proxies))
    run(loop, cluster_services(cluster_proxies, redis_cluster.url, mode))


# --- maxclients -------------------------------------------------------------------------------


async def at_maxclients(url: str, query: str) -> None:
    """Redis itself refusing clients: it accepts, answers "-ERR max number of clients reached"
    and closes. Made so by the test's own connection being the only one allowed, the services'
    connections killed."""
    admin = Redis.from_url(url)
    s = await stack(url + query, admin)
    try:
        routes = await runtime_routes(s) + await management_routes(s)
        limit = await admin.config_get("maxclients")
        await admin.config_set("maxclients", 1)
        try:
            await admin.execute_command("CLIENT", "KILL", "SKIPME", "yes")  # every other one
            for _ in range(2):
                await asyncio.gather(*(unavailable(route, BOUND) for route in routes))
        finally:
            await admin.config_set("maxclients", limit["maxclients"])
        for route in routes:
            await recovers(route)
    finally:
        await close(s)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("path", PATHS)
def test_at_maxclients_every_route_answers_503_and_recovers(
    path: str, loop: str, redis_proc: RedisProcess
) -> None:
    run(loop, at_maxclients(redis_proc.url, PATHS[path]))
