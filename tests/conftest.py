"""Fixtures every group shares: a private real redis-server per test, settings pointing at it,
app clients, credential helpers and the session's 3-master cluster. Nothing here touches a Redis
server the tests did not start. Plain helpers (settings, seeding, waiting) are in tests/support/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import aclosing
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from common.ids import new_id
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from common.settings import Settings
from management_service.credentials import CredentialStore
from tests.support.seed import seed_agent_version, seed_widget
from tests.support.settings import ALL_SCOPES, OrgFactory, make_settings


@pytest.fixture
def redis_proc(request: pytest.FixtureRequest) -> Iterator[RedisProcess]:
    proc = RedisProcess(*getattr(request.module, "REDIS_ARGS", ())).start()
    try:
        yield proc
    finally:
        proc.cleanup()


@pytest.fixture
def settings_factory(redis_proc: RedisProcess) -> Callable[..., Settings]:
    def factory(service: str = "management", **overrides: Any) -> Settings:
        return make_settings(service, redis_proc.url, **overrides)

    return factory


@pytest.fixture
def management_settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory("management")


@pytest.fixture
def runtime_settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory("runtime")


@pytest.fixture
async def redis(redis_proc: RedisProcess) -> Any:
    async with aclosing(Redis.from_url(redis_proc.url)) as client:
        yield client


@pytest.fixture
def keys() -> RedisKeys:
    return RedisKeys("test")


@pytest.fixture
async def version(redis: Redis, keys: RedisKeys) -> Any:
    """A published agent version of a new organization."""
    return await seed_agent_version(redis, keys, new_id())


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    """A published widget of ``version``."""
    return await seed_widget(redis, keys, version)


@pytest.fixture
async def credentials(redis: Redis, keys: RedisKeys) -> CredentialStore:
    return CredentialStore(redis, keys)


@pytest.fixture
async def management_client(aiohttp_client: Any, management_settings: Settings) -> Any:
    from management_service.app import create_app

    return await aiohttp_client(create_app(management_settings))


@pytest.fixture
def org_with_key(credentials: CredentialStore) -> OrgFactory:
    """Create an org and an ``ak_`` key; returns ``(org_id, auth_headers)``."""

    async def factory(scopes: list[str] | None = None) -> tuple[str, dict[str, str]]:
        org = await credentials.create_org("Acme")
        token, _ = await credentials.issue("ak", scopes or ALL_SCOPES, org_id=org.id)
        return org.id, {"Authorization": f"Bearer {token}"}

    return factory


@pytest.fixture
async def runtime_client(aiohttp_client: Any, runtime_settings: Settings) -> Any:
    from runtime_service.app import create_app

    return await aiohttp_client(create_app(runtime_settings))


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Any]:
    """A real 3-master Redis Cluster shared by the session; tests isolate by key prefix."""
    from tests.support.redis_cluster import LocalCluster

    cluster = LocalCluster()
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()


@pytest.fixture
def prefix() -> str:
    return "t" + new_id()[:8]  # the cluster is shared by the session: one key space per test


@pytest.fixture
def cluster_settings(redis_cluster: Any, prefix: str) -> Callable[[str], Settings]:
    def factory(service: str) -> Settings:
        return make_settings(
            service, redis_cluster.url, redis_mode="cluster", redis_key_prefix=prefix
        )

    return factory


@pytest.fixture
async def cluster(redis_cluster: Any) -> Any:
    async with aclosing(RedisCluster.from_url(redis_cluster.url)) as client:
        yield client


@pytest.fixture
async def stack(aiohttp_client: Any, cluster_settings: Any, cluster: Any, prefix: str) -> Any:
    """Both services on the cluster and an ``ak_`` key: ``(management, runtime, headers)``."""
    from management_service.app import create_app as create_management
    from runtime_service.app import create_app as create_runtime

    management = await aiohttp_client(create_management(cluster_settings("management")))
    runtime = await aiohttp_client(create_runtime(cluster_settings("runtime")))
    credentials = CredentialStore(cluster, RedisKeys(prefix))
    org = await credentials.create_org("Acme")
    token, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    return management, runtime, {"Authorization": f"Bearer {token}"}
