"""Shared fixtures: a private real redis-server per test, settings pointing at it, app clients,
and credential helpers. Nothing here touches a Redis server the tests did not start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from common.settings import Settings
from management_service.credentials import CredentialStore

RATE_LIMITED = ("START", "LIST", "FEEDBACK", "FEEDBACK_PER_CONVERSATION")
LIVEKIT_KEY = "test-livekit-key"
LIVEKIT_SECRET = "test-livekit-secret-0123456789abcdef0123456789"


# What a module sets as REDIS_ARGS is passed to its redis-server, e.g. DURABLE.
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")


@pytest.fixture
def redis_proc(request: pytest.FixtureRequest) -> Iterator[RedisProcess]:
    proc = RedisProcess(*getattr(request.module, "REDIS_ARGS", ())).start()
    try:
        yield proc
    finally:
        proc.cleanup()


def make_settings(service: str, redis_url: str, **overrides: Any) -> Settings:
    env = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": "test",
        "LIVEKIT_URL": "wss://livekit.test",
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
        "PUBLIC_ORIGIN": "https://widgets.test",
        # Functional tests send bursts from one address; tests of the limits turn them on.
        **{f"RATE_LIMIT_{name}": "off" for name in RATE_LIMITED},
    }
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return Settings.from_env(service, env)


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
    client = Redis.from_url(redis_proc.url)
    yield client
    await client.aclose()


@pytest.fixture
def keys() -> RedisKeys:
    return RedisKeys("test")


@pytest.fixture
async def credentials(redis: Redis, keys: RedisKeys) -> CredentialStore:
    return CredentialStore(redis, keys)


@pytest.fixture
async def management_client(aiohttp_client: Any, management_settings: Settings) -> Any:
    from management_service.app import create_app

    return await aiohttp_client(create_app(management_settings))


ALL_SCOPES = [
    "web_widgets:read", "web_widgets:manage", "agents:read", "agents:manage",
    "conversations:manage",
]

OrgFactory = Callable[..., Awaitable[tuple[str, dict[str, str]]]]


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
    from tests.redis_cluster import LocalCluster

    cluster = LocalCluster()
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()
