"""Authentication and authorization on the management API, through the agents routes: which
credential gets 401, which gets 403, which gets in; and that Redis never holds a secret."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from common.ids import new_id
from common.timeutil import now_ms
from management_service.auth import EXPECTED_AUTHORIZATION
from management_service.credentials import CredentialStore

READ_PATH = f"/core/agents/{new_id()}"  # an unknown agent: 404 once past auth
AGENTS = ["agents:read", "agents:manage"]


def bearer(token: str, org: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if org is not None:
        headers["X-Anyreach-Org"] = org
    return headers


async def status_of(client: Any, headers: dict[str, str], method: str = "GET",
                    path: str = READ_PATH, json: Any = None) -> tuple[int, Any]:
    """Status and body; every error must be exactly ``{"detail": ...}`` JSON."""
    resp = await client.request(method, path, headers=headers, json=json)
    assert resp.content_type == "application/json"
    body = await resp.json()
    if resp.status >= 400:
        assert set(body) == {"detail"}, body
        assert body["detail"]
    if resp.status == 401:
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    return resp.status, body


async def new_key(
    credentials: CredentialStore, scopes: list[str], **kwargs: Any
) -> tuple[str, str]:
    org = await credentials.create_org("Acme")
    token, _ = await credentials.issue("ak", scopes, org_id=org.id, **kwargs)
    return org.id, token


async def member_pat(credentials: CredentialStore, scopes: list[str]) -> tuple[str, str]:
    org = await credentials.create_org("Acme")
    user = await credentials.create_user("Ann")
    await credentials.add_member(org.id, user.id)
    token, _ = await credentials.issue("pat", scopes, user_id=user.id)
    return org.id, token


# --- 401 ----------------------------------------------------------------------------------------


async def test_no_authorization_header_is_401(client: Any) -> None:
    status, body = await status_of(client, {})
    assert status == 401
    assert body["detail"] == "Not authenticated"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token {token}", "{token}",
                                    "Bearer", "Bearer ", "Bearer{token}"])
async def test_non_bearer_scheme_is_401(
    client: Any, credentials: CredentialStore, header: str
) -> None:
    _, token = await new_key(credentials, AGENTS)
    status, body = await status_of(client, {"Authorization": header.format(token=token)})
    assert status == 401
    # It says what is expected (issue 15): "Not authenticated" alone left users guessing.
    assert body["detail"] == EXPECTED_AUTHORIZATION
    assert "Bearer <credential>" in body["detail"]
    # The same token as a Bearer gets in, so the scheme is what was refused.
    assert (await status_of(client, bearer(token)))[0] == 404


async def test_bearer_scheme_is_case_insensitive(client: Any, credentials: CredentialStore) -> None:
    _, token = await new_key(credentials, AGENTS)
    assert (await status_of(client, {"Authorization": f"bearer {token}"}))[0] == 404


@pytest.mark.parametrize("token", [
    "garbage", "ak_", "ak_nope.secret", "xx_" + "a" * 32 + "." + "b" * 43,
    "ak_" + "A" * 32 + "." + "b" * 43, "ak_" + "a" * 32 + "." + "b" * 10,
    "ak_" + "a" * 32, "ak_" + "a" * 32 + ".bad secret!",
])
async def test_malformed_token_is_401(client: Any, token: str) -> None:
    status, body = await status_of(client, bearer(token))
    assert status == 401
    assert body["detail"] == "Invalid or expired credentials"


@pytest.mark.parametrize("kind", ["ak", "pat"])
async def test_unknown_id_is_401(client: Any, credentials: CredentialStore, kind: str) -> None:
    org_id, _ = await new_key(credentials, AGENTS)
    unknown = f"{kind}_{new_id().replace('-', '')}.{'s' * 43}"
    assert (await status_of(client, bearer(unknown, org_id if kind == "pat" else None)))[0] == 401


async def test_right_id_wrong_secret_is_401(client: Any, credentials: CredentialStore) -> None:
    _, token = await new_key(credentials, AGENTS)
    prefix, secret = token.split(".")
    wrong = "A" * len(secret) if secret != "A" * len(secret) else "B" * len(secret)
    assert (await status_of(client, bearer(f"{prefix}.{wrong}")))[0] == 401
    # A pat_ prefix on an ak_ id is another credential altogether.
    assert (await status_of(client, bearer("pat_" + token.removeprefix("ak_"))))[0] == 401


async def test_revoked_credential_is_401(client: Any, credentials: CredentialStore) -> None:
    _, token = await new_key(credentials, AGENTS)
    assert (await status_of(client, bearer(token)))[0] == 404
    assert await credentials.revoke(token)
    assert (await status_of(client, bearer(token)))[0] == 401

    org_id, pat = await member_pat(credentials, AGENTS)
    assert (await status_of(client, bearer(pat, org_id)))[0] == 404
    assert await credentials.revoke(pat.split(".")[0])  # by id, as the admin CLI allows
    assert (await status_of(client, bearer(pat, org_id)))[0] == 401


async def test_expired_credential_is_401(client: Any, credentials: CredentialStore) -> None:
    _, expired = await new_key(credentials, AGENTS, expires_at_ms=now_ms() - 1000)
    assert (await status_of(client, bearer(expired)))[0] == 401
    _, valid = await new_key(credentials, AGENTS, expires_at_ms=now_ms() + 60_000)
    assert (await status_of(client, bearer(valid)))[0] == 404


async def test_pat_without_org_header_is_401(client: Any, credentials: CredentialStore) -> None:
    _, pat = await member_pat(credentials, AGENTS)
    for headers in (bearer(pat), {**bearer(pat), "X-Anyreach-Org": ""}):
        status, body = await status_of(client, headers)
        assert status == 401
        assert body["detail"] == "Token is missing organization claim."


# --- 403 ----------------------------------------------------------------------------------------


async def test_pat_for_an_org_the_user_is_not_in_is_403(
    client: Any, credentials: CredentialStore
) -> None:
    _, pat = await member_pat(credentials, AGENTS)
    other = await credentials.create_org("Other")
    assert (await status_of(client, bearer(pat, other.id)))[0] == 403
    # An org that does not exist looks exactly the same.
    status, body = await status_of(client, bearer(pat, new_id()))
    assert status == 403
    assert body == (await status_of(client, bearer(pat, other.id)))[1]


@pytest.mark.parametrize("org", ["not-a-uuid", "*", "{o:x}", new_id().upper()])
async def test_pat_with_a_non_uuid_org_is_403(
    client: Any, credentials: CredentialStore, org: str
) -> None:
    _, pat = await member_pat(credentials, AGENTS)
    assert (await status_of(client, bearer(pat, org)))[0] == 403


async def test_pat_of_a_member_with_the_scope_gets_in(
    client: Any, credentials: CredentialStore
) -> None:
    org_id, pat = await member_pat(credentials, AGENTS)
    status, agent = await status_of(client, bearer(pat, org_id), "POST", "/core/agents",
                                    {"name": "Support"})
    assert status == 201
    assert agent["organization_id"] == org_id
    status, body = await status_of(client, bearer(pat, org_id), path=f"/core/agents/{agent['id']}")
    assert (status, body) == (200, agent)


async def test_pat_acts_in_the_org_it_names(client: Any, credentials: CredentialStore) -> None:
    """A user in two orgs sees each org's agents only with that org's header."""
    org_a, pat = await member_pat(credentials, AGENTS)
    org_b = await credentials.create_org("B")
    user_id = (await credentials.verify(pat)).user_id  # type: ignore[union-attr]
    await credentials.add_member(org_b.id, user_id)
    _, agent = await status_of(client, bearer(pat, org_a), "POST", "/core/agents", {"name": "A"})
    path = f"/core/agents/{agent['id']}"
    assert (await status_of(client, bearer(pat, org_a), path=path))[0] == 200
    assert (await status_of(client, bearer(pat, org_b.id), path=path))[0] == 404


async def test_pat_of_a_member_without_the_scope_is_403(
    client: Any, credentials: CredentialStore
) -> None:
    org_id, pat = await member_pat(credentials, ["web_widgets:manage"])
    assert (await status_of(client, bearer(pat, org_id)))[0] == 403


async def test_read_only_key_cannot_write(client: Any, credentials: CredentialStore) -> None:
    _, token = await new_key(credentials, ["agents:read"])
    assert (await status_of(client, bearer(token)))[0] == 404  # reading is allowed
    status, body = await status_of(client, bearer(token), "POST", "/core/agents", {"name": "A"})
    assert status == 403
    assert "agents:manage" in body["detail"]


async def test_manage_scope_alone_can_read(client: Any, credentials: CredentialStore) -> None:
    _, token = await new_key(credentials, ["agents:manage"])
    assert (await status_of(client, bearer(token)))[0] == 404


async def test_widget_scopes_do_not_reach_agents(client: Any, credentials: CredentialStore) -> None:
    _, token = await new_key(credentials, ["web_widgets:read", "web_widgets:manage"])
    status, body = await status_of(client, bearer(token))
    assert status == 403
    assert "agents:read" in body["detail"]


async def test_api_key_with_org_header(client: Any, credentials: CredentialStore) -> None:
    org_id, token = await new_key(credentials, AGENTS)
    other = await credentials.create_org("Other")
    assert (await status_of(client, bearer(token, other.id)))[0] == 403
    assert (await status_of(client, bearer(token, "not-a-uuid")))[0] == 403
    status, agent = await status_of(client, bearer(token, org_id), "POST", "/core/agents",
                                    {"name": "A"})
    assert status == 201
    assert agent["organization_id"] == org_id


async def test_auth_is_checked_before_the_body(client: Any, credentials: CredentialStore) -> None:
    resp = await client.post("/core/agents", data=b"not json",
                             headers={"Content-Type": "text/plain"})
    assert resp.status == 401
    _, token = await new_key(credentials, ["agents:read"])
    resp = await client.post("/core/agents", data=b"not json",
                             headers={**bearer(token), "Content-Type": "text/plain"})
    assert resp.status == 403


# --- storage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ak", "pat"])
async def test_redis_holds_only_a_hash_of_the_secret(
    credentials: CredentialStore, redis: Any, kind: str
) -> None:
    org = await credentials.create_org("Acme")
    user = await credentials.create_user("Ann")
    owner = {"org_id": org.id} if kind == "ak" else {"user_id": user.id}
    token, credential = await credentials.issue(kind, AGENTS, **owner)  # type: ignore[arg-type]
    secret = token.split(".", 1)[1]
    stored = b""
    async for key in redis.scan_iter(match="test:*"):
        if await redis.type(key) == b"string":
            stored += await redis.get(key)
    assert credential.id.encode() in stored
    assert secret.encode() not in stored
    assert token.encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
