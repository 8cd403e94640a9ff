"""The management API's per-process credential cache, against a real redis-server (and the
cluster): a revoked key stops working within the invalidation bound although the cache's TTL is
far longer, a lost subscription clears the cache, a revocation that overtakes a read keeps that
read out of the cache, expiry is checked on every request from the cached record, and the cache
never holds a secret."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from common.invalidation import InvalidationListener
from common.models.events import CREDENTIAL_EVENT_DECODER
from common.redis_batch import RedisBatch
from common.redis_client import subscriber_factory
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from common.settings import Settings
from common.timeutil import now_ms
from management_service import admin
from management_service import credentials as credentials_module
from management_service.app import create_app
from management_service.appkeys import CREDENTIAL_CACHE, CREDENTIAL_LISTENER
from management_service.credential_cache import CredentialCache
from management_service.credentials import CredentialStore
from tests.support.polling import eventually
from tests.support.settings import ALL_SCOPES, make_settings

WIDGETS = "/core/web-widgets"
# How soon after a revocation every management process must refuse the key: the event's trip,
# far below CREDENTIAL_CACHE_TTL (30 s), so only the event can explain it.
REVOCATION_BOUND = 1.0


async def _status(client: Any, headers: dict[str, str]) -> int:
    return (await client.get(WIDGETS, headers=headers)).status


async def _issue(store: CredentialStore, **options: Any) -> tuple[str, str]:
    """A new org's ``ak_`` token and its credential id."""
    org = await store.create_org("Acme")
    token, credential = await store.issue("ak", ALL_SCOPES, org_id=org.id, **options)
    return token, credential.id


def _cached_store(
    credentials: CredentialStore, keys: RedisKeys, ttl: float = 60.0
) -> tuple[CredentialCache, CredentialStore]:
    """A store over its own cache, resumed as a confirmed subscription does."""
    cache = CredentialCache(max_size=10, ttl=ttl)
    cache.resume()
    return cache, CredentialStore(credentials.redis, keys, cache)


async def _revoke_with_the_admin_cli(settings: Settings, token_or_id: str) -> None:
    """What an operator runs: another process's client, not the app's."""
    args = admin.build_parser().parse_args(["revoke", token_or_id])
    assert await admin.run(args, settings) == {"revoked": True}


async def _revoked_within_the_bound(
    clients: list[Any], headers: dict[str, str], settings: Settings, token_or_id: str
) -> None:
    for client in clients:
        assert await _status(client, headers) == 200
        assert await _status(client, headers) == 200
        cache = client.server.app[CREDENTIAL_CACHE]
        assert cache.stats.hits >= 1 and len(cache) == 1  # served from the cache
    await _revoke_with_the_admin_cli(settings, token_or_id)
    for client in clients:
        async def refused(client: Any = client) -> bool:
            return await _status(client, headers) == 401

        await eventually(refused, within=REVOCATION_BOUND)
        assert len(client.server.app[CREDENTIAL_CACHE]) == 0


@pytest.mark.parametrize("named_by", ["token", "id"])
async def test_a_revoked_key_stops_working_within_the_bound(
    aiohttp_client: Any, management_settings: Settings, credentials: CredentialStore,
    named_by: str,
) -> None:
    assert management_settings.credential_cache_ttl >= 30
    apps = [await aiohttp_client(create_app(management_settings)) for _ in range(2)]
    token, credential_id = await _issue(credentials)
    headers = {"Authorization": f"Bearer {token}"}
    await _revoked_within_the_bound(
        apps, headers, management_settings, token if named_by == "token" else credential_id
    )


async def test_a_revoked_key_stops_working_within_the_bound_on_the_cluster(
    aiohttp_client: Any, cluster_settings: Callable[[str], Settings], cluster: Any, prefix: str
) -> None:
    settings = cluster_settings("management")
    apps = [await aiohttp_client(create_app(settings)) for _ in range(2)]
    token, _ = await _issue(CredentialStore(cluster, RedisKeys(prefix)))
    await _revoked_within_the_bound(
        apps, {"Authorization": f"Bearer {token}"}, settings, token
    )


async def test_the_revocation_is_published_by_the_script_that_deletes(
    redis: Redis, keys: RedisKeys, credentials: CredentialStore
) -> None:
    token, credential_id = await _issue(credentials)
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.credential_channel())
    try:
        assert (await pubsub.get_message(timeout=1.0) or {}).get("type") == "subscribe"
        assert await credentials.revoke(token)
        message = await pubsub.get_message(timeout=1.0)
        assert message is not None and message["type"] == "message"
        assert CREDENTIAL_EVENT_DECODER.decode(message["data"]).credential_id == credential_id
        assert await credentials.verify(token) is None
    finally:
        await pubsub.aclose()


async def test_a_lost_subscription_clears_the_cache_and_stops_caching(
    aiohttp_client: Any, management_settings: Settings, credentials: CredentialStore,
    redis: Redis,
) -> None:
    client = await aiohttp_client(create_app(management_settings))
    app = client.server.app
    cache, listener = app[CREDENTIAL_CACHE], app[CREDENTIAL_LISTENER]
    token, _ = await _issue(credentials)
    headers = {"Authorization": f"Bearer {token}"}
    assert await _status(client, headers) == 200
    assert len(cache) == 1
    # Redis stays up but refuses SUBSCRIBE, so the listener cannot resubscribe.
    await redis.execute_command("ACL", "SETUSER", "default", "-subscribe")
    try:
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

        async def down() -> bool:
            return not listener.live

        await eventually(down)
        assert len(cache) == 0 and not cache.live
        # Events may be lost now: every request reads Redis and nothing is kept.
        assert await _status(client, headers) == 200
        assert len(cache) == 0
        # A revocation whose event nobody hears still takes effect at once.
        await redis.delete(RedisKeys(management_settings.redis_key_prefix).api_key(
            token.split("_", 1)[1].split(".", 1)[0]
        ))
        assert await _status(client, headers) == 401
    finally:
        await redis.execute_command("ACL", "SETUSER", "default", "+subscribe")

    async def back() -> bool:
        return listener.live

    await eventually(back, within=3.0)
    assert cache.live and listener.subscriptions == 2 and cache.stats.clears >= 2


async def test_a_resubscription_clears_what_was_cached_before(
    redis_proc: RedisProcess, keys: RedisKeys, credentials: CredentialStore
) -> None:
    cache = CredentialCache(max_size=10, ttl=60.0)
    store = CredentialStore(credentials.redis, keys, cache)
    listener = _listener(redis_proc, keys, cache)
    task = asyncio.create_task(listener.run())
    try:
        assert await listener.wait_live(2.0)
        token, _ = await _issue(store)
        assert await store.verify(token) is not None and len(cache) == 1
        await credentials.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

        async def resubscribed() -> bool:
            return listener.subscriptions == 2 and listener.live

        await eventually(resubscribed, within=3.0)
        assert len(cache) == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_revocation_during_the_read_keeps_the_read_out_of_the_cache(
    redis: Redis, keys: RedisKeys, credentials: CredentialStore
) -> None:
    cache = CredentialCache(max_size=10, ttl=60.0)
    cache.resume()  # as a confirmed subscription does
    token, credential_id = await _issue(credentials)
    reading, release = asyncio.Event(), asyncio.Event()

    class SlowBatch(RedisBatch):
        """The app's command batch, with a GET that waits while the revocation's event
        arrives."""

        def execute(self, *args: Any) -> asyncio.Future[Any]:
            return asyncio.ensure_future(self._slow(super().execute(*args)))

        @staticmethod
        async def _slow(reply: asyncio.Future[Any]) -> Any:
            value = await reply  # read before the revocation...
            reading.set()
            await release.wait()
            return value

    store = CredentialStore(redis, keys, cache, SlowBatch(redis))
    verifying = asyncio.create_task(store.verify(token))
    await reading.wait()
    cache.invalidate(credential_id)  # ...whose event arrives before the read returns
    release.set()
    assert await verifying is not None  # the request that was already reading
    assert len(cache) == 0
    assert cache.get(credential_id) is None
    # Without an invalidation in between, the same read is kept.
    reading.clear()
    verifying = asyncio.create_task(store.verify(token))
    await reading.wait()
    release.set()
    assert await verifying is not None
    assert len(cache) == 1


async def test_expiry_is_checked_on_every_request_from_the_cached_record(
    keys: RedisKeys, credentials: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, store = _cached_store(credentials, keys, ttl=3600.0)
    expires = now_ms() + 60_000
    token, _ = await _issue(store, expires_at_ms=expires)
    assert await store.verify(token) is not None
    assert await store.verify(token) is not None
    assert cache.stats.hits == 1 and len(cache) == 1
    misses = cache.stats.misses
    monkeypatch.setattr(credentials_module, "now_ms", lambda: expires)
    assert await store.verify(token) is None
    # Refused from the cached record, without a Redis read.
    assert cache.stats.hits == 2 and cache.stats.misses == misses


async def test_the_cache_never_holds_the_secret(
    keys: RedisKeys, credentials: CredentialStore
) -> None:
    cache, store = _cached_store(credentials, keys)
    token, credential_id = await _issue(store)
    secret = token.split(".", 1)[1]
    assert await store.verify(token) is not None
    assert len(cache) == 1
    kept = msgspec.json.encode([
        (key, msgspec.to_builtins(credential), expires)
        for key, (credential, expires) in cache._entries.items()
    ]).decode()
    assert secret not in kept and token not in kept
    assert credentials_module.hash_secret(secret) in kept  # only its hash
    assert credential_id in kept


async def test_a_wrong_secret_is_refused_from_the_cache_too(
    keys: RedisKeys, credentials: CredentialStore
) -> None:
    cache, store = _cached_store(credentials, keys)
    token, _ = await _issue(store)
    assert await store.verify(token) is not None and len(cache) == 1
    assert await store.verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert await store.verify("pat_" + token.removeprefix("ak_")) is None  # another kind


def test_the_cache_is_bounded_and_its_entries_expire() -> None:
    now = [0.0]
    cache = CredentialCache(max_size=2, ttl=30.0, clock=lambda: now[0])
    cache.resume()
    records = [_record(str(n)) for n in range(3)]
    for record in records:
        cache.put(record, cache.generation)
    assert len(cache) == 2 and cache.get("0") is None and cache.stats.evictions == 1
    assert cache.get("2") is records[2]
    now[0] = 30.0
    assert cache.get("2") is None and cache.get("1") is None


def test_nothing_is_cached_before_the_subscription_is_confirmed() -> None:
    cache = CredentialCache(max_size=10, ttl=30.0)
    cache.put(_record("1"), cache.generation)
    assert len(cache) == 0
    cache.resume()
    cache.put(_record("1"), cache.generation)
    cache.suspend()
    assert len(cache) == 0 and not cache.live


def _record(credential_id: str) -> credentials_module.Credential:
    return credentials_module.Credential(
        id=credential_id, kind="ak", name="", scopes=[], secret_sha256="0" * 64,
        created_at="2026-01-01T00:00:00.000Z", org_id="o",
    )


def _listener(
    redis_proc: RedisProcess, keys: RedisKeys, cache: CredentialCache
) -> InvalidationListener:
    settings = make_settings("management", redis_proc.url)
    return InvalidationListener(
        subscriber_factory(settings, None),  # type: ignore[arg-type]  # standalone: unused
        keys.credential_channel(), cache,
        decode=lambda data: CREDENTIAL_EVENT_DECODER.decode(data).credential_id,
        pong_timeout=1.0,
    )
