"""The /core/web-widgets create/get/delete endpoints against a real Redis: the widget's shape and
storage, validation (422 issues with their location, the domain normalization table, config
known-key checks), and body limits."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from common.ids import is_uuid, new_id
from common.timeutil import ms_from_iso
from tests.support.widget_helpers import (
    WIDGET_FIELDS,
    create_widget,
    expect,
    issue,
    make_version,
)

URL = "/core/web-widgets"


# --- create, get, delete ------------------------------------------------------------------------


async def test_create_returns_the_widget_and_stores_it(
    client: Any, org: Any, pair: Any, redis: Any, keys: Any
) -> None:
    org_id, headers = org
    widget = await create_widget(client, headers, pair)
    assert list(widget) == WIDGET_FIELDS
    assert is_uuid(widget["id"])
    assert widget["organization_id"] == org_id
    assert (widget["agent_id"], widget["agent_version_id"]) == pair
    assert (widget["domains"], widget["published"], widget["config"]) == ([], False, {})
    assert widget["created_at"] == widget["updated_at"]
    assert widget["created_at"].endswith("Z")

    # The stored document is exactly what the API returned (the runtime serves it as is).
    raw = await redis.get(keys.widget(widget["id"]))
    assert msgspec.json.decode(raw) == widget
    member = f"{ms_from_iso(widget['created_at']):013d}:{widget['id']}"
    assert await redis.zrange(keys.org_widgets(org_id), 0, -1) == [member.encode()]

    resp = await client.get(f"{URL}/{widget['id']}", headers=headers)
    assert await expect(resp, 200) == widget


async def test_create_with_every_field(client: Any, org: Any, pair: Any) -> None:
    config = {"v1": {"theme": "dark", "default_mode": "voice"}, "extra": {"kept": [1, 2]}}
    widget = await create_widget(
        client, org[1], pair, domains=["example.com"], published=True, config=config
    )
    assert widget["domains"] == ["https://example.com"]
    assert widget["published"] is True
    assert widget["config"] == config


async def test_create_ignores_read_only_fields(client: Any, org: Any, pair: Any) -> None:
    org_id, headers = org
    fake = {"id": new_id(), "organization_id": new_id(), "created_at": "2001-01-01T00:00:00Z",
            "updated_at": "2001-01-01T00:00:00Z"}
    widget = await create_widget(client, headers, pair, **fake)
    assert widget["id"] != fake["id"]
    assert widget["organization_id"] == org_id
    assert not widget["created_at"].startswith("2001")
    resp = await client.get(f"{URL}/{fake['id']}", headers=headers)
    await expect(resp, 404)


async def test_create_allows_an_unpublished_version_and_a_published_one(
    client: Any, org: Any
) -> None:
    headers = org[1]
    for published in (False, True):
        pair = await make_version(client, headers, published=published)
        widget = await create_widget(client, headers, pair)
        assert widget["agent_version_id"] == pair[1]


async def test_delete_answers_204_and_removes_document_and_index_entry(
    client: Any, org: Any, pair: Any, redis: Any, keys: Any
) -> None:
    org_id, headers = org
    widget = await create_widget(client, headers, pair)
    resp = await client.delete(f"{URL}/{widget['id']}", headers=headers)
    assert resp.status == 204
    assert await resp.read() == b""
    assert await redis.get(keys.widget(widget["id"])) is None
    assert await redis.zcard(keys.org_widgets(org_id)) == 0
    for method in ("GET", "DELETE"):
        resp = await client.request(method, f"{URL}/{widget['id']}", headers=headers)
        assert await expect(resp, 404) == {"detail": "Widget not found"}


@pytest.mark.parametrize("widget_id", ["nope", new_id(), new_id().upper(), "1" * 36])
async def test_unknown_or_malformed_id_is_404(client: Any, org: Any, widget_id: str) -> None:
    for method, body in (("GET", None), ("PUT", {"published": True}), ("DELETE", None)):
        resp = await client.request(method, f"{URL}/{widget_id}", json=body, headers=org[1])
        assert await expect(resp, 404) == {"detail": "Widget not found"}


# --- create validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "loc", "type_"),
    [
        ({"agent_id": None}, ["body", "agent_id"], "missing"),
        ({"agent_version_id": None}, ["body", "agent_version_id"], "missing"),
        ({"color": "red"}, ["body", "color"], "extra_forbidden"),
        ({"published": None}, ["body", "published"], "type_error"),
        ({"published": "yes"}, ["body", "published"], "type_error"),
        ({"domains": "example.com"}, ["body", "domains"], "type_error"),
        ({"domains": None}, ["body", "domains"], "type_error"),
        ({"config": []}, ["body", "config"], "type_error"),
        ({"config": None}, ["body", "config"], "type_error"),
        ({"agent_id": "not-a-uuid"}, ["body", "agent_id"], "value_error"),
    ],
)
async def test_create_body_validation(
    client: Any, org: Any, pair: Any, changes: dict[str, Any], loc: list[Any], type_: str
) -> None:
    body = {"agent_id": pair[0], "agent_version_id": pair[1], **changes}
    if type_ == "missing":
        del body[loc[-1]]
    resp = await client.post(URL, json=body, headers=org[1])
    found = issue(await expect(resp, 422))
    assert (found["loc"], found["type"]) == (loc, type_)


async def test_create_requires_an_agent_of_the_org_and_a_version_of_that_agent(
    client: Any, org: Any, org_with_key: Any
) -> None:
    headers = org[1]
    agent_id, version_id = await make_version(client, headers)
    other_agent, other_version = await make_version(client, headers)
    _, foreign_headers = await org_with_key()
    foreign_agent, foreign_version = await make_version(client, foreign_headers)
    cases = [
        ((new_id(), version_id), ["body", "agent_id"]),
        ((foreign_agent, foreign_version), ["body", "agent_id"]),
        ((agent_id, new_id()), ["body", "agent_version_id"]),
        ((agent_id, other_version), ["body", "agent_version_id"]),
        ((agent_id, foreign_version), ["body", "agent_version_id"]),
        ((other_agent, version_id), ["body", "agent_version_id"]),
    ]
    for (agent, version), loc in cases:
        body = {"agent_id": agent, "agent_version_id": version}
        resp = await client.post(URL, json=body, headers=headers)
        assert issue(await expect(resp, 422))["loc"] == loc, (agent, version)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["yourdomain.com"], ["https://yourdomain.com"]),
        (["http://localhost:3000"], ["http://localhost:3000"]),
        (["https://app.example.com/checkout"], ["https://app.example.com"]),
        (["https://App.Example.COM/"], ["https://app.example.com"]),
        (["https://example.com:443"], ["https://example.com"]),
        (["example.com", "https://example.com/", "EXAMPLE.com"], ["https://example.com"]),
        (["a.com", "http://a.com", "b.com"], ["https://a.com", "http://a.com", "https://b.com"]),
        ([], []),
    ],
)
async def test_domains_are_normalized(
    client: Any, org: Any, pair: Any, given: list[str], stored: list[str]
) -> None:
    widget = await create_widget(client, org[1], pair, domains=given)
    assert widget["domains"] == stored


@pytest.mark.parametrize(
    ("domains", "index"),
    [
        (["ftp://x"], 0),
        (["*.x.com"], 0),
        (["ok.com", "https://*.x.com"], 1),
        (["ok.com", "fine.org", "javascript:alert(1)"], 2),
        ([""], 0),
        (["https://user:pw@x.com"], 0),
        (["https://x.com:99999"], 0),
    ],
)
async def test_bad_domain_is_422_at_its_index(
    client: Any, org: Any, pair: Any, domains: list[str], index: int
) -> None:
    body = {"agent_id": pair[0], "agent_version_id": pair[1], "domains": domains}
    resp = await client.post(URL, json=body, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == ["body", "domains", index]


async def test_too_many_domains_is_422(client: Any, org: Any, pair: Any) -> None:
    body = {"agent_id": pair[0], "agent_version_id": pair[1],
            "domains": [f"d{i}.example.com" for i in range(101)]}
    resp = await client.post(URL, json=body, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == ["body", "domains"]


@pytest.mark.parametrize(
    ("config", "loc"),
    [
        ({"v1": {"theme": "blue"}}, ["body", "config", "v1", "theme"]),
        ({"v1": {"trigger": {"size": 5}}}, ["body", "config", "v1", "trigger", "size"]),
        ({"v1": {"chat": {"light_mode": {"text_color": {"user_message": "red"}}}}},
         ["body", "config", "v1", "chat", "light_mode", "text_color", "user_message"]),
        ({"v1": {"default_mode": "video"}}, ["body", "config", "v1", "default_mode"]),
        ({"v1": {"conversation_list": "everyone"}}, ["body", "config", "v1", "conversation_list"]),
        ({"v1": {"conversation_list": None}}, ["body", "config", "v1", "conversation_list"]),
        ({"v1": []}, ["body", "config", "v1"]),
        ({"v1": {"pre_conversation_form": {"fields": [{"id": "a", "type": "text", "label": "A"},
                                                      {"id": "a", "type": "text", "label": "B"}]
                                           }}},
         ["body", "config", "v1", "pre_conversation_form"]),
        ({"big": "x" * (65 * 1024)}, ["body", "config"]),
    ],
)
async def test_config_known_keys_are_validated(
    client: Any, org: Any, pair: Any, config: dict[str, Any], loc: list[Any]
) -> None:
    body = {"agent_id": pair[0], "agent_version_id": pair[1], "config": config}
    resp = await client.post(URL, json=body, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == loc


async def test_config_unknown_keys_are_kept_as_sent(client: Any, org: Any, pair: Any) -> None:
    config = {
        "v1": {"theme": "light", "future_option": {"a": 1}, "trigger": {"size": 64, "glow": 1}},
        "v2": {"anything": True},
    }
    widget = await create_widget(client, org[1], pair, config=config)
    assert widget["config"] == config
    resp = await client.get(f"{URL}/{widget['id']}", headers=org[1])
    assert (await expect(resp, 200))["config"] == config


async def test_body_limits_and_content_type(client: Any, org: Any, pair: Any) -> None:
    headers = org[1]
    widget = await create_widget(client, headers, pair)
    json_type = {**headers, "Content-Type": "application/json"}
    big = b'{"config": {"x": "' + b"x" * (300 * 1024) + b'"}}'
    for method, path in (("POST", URL), ("PUT", f"{URL}/{widget['id']}")):
        resp = await client.request(method, path, data=big, headers=json_type)
        assert await expect(resp, 413) == {"detail": "Request body is too large"}

        resp = await client.request(
            method, path, data=b"published=1", headers={**headers, "Content-Type": "text/plain"}
        )
        assert await expect(resp, 415) == {"detail": "Content-Type must be application/json"}

        for data in (b"{not json", b"", b"[]", b"null"):
            resp = await client.request(method, path, data=data, headers=json_type)
            assert issue(await expect(resp, 422))["loc"] == ["body"], data

    resp = await client.get(f"{URL}/{widget['id']}", headers=headers)
    assert await expect(resp, 200) == widget


ZONE_ID = "http://[fe80::1%x;frame-src https: data:]"


async def test_ipv6_zone_id_is_422_on_create_and_update(
    client: Any, org: Any, pair: Any
) -> None:
    # It once reached the iframe page's Content-Security-Policy, ";" and all (issue 15).
    body = {"agent_id": pair[0], "agent_version_id": pair[1], "domains": ["a.com", ZONE_ID]}
    resp = await client.post(URL, json=body, headers=org[1])
    problem = issue(await expect(resp, 422))
    assert problem["loc"] == ["body", "domains", 1]
    assert "zone" in problem["msg"]
    widget = await create_widget(client, org[1], pair, domains=["a.com"])
    resp = await client.put(f"{URL}/{widget['id']}", json={"domains": [ZONE_ID]}, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == ["body", "domains", 0]
    resp = await client.get(f"{URL}/{widget['id']}", headers=org[1])
    assert (await expect(resp, 200))["domains"] == ["https://a.com"]


async def test_domains_are_stored_as_browsers_send_them(
    client: Any, org: Any, pair: Any
) -> None:
    widget = await create_widget(client, org[1], pair, domains=["faß.de", "ς.com"])
    assert widget["domains"] == ["https://xn--fa-hia.de", "https://xn--3xa.com"]
