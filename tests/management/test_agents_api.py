"""The /core/agents endpoints against a real Redis: shapes, numbering, version references,
publish immutability, validation (422 issues with their location), and isolation between orgs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from common.ids import is_uuid, new_id
from common.timeutil import ms_from_iso
from tests.support.widget_helpers import expect

READ_ONLY = ["agents:read"]
MANAGE = ["agents:manage"]

CONFIG = {
    "livekit_agent_name": "support-agent",
    "vision": {"enabled": True, "video_input": True, "screen_share": False},
    "prompt": {"system": "be nice"},  # unknown keys are kept as sent
}


@pytest.fixture
async def org(org_with_key: Any) -> tuple[str, dict[str, str]]:
    return await org_with_key(MANAGE)


async def create_agent(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await client.post("/core/agents", json={"name": "Support", **body}, headers=headers)
    return await expect(resp, 201)


async def create_version(
    client: Any, headers: dict[str, str], agent_id: str, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = {} if config is None else {"config": config}
    resp = await client.post(f"/core/agents/{agent_id}/versions", json=body, headers=headers)
    return await expect(resp, 201)


def issue(body: Any, index: int = 0) -> dict[str, Any]:
    assert isinstance(body["detail"], list)
    for item in body["detail"]:
        assert set(item) == {"loc", "msg", "type"}
    return body["detail"][index]


# --- agents -------------------------------------------------------------------------------------


async def test_create_agent_returns_the_agent(client: Any, org: Any) -> None:
    org_id, headers = org
    agent = await create_agent(client, headers, description="Answers questions")
    assert set(agent) == {"id", "organization_id", "name", "description", "created_at",
                          "updated_at"}
    assert is_uuid(agent["id"])
    assert agent["organization_id"] == org_id
    assert (agent["name"], agent["description"]) == ("Support", "Answers questions")
    assert agent["created_at"].endswith("Z") and agent["created_at"] == agent["updated_at"]
    ms_from_iso(agent["created_at"])

    resp = await client.get(f"/core/agents/{agent['id']}", headers=headers)
    assert await expect(resp, 200) == agent


async def test_create_agent_description_defaults_to_empty(client: Any, org: Any) -> None:
    agent = await create_agent(client, org[1])
    assert agent["description"] == ""


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({}, ["body", "name"], "missing"),
        ({"name": ""}, ["body", "name"], None),
        ({"name": 5}, ["body", "name"], "type_error"),
        ({"name": "x" * 201}, ["body", "name"], None),
        ({"name": "A", "description": "d" * 2001}, ["body", "description"], None),
        ({"name": "A", "colour": "red"}, ["body", "colour"], "extra_forbidden"),
        ([{"name": "A"}], ["body"], "type_error"),
    ],
)
async def test_create_agent_validation(
    client: Any, org: Any, body: Any, loc: list[Any], type_: str | None
) -> None:
    resp = await client.post("/core/agents", json=body, headers=org[1])
    item = issue(await expect(resp, 422))
    assert item["loc"] == loc
    assert type_ is None or item["type"] == type_
    assert item["msg"]


async def test_create_agent_invalid_json_and_missing_body(client: Any, org: Any) -> None:
    headers = {**org[1], "Content-Type": "application/json"}
    resp = await client.post("/core/agents", data=b'{"name": ', headers=headers)
    assert issue(await expect(resp, 422))["type"] == "json_invalid"
    resp = await client.post("/core/agents", data=b"", headers=headers)
    assert issue(await expect(resp, 422))["loc"] == ["body"]


async def test_non_json_content_type_is_415(client: Any, org: Any) -> None:
    headers = {**org[1], "Content-Type": "text/plain"}
    resp = await client.post("/core/agents", data=b'{"name": "A"}', headers=headers)
    body = await expect(resp, 415)
    assert "application/json" in body["detail"]
    agent = await create_agent(client, org[1])
    for method, path in [
        ("POST", f"/core/agents/{agent['id']}/versions"),
        ("PUT", f"/core/agents/{agent['id']}/versions/1"),
    ]:
        resp = await client.request(method, path, data=b"config=1", headers={
            **org[1], "Content-Type": "application/x-www-form-urlencoded"})
        await expect(resp, 415)


async def test_body_over_the_size_limit_is_413(client: Any, org: Any) -> None:
    agent = await create_agent(client, org[1])
    big = {"config": {"notes": "x" * 300_000}}
    resp = await client.post(f"/core/agents/{agent['id']}/versions", json=big, headers=org[1])
    await expect(resp, 413)


@pytest.mark.parametrize("agent_id", ["not-a-uuid", "0", new_id(), new_id().upper()])
async def test_get_unknown_or_malformed_agent_is_404(
    client: Any, org: Any, agent_id: str
) -> None:
    resp = await client.get(f"/core/agents/{agent_id}", headers=org[1])
    assert (await expect(resp, 404))["detail"] == "Agent not found"


# --- versions -----------------------------------------------------------------------------------


async def test_versions_are_numbered_and_keep_unknown_config_keys(client: Any, org: Any) -> None:
    org_id, headers = org
    agent = await create_agent(client, headers)
    first = await create_version(client, headers, agent["id"], CONFIG)
    assert set(first) == {"id", "agent_id", "organization_id", "version", "published", "config",
                          "created_at", "updated_at"}
    assert is_uuid(first["id"])
    assert (first["agent_id"], first["organization_id"]) == (agent["id"], org_id)
    assert (first["version"], first["published"], first["config"]) == (1, False, CONFIG)
    second = await create_version(client, headers, agent["id"])
    third = await create_version(client, headers, agent["id"], {"livekit_agent_name": "v3"})
    assert (second["version"], second["config"]) == (2, {})
    assert third["version"] == 3
    assert len({first["id"], second["id"], third["id"]}) == 3

    # Another agent has its own numbering.
    other = await create_agent(client, headers)
    assert (await create_version(client, headers, other["id"]))["version"] == 1


async def test_concurrent_version_creation_never_reuses_a_number(client: Any, org: Any) -> None:
    agent = await create_agent(client, org[1])
    versions = await asyncio.gather(
        *(create_version(client, org[1], agent["id"], {"n": n}) for n in range(12))
    )
    assert sorted(v["version"] for v in versions) == list(range(1, 13))
    for version in versions:
        resp = await client.get(
            f"/core/agents/{agent['id']}/versions/{version['version']}", headers=org[1]
        )
        assert (await expect(resp, 200))["config"] == version["config"]


async def test_get_version_by_number_latest_and_id(client: Any, org: Any) -> None:
    headers = org[1]
    agent = await create_agent(client, headers)
    base = f"/core/agents/{agent['id']}/versions"
    resp = await client.get(f"{base}/latest", headers=headers)
    assert (await expect(resp, 404))["detail"] == "Agent version not found"

    v1 = await create_version(client, headers, agent["id"], {"a": 1})
    v2 = await create_version(client, headers, agent["id"], {"a": 2})
    for ref, expected in [("1", v1), ("2", v2), ("latest", v2), (v1["id"], v1), ("01", v1)]:
        resp = await client.get(f"{base}/{ref}", headers=headers)
        assert await expect(resp, 200) == expected, ref


@pytest.mark.parametrize("ref", ["0", "3", "-1", "1.0", "abc", "LATEST", "²", "%C2%B2",
                                 "9999999999", "1e3"])
async def test_get_unknown_version_is_404(client: Any, org: Any, ref: str) -> None:
    agent = await create_agent(client, org[1])
    await create_version(client, org[1], agent["id"])
    await create_version(client, org[1], agent["id"])
    resp = await client.get(f"/core/agents/{agent['id']}/versions/{ref}", headers=org[1])
    await expect(resp, 404)


async def test_version_id_of_another_agent_is_404(client: Any, org: Any) -> None:
    headers = org[1]
    agent, other = await create_agent(client, headers), await create_agent(client, headers)
    foreign = await create_version(client, headers, other["id"])
    await create_version(client, headers, agent["id"])
    resp = await client.get(f"/core/agents/{agent['id']}/versions/{foreign['id']}",
                            headers=headers)
    await expect(resp, 404)
    resp = await client.get(f"/core/agents/{agent['id']}/versions/{new_id()}", headers=headers)
    await expect(resp, 404)


@pytest.mark.parametrize("agent_id", ["nope", new_id()])
async def test_version_routes_of_unknown_agent_are_404(
    client: Any, org: Any, agent_id: str
) -> None:
    headers = org[1]
    base = f"/core/agents/{agent_id}/versions"
    await expect(await client.post(base, json={"config": {}}, headers=headers), 404)
    await expect(await client.get(f"{base}/1", headers=headers), 404)
    await expect(await client.put(f"{base}/1", json={"config": {}}, headers=headers), 404)
    await expect(await client.post(f"{base}/1/publish", headers=headers), 404)


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({"config": {"livekit_agent_name": "has spaces"}},
         ["body", "config", "livekit_agent_name"], None),
        ({"config": {"livekit_agent_name": ""}},
         ["body", "config", "livekit_agent_name"], None),
        ({"config": {"livekit_agent_name": 7}},
         ["body", "config", "livekit_agent_name"], "type_error"),
        ({"config": {"vision": {"enabled": "yes"}}},
         ["body", "config", "vision", "enabled"], "type_error"),
        ({"config": {"vision": None}}, ["body", "config", "vision"], "type_error"),
        ({"config": []}, ["body", "config"], "type_error"),
        ({"config": None}, ["body", "config"], "type_error"),
        ({"config": {}, "base_version": 1}, ["body", "base_version"], "extra_forbidden"),
    ],
)
async def test_version_config_validation(
    client: Any, org: Any, body: dict[str, Any], loc: list[Any], type_: str | None
) -> None:
    headers = org[1]
    agent = await create_agent(client, headers)
    base = f"/core/agents/{agent['id']}/versions"
    item = issue(await expect(await client.post(base, json=body, headers=headers), 422))
    assert item["loc"] == loc
    assert type_ is None or item["type"] == type_
    # Nothing was stored: the next version is still number 1.
    assert (await create_version(client, headers, agent["id"]))["version"] == 1

    item = issue(await expect(await client.put(f"{base}/1", json=body, headers=headers), 422))
    assert item["loc"] == loc
    assert type_ is None or item["type"] == type_
    resp = await client.get(f"{base}/1", headers=headers)
    assert (await expect(resp, 200))["config"] == {}


async def test_update_version_replaces_config(client: Any, org: Any) -> None:
    headers = org[1]
    agent = await create_agent(client, headers)
    created = await create_version(client, headers, agent["id"], CONFIG)
    path = f"/core/agents/{agent['id']}/versions/{created['id']}"
    new_config = {"livekit_agent_name": "sales", "extra": [1, 2]}
    updated = await expect(await client.put(path, json={"config": new_config}, headers=headers),
                           200)
    assert updated["config"] == new_config
    assert (updated["id"], updated["version"], updated["created_at"]) == (
        created["id"], created["version"], created["created_at"])
    assert ms_from_iso(updated["updated_at"]) >= ms_from_iso(created["updated_at"])
    assert await expect(await client.get(path, headers=headers), 200) == updated


async def test_update_with_empty_body_is_a_no_op(client: Any, org: Any) -> None:
    headers = org[1]
    agent = await create_agent(client, headers)
    created = await create_version(client, headers, agent["id"], CONFIG)
    path = f"/core/agents/{agent['id']}/versions/latest"
    assert await expect(await client.put(path, json={}, headers=headers), 200) == created
    await expect(await client.post(f"{path}/publish", headers=headers), 200)
    # Still a no-op (not a 400) once published: nothing is being changed.
    resp = await client.put(path, json={}, headers=headers)
    assert (await expect(resp, 200))["published"] is True


async def test_publish_makes_the_version_immutable(client: Any, org: Any) -> None:
    headers = org[1]
    agent = await create_agent(client, headers)
    v1 = await create_version(client, headers, agent["id"], CONFIG)
    v2 = await create_version(client, headers, agent["id"], {"draft": True})
    base = f"/core/agents/{agent['id']}/versions"

    published = await expect(await client.post(f"{base}/1/publish", headers=headers), 200)
    assert published["published"] is True
    assert {k: v for k, v in published.items() if k not in ("published", "updated_at")} == {
        k: v for k, v in v1.items() if k not in ("published", "updated_at")}

    # Idempotent: publishing again answers the same version unchanged.
    again = await client.post(f"{base}/{v1['id']}/publish", json={"ignored": 1}, headers=headers)
    assert await expect(again, 200) == published

    resp = await client.put(f"{base}/1", json={"config": {"livekit_agent_name": "x"}},
                            headers=headers)
    assert (await expect(resp, 400))["detail"] == "A published version is immutable"
    assert await expect(await client.get(f"{base}/1", headers=headers), 200) == published

    # Other versions are untouched and still editable.
    resp = await client.get(f"{base}/2", headers=headers)
    assert (await expect(resp, 200))["published"] is False
    resp = await client.put(f"{base}/{v2['id']}", json={"config": {"v": 2}}, headers=headers)
    assert (await expect(resp, 200))["config"] == {"v": 2}


async def test_concurrent_edits_and_publish_never_unpublish(client: Any, org: Any) -> None:
    """Edits racing a publish either land before it (200) or are refused (400); none is lost
    silently and none flips the version back to a draft."""
    headers = org[1]
    agent = await create_agent(client, headers)
    await create_version(client, headers, agent["id"], {"n": -1})
    path = f"/core/agents/{agent['id']}/versions/1"
    puts = [client.put(path, json={"config": {"n": n}}, headers=headers) for n in range(4)]
    responses = await asyncio.gather(client.post(f"{path}/publish", headers=headers), *puts)
    assert responses[0].status == 200
    statuses = [resp.status for resp in responses[1:]]
    assert set(statuses) <= {200, 400}
    bodies = [await resp.json() for resp in responses[1:]]
    final = await expect(await client.get(path, headers=headers), 200)
    assert final["published"] is True
    accepted = [body["config"] for body in bodies if "config" in body]
    assert final["config"] in [*accepted, {"n": -1}]


# --- access -------------------------------------------------------------------------------------


async def test_other_org_sees_nothing(client: Any, org_with_key: Any) -> None:
    _, a_headers = await org_with_key(MANAGE)
    _, b_headers = await org_with_key(["agents:read", "agents:manage"])
    agent = await create_agent(client, a_headers)
    version = await create_version(client, a_headers, agent["id"], CONFIG)
    base = f"/core/agents/{agent['id']}"

    await expect(await client.get(base, headers=b_headers), 404)
    for ref in ("1", "latest", version["id"]):
        await expect(await client.get(f"{base}/versions/{ref}", headers=b_headers), 404)
        resp = await client.put(f"{base}/versions/{ref}", json={"config": {}}, headers=b_headers)
        await expect(resp, 404)
        resp = await client.put(f"{base}/versions/{ref}", json={}, headers=b_headers)
        await expect(resp, 404)
        await expect(await client.post(f"{base}/versions/{ref}/publish", headers=b_headers), 404)
    resp = await client.post(f"{base}/versions", json={"config": {}}, headers=b_headers)
    await expect(resp, 404)

    # Org A's data is exactly as it was.
    resp = await client.get(f"{base}/versions/latest", headers=a_headers)
    assert await expect(resp, 200) == version


ROUTES = [
    ("POST", "/core/agents", True),
    ("GET", "/core/agents/{id}", False),
    ("POST", "/core/agents/{id}/versions", True),
    ("GET", "/core/agents/{id}/versions/1", False),
    ("PUT", "/core/agents/{id}/versions/1", True),
    ("POST", "/core/agents/{id}/versions/1/publish", True),
]


@pytest.mark.parametrize(("method", "path", "write"), ROUTES)
async def test_every_route_needs_a_credential_and_the_right_scope(
    client: Any, org_with_key: Any, method: str, path: str, write: bool
) -> None:
    _, manage = await org_with_key(MANAGE)
    _, read_only = await org_with_key(READ_ONLY)
    _, widgets_only = await org_with_key(["web_widgets:read", "web_widgets:manage"])
    url = path.format(id=new_id())
    body = {"name": "A"} if url == "/core/agents" else {"config": {}}

    resp = await client.request(method, url, json=body)
    await expect(resp, 401)
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    await expect(await client.request(method, url, json=body, headers=widgets_only), 403)
    # With the scope, the request gets past authorization (201 create, else 404: unknown agent).
    expected = 201 if url == "/core/agents" else 404
    await expect(await client.request(method, url, json=body, headers=manage), expected)
    resp = await client.request(method, url, json=body, headers=read_only)
    await expect(resp, 403 if write else expected)
