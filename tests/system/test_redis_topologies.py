"""The services on Redis behind Sentinel and over TLS, with real servers started by the tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess, free_port
from management_service.app import create_app as create_management
from management_service.credentials import CredentialStore
from runtime_service.app import create_app as create_runtime
from tests.support.polling import eventually
from tests.support.settings import ALL_SCOPES, make_settings
from tests.support.widget_helpers import create_widget, expect, make_version

PREFIX = "/core/public/web-widgets"


async def _flow(aiohttp_client: Any, management_settings: Any, runtime_settings: Any) -> None:
    """Write through management, read through runtime, and see an update reach the runtime."""
    management = await aiohttp_client(create_management(management_settings))
    runtime = await aiohttp_client(create_runtime(runtime_settings))
    redis = create_redis(management_settings)
    try:
        credentials = CredentialStore(redis, RedisKeys(management_settings.redis_key_prefix))
        org = await credentials.create_org("Acme")
        token, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    finally:
        await redis.aclose()
    headers = {"Authorization": f"Bearer {token}"}
    pair = await make_version(management, headers, published=True)
    widget = await create_widget(management, headers, pair, published=True)
    assert (await runtime.get(f"{PREFIX}/{widget['id']}")).status == 200
    await expect(await management.put(
        f"/core/web-widgets/{widget['id']}", json={"published": False}, headers=headers
    ), 200)

    async def hidden() -> bool:
        return (await runtime.get(f"{PREFIX}/{widget['id']}")).status == 404

    await eventually(hidden, within=2.0)


def _sentinel_knows_primary(port: int) -> bool:
    import redis as sync_redis

    try:
        with sync_redis.Redis(port=port) as client:
            return bool(client.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", "primary"))
    except sync_redis.ConnectionError:
        return False


@pytest.fixture
def sentinel(redis_proc: RedisProcess, tmp_path: Path) -> Any:
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor primary 127.0.0.1 {redis_proc.port} 1\n"
    )
    proc = subprocess.Popen(
        [redis_proc.binary, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _sentinel_knows_primary(port):
            if time.monotonic() > deadline:
                raise RuntimeError("sentinel did not start")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_services_on_sentinel(aiohttp_client: Any, sentinel: int) -> None:
    prefix = "s" + new_id()[:8]

    def settings(service: str) -> Any:
        return make_settings(
            service, "redis://ignored:1/0", redis_mode="sentinel",
            redis_sentinels=f"127.0.0.1:{sentinel}", redis_sentinel_master="primary",
            redis_key_prefix=prefix,
        )

    await _flow(aiohttp_client, settings("management"), settings("runtime"))


@pytest.fixture
def tls_redis(tmp_path: Path) -> Any:
    if shutil.which("openssl") is None:
        pytest.skip("TLS test needs the openssl command to make certificates")
    subject = "/CN=127.0.0.1"
    run = lambda *args: subprocess.run(args, check=True, capture_output=True, cwd=tmp_path)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=test-ca")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", subject)
    (tmp_path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "ext.cnf")
    port = free_port()
    proc = RedisProcess(
        "--tls-port", str(port), "--tls-cert-file", str(tmp_path / "server.crt"),
        "--tls-key-file", str(tmp_path / "server.key"),
        "--tls-ca-cert-file", str(tmp_path / "ca.crt"), "--tls-auth-clients", "no",
    )
    try:
        proc.start()
    except RuntimeError as exc:
        pytest.skip(f"this redis-server has no TLS support: {exc}")
    try:
        yield port, tmp_path / "ca.crt"
    finally:
        proc.cleanup()


async def test_services_over_tls(aiohttp_client: Any, tls_redis: Any) -> None:
    port, ca = tls_redis
    prefix = "t" + new_id()[:8]

    def settings(service: str) -> Any:
        return make_settings(
            service, f"rediss://127.0.0.1:{port}/0", redis_tls_ca_file=str(ca),
            redis_key_prefix=prefix,
        )

    await _flow(aiohttp_client, settings("management"), settings("runtime"))
    plain = Redis(port=port, socket_timeout=1)
    with pytest.raises(Exception):  # noqa: B017 - the TLS port refuses plain text
        await plain.ping()
    await plain.aclose()
