"""Widget endpoints and credentials: 401 and 403 come before 404 and 422, read-only keys read
but never write, personal tokens need the org header and membership, another organization's
widgets are invisible (404, never listed), and the readiness probe follows Redis."""

from __future__ import annotations

from typing import Any

import pytest

from common.ids import new_id
from common.redis_process import RedisProcess
from tests.support.widget_helpers import create_widget, expect, make_version

URL = "/core/web-widgets"


def _requests(widget_id: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", URL, None),
        ("POST", URL, {"bogus": 1}),
        ("GET", f"{URL}/{widget_id}", None),
        ("PUT", f"{URL}/{widget_id}", {"bogus": 1}),
        ("DELETE", f"{URL}/{widget_id}", None),
    ]


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer", "Bearer ak_0123456789abcdef0123456789abcdef.nope-nope-nope-nope-nope",
     "Basic abc"],
)
async def test_missing_or_invalid_credential_is_401_first(client: Any, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    for method, path, body in _requests(new_id()):
        resp = await client.request(method, path, json=body, headers=headers)
        await expect(resp, 401)
        assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_read_only_key_reads_but_cannot_write(
    client: Any, org: Any, pair: Any, org_with_key: Any, credentials: Any
) -> None:
    org_id, headers = org
    widget = await create_widget(client, headers, pair)
    token, _ = await credentials.issue("ak", ["web_widgets:read"], org_id=org_id)
    reader = {"Authorization": f"Bearer {token}"}
    resp = await client.get(URL, headers=reader)
    assert [w["id"] for w in await expect(resp, 200)] == [widget["id"]]
    resp = await client.get(f"{URL}/{widget['id']}", headers=reader)
    assert await expect(resp, 200) == widget
    # 403 comes before 404 and 422, whatever the id or body.
    for method, path, body in _requests(new_id()) + _requests(widget["id"]):
        if method == "GET":
            continue
        resp = await client.request(method, path, json=body, headers=reader)
        await expect(resp, 403)
    resp = await client.get(f"{URL}/{widget['id']}", headers=headers)
    assert await expect(resp, 200) == widget


async def test_agents_only_key_cannot_touch_widgets(client: Any, org_with_key: Any) -> None:
    _, headers = await org_with_key(["agents:read", "agents:manage"])
    for method, path, body in _requests(new_id()):
        resp = await client.request(method, path, json=body, headers=headers)
        await expect(resp, 403)


async def test_personal_tokens(client: Any, org: Any, pair: Any, credentials: Any) -> None:
    org_id, headers = org
    widget = await create_widget(client, headers, pair)
    user = await credentials.create_user("Ann")
    token, _ = await credentials.issue("pat", ["web_widgets:manage"], user_id=user.id)
    bearer = {"Authorization": f"Bearer {token}"}

    resp = await client.get(f"{URL}/{widget['id']}", headers=bearer)
    await expect(resp, 401)
    resp = await client.get(f"{URL}/{widget['id']}", headers={**bearer, "X-Anyreach-Org": org_id})
    await expect(resp, 403)

    await credentials.add_member(org_id, user.id)
    as_member = {**bearer, "X-Anyreach-Org": org_id}
    resp = await client.get(f"{URL}/{widget['id']}", headers=as_member)
    assert await expect(resp, 200) == widget
    resp = await client.put(f"{URL}/{widget['id']}", json={"published": True},
                            headers=as_member)
    assert (await expect(resp, 200))["published"] is True


async def test_other_orgs_widget_is_invisible(
    client: Any, org: Any, pair: Any, org_with_key: Any
) -> None:
    widget = await create_widget(client, org[1], pair)
    _, other = await org_with_key()
    other_widget = await create_widget(client, other, await make_version(client, other))

    path = f"{URL}/{widget['id']}"
    for method, body in (("GET", None), ("PUT", {"published": True}), ("DELETE", None)):
        resp = await client.request(method, path, json=body, headers=other)
        assert await expect(resp, 404) == {"detail": "Widget not found"}
    resp = await client.get(URL, headers=other)
    assert [w["id"] for w in await expect(resp, 200)] == [other_widget["id"]]

    resp = await client.get(path, headers=org[1])
    assert await expect(resp, 200) == widget


# --- readiness ------------------------------------------------------------------------------


async def test_readyz_follows_redis(client: Any, org: Any, redis_proc: RedisProcess) -> None:
    resp = await client.get("/readyz")
    assert await expect(resp, 200) == {"status": "ok"}
    redis_proc.stop()
    resp = await client.get("/readyz")
    assert (await expect(resp, 503))["detail"] == "Redis is not reachable"
    assert resp.headers["Retry-After"] == "1"
    resp = await client.get(URL, headers=org[1])
    await expect(resp, 503)
