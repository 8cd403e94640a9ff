"""The admin command line, run as a real subprocess against the test's Redis: its JSON output,
its exit codes, and that what it creates works (and stops working) against the API."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest

from common.ids import is_uuid, new_id
from common.redis_process import RedisProcess, free_port
from common.timeutil import ms_from_iso, now_ms
from tests.support.paths import ROOT


class Result:
    def __init__(self, code: int, stdout: bytes, stderr: bytes) -> None:
        self.code = code
        self.stdout = stdout.decode()
        self.stderr = stderr.decode()

    @property
    def out(self) -> dict[str, Any]:
        assert self.code == 0, self.stderr
        assert self.stderr == ""
        lines = self.stdout.splitlines()
        assert len(lines) == 1, self.stdout  # one JSON object per command
        return json.loads(lines[0])

    @property
    def err(self) -> dict[str, Any]:
        assert self.code != 0
        assert self.stdout == ""
        body = json.loads(self.stderr)
        assert set(body) == {"detail"}
        return body


async def run_admin(redis_url: str, *args: str) -> Result:
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": "test"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "management_service.admin", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await proc.communicate()
    assert proc.returncode is not None
    return Result(proc.returncode, stdout, stderr)


@pytest.fixture
def admin(redis_proc: RedisProcess) -> Any:
    async def call(*args: str) -> Result:
        return await run_admin(redis_proc.url, *args)

    return call


def bearer(token: str, org: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    return {**headers, "X-Anyreach-Org": org} if org else headers


async def test_org_and_api_key(admin: Any, management_client: Any, credentials: Any) -> None:
    org = (await admin("create-org", "--name", "Acme Inc")).out
    assert set(org) == {"id", "name", "created_at"}
    assert is_uuid(org["id"]) and org["name"] == "Acme Inc"
    assert await credentials.org_exists(org["id"])

    key = (await admin("create-api-key", "--org", org["id"], "--name", "backend",
                       "--scopes", "agents:manage, agents:read,agents:read")).out
    assert set(key) == {"token", "id", "org_id", "name", "scopes", "expires_at"}
    assert key["token"].startswith(f"ak_{key['id']}.")
    assert (key["org_id"], key["name"]) == (org["id"], "backend")
    assert key["scopes"] == ["agents:manage", "agents:read"]
    assert key["expires_at"] is None

    # The printed token works against the API, in the org it was made for.
    resp = await management_client.post("/core/agents", json={"name": "A"},
                                         headers=bearer(key["token"]))
    assert resp.status == 201
    assert (await resp.json())["organization_id"] == org["id"]

    # Revoking it (by the full token) shuts it out at once.
    assert (await admin("revoke", key["token"])).out == {"revoked": True}
    resp = await management_client.get(f"/core/agents/{new_id()}", headers=bearer(key["token"]))
    assert resp.status == 401
    assert (await admin("revoke", key["token"])).err == {"detail": "not found"}


async def test_expiring_key(admin: Any, management_client: Any) -> None:
    org = (await admin("create-org", "--name", "Acme")).out
    before = now_ms()
    key = (await admin("create-api-key", "--org", org["id"], "--scopes", "agents:read",
                       "--expires-in", "3600")).out
    expires = ms_from_iso(key["expires_at"])
    assert before + 3_600_000 <= expires <= now_ms() + 3_600_000
    resp = await management_client.get(f"/core/agents/{new_id()}", headers=bearer(key["token"]))
    assert resp.status == 404  # authenticated; the agent just does not exist


async def test_user_membership_and_pat(admin: Any, management_client: Any) -> None:
    org = (await admin("create-org", "--name", "Acme")).out
    other = (await admin("create-org", "--name", "Other")).out
    user = (await admin("create-user", "--name", "Ann")).out
    assert set(user) == {"id", "name", "created_at"}
    assert is_uuid(user["id"]) and user["name"] == "Ann"
    member = (await admin("add-member", "--org", org["id"], "--user", user["id"])).out
    assert member == {"org_id": org["id"], "user_id": user["id"]}

    pat = (await admin("create-pat", "--user", user["id"], "--scopes", "agents:manage")).out
    assert set(pat) == {"token", "id", "user_id", "name", "scopes", "expires_at"}
    assert pat["token"].startswith(f"pat_{pat['id']}.")
    assert (pat["user_id"], pat["scopes"], pat["expires_at"]) == (
        user["id"], ["agents:manage"], None)

    resp = await management_client.post("/core/agents", json={"name": "A"},
                                         headers=bearer(pat["token"], org["id"]))
    assert resp.status == 201
    resp = await management_client.post("/core/agents", json={"name": "A"},
                                         headers=bearer(pat["token"], other["id"]))
    assert resp.status == 403  # not a member there

    # Revoking by id (with or without the kind prefix) works too.
    assert (await admin("revoke", f"pat_{pat['id']}")).out == {"revoked": True}
    resp = await management_client.post("/core/agents", json={"name": "A"},
                                        headers=bearer(pat["token"], org["id"]))
    assert resp.status == 401
    assert (await admin("revoke", pat["id"])).err == {"detail": "not found"}


async def test_revoke_by_bare_id(admin: Any, management_client: Any) -> None:
    org = (await admin("create-org", "--name", "Acme")).out
    key = (await admin("create-api-key", "--org", org["id"], "--scopes", "agents:read")).out
    assert (await admin("revoke", key["id"])).out == {"revoked": True}
    resp = await management_client.get(f"/core/agents/{new_id()}", headers=bearer(key["token"]))
    assert resp.status == 401


async def test_bad_scopes_exit_2(admin: Any, credentials: Any, redis: Any) -> None:
    org = await credentials.create_org("Acme")
    user = await credentials.create_user("Ann")
    for command, owner in (("create-api-key", ["--org", org.id]),
                           ("create-pat", ["--user", user.id])):
        result = await admin(command, *owner, "--scopes", "agents:read,agents:admin")
        assert result.code == 2
        detail = result.err["detail"]
        assert "agents:admin" in detail and "web_widgets:manage" in detail
        result = await admin(command, *owner, "--scopes", " , ")
        assert result.code == 2
        assert "scope" in result.err["detail"]
    # Nothing was issued.
    assert [key async for key in redis.scan_iter(match="test:apikey:*")] == []
    assert [key async for key in redis.scan_iter(match="test:pat:*")] == []


async def test_unknown_org_or_user_exit_2(admin: Any, credentials: Any) -> None:
    org = await credentials.create_org("Acme")
    user = await credentials.create_user("Ann")
    missing = new_id()
    cases = [
        (("create-api-key", "--org", missing, "--scopes", "agents:read"), "organization"),
        (("create-pat", "--user", missing, "--scopes", "agents:read"), "user"),
        (("add-member", "--org", missing, "--user", user.id), "organization"),
        (("add-member", "--org", org.id, "--user", missing), "user"),
    ]
    for args, word in cases:
        result = await admin(*args)
        assert result.code == 2, args
        assert word in result.err["detail"] and missing in result.err["detail"]
    assert not await credentials.is_member(user.id, missing)


async def test_usage_errors_are_json_and_exit_2(admin: Any) -> None:
    for args in ([], ["create-org"], ["frobnicate"], ["create-api-key", "--org", "x"],
                 ["create-pat", "--user", "u", "--scopes", "agents:read", "--expires-in", "soon"],
                 ["create-pat", "--user", "u", "--scopes", "agents:read", "--expires-in", "0"]):
        result = await admin(*args)
        assert result.code == 2, args
        assert result.err["detail"]


async def test_help_prints_usage(admin: Any) -> None:
    result = await admin("--help")
    assert result.code == 0
    for command in ("create-org", "create-api-key", "create-user", "add-member", "create-pat",
                    "revoke"):
        assert command in result.stdout


async def test_redis_down_exits_1() -> None:
    result = await run_admin(f"redis://127.0.0.1:{free_port()}/0", "create-org", "--name", "A")
    assert result.code == 1
    assert "Redis unavailable" in result.err["detail"]


async def test_unknown_credential_exits_2(admin: Any) -> None:
    result = await admin("revoke", f"ak_{new_id().replace('-', '')}")
    assert result.code == 2
    assert result.err == {"detail": "not found"}


def test_readme_states_the_exit_codes_the_cli_uses() -> None:
    # The codes the tests above prove: 0 success, 2 wrong input, 1 Redis unreachable.
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Admin CLI", 1)[1].split("\n## ", 1)[0]
    text = " ".join(section.split())
    assert "exits with code 0" in text
    assert "exit with code 2 when the input is wrong" in text
    assert "code 1 when Redis cannot be reached" in text
    assert "exit code 1)" not in text  # the old, wrong claim


async def test_help_lists_every_scope_and_a_webhooks_key_works(
    admin: Any, management_client: Any
) -> None:
    """`--help` names the scopes (webhooks:manage among them), and a key with it manages
    webhook endpoints."""
    for command in ("create-api-key", "create-pat"):
        result = await admin(command, "--help")
        assert result.code == 0
        assert "webhooks:manage" in " ".join(result.stdout.split())
    org = (await admin("create-org", "--name", "Hooks")).out
    key = (await admin("create-api-key", "--org", org["id"], "--scopes", "webhooks:manage")).out
    resp = await management_client.get("/core/webhooks", headers=bearer(key["token"]))
    assert resp.status == 200 and await resp.json() == []
