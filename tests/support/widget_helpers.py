"""Helpers shared by the widget API tests: agents and versions through the agents API, widgets
through the widgets API, and response checks."""

from __future__ import annotations

from typing import Any

WIDGET_FIELDS = [
    "id", "organization_id", "agent_id", "agent_version_id", "domains", "published", "config",
    "created_at", "updated_at",
]  # fmt: skip


async def expect(resp: Any, status: int) -> Any:
    """The JSON body, after checking the status (and the error shape for errors)."""
    body = await resp.json()
    assert resp.status == status, body
    assert resp.content_type == "application/json"
    if status >= 400:
        assert set(body) == {"detail"}
    return body


def issue(body: Any, index: int = 0) -> dict[str, Any]:
    assert isinstance(body["detail"], list), body
    for item in body["detail"]:
        assert set(item) == {"loc", "msg", "type"}
    return body["detail"][index]


async def make_agent(client: Any, headers: dict[str, str]) -> str:
    resp = await client.post("/core/agents", json={"name": "Support"}, headers=headers)
    return (await expect(resp, 201))["id"]


async def make_version(
    client: Any, headers: dict[str, str], agent_id: str | None = None, *, published: bool = False
) -> tuple[str, str]:
    """``(agent_id, version_id)`` of a new version (of a new agent unless one is given)."""
    agent_id = agent_id or await make_agent(client, headers)
    resp = await client.post(
        f"/core/agents/{agent_id}/versions",
        json={"config": {"livekit_agent_name": "support-agent"}},
        headers=headers,
    )
    version = await expect(resp, 201)
    if published:
        resp = await client.post(
            f"/core/agents/{agent_id}/versions/{version['version']}/publish", headers=headers
        )
        await expect(resp, 200)
    return agent_id, version["id"]


async def create_widget(
    client: Any, headers: dict[str, str], pair: tuple[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"agent_id": pair[0], "agent_version_id": pair[1], **fields}
    resp = await client.post("/core/web-widgets", json=body, headers=headers)
    return await expect(resp, 201)
