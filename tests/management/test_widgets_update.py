"""PUT /core/web-widgets/{id}: each field alone replaces only itself, `config` is replaced whole,
a changed agent/version pair is validated as on create, `{}` writes nothing, and concurrent
updates neither lose a change nor hang (409 after repeated conflicts)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from common.ids import new_id
from common.models.widget import WidgetUpdate
from management_service import widgets_store
from management_service.widgets_store import WidgetStore
from tests.support.widget_helpers import create_widget, expect, issue, make_version

URL = "/core/web-widgets"
CONFIG = {"v1": {"theme": "dark", "trigger": {"size": 64}}, "custom": {"a": 1}}


@pytest.fixture(autouse=True)
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store timestamp is 1 ms after the previous one, so updated_at visibly moves."""
    ticks = itertools.count(1_700_000_000_000)
    monkeypatch.setattr(widgets_store, "now_ms", lambda: next(ticks))


@pytest.fixture
async def widget(client: Any, org: Any) -> dict[str, Any]:
    pair = await make_version(client, org[1])
    return await create_widget(
        client, org[1], pair, domains=["example.com"], published=False, config=CONFIG
    )


async def put(client: Any, headers: dict[str, str], widget_id: str, body: Any) -> Any:
    return await client.put(f"{URL}/{widget_id}", json=body, headers=headers)


async def stored(redis: Any, keys: Any, widget_id: str) -> bytes:
    return await redis.get(keys.widget(widget_id))


async def test_each_field_alone_replaces_only_itself(
    client: Any, org: Any, widget: dict[str, Any]
) -> None:
    headers = org[1]
    same_agent_version = (await make_version(client, headers, widget["agent_id"]))[1]
    other_agent, other_version = await make_version(client, headers)
    changes = [
        {"agent_version_id": same_agent_version},
        {"agent_id": other_agent, "agent_version_id": other_version},
        {"domains": ["http://localhost:3000", "shop.example.com/cart"]},
        {"published": True},
        {"config": {"v1": {"theme": "light"}}},
    ]
    for change in changes:
        resp = await put(client, headers, widget["id"], change)
        updated = await expect(resp, 200)
        expected = {**widget, **change}
        if "domains" in change:
            expected["domains"] = ["http://localhost:3000", "https://shop.example.com"]
        assert updated["updated_at"] > widget["updated_at"]
        assert {**updated, "updated_at": None} == {**expected, "updated_at": None}, change
        resp = await client.get(f"{URL}/{widget['id']}", headers=headers)
        assert await expect(resp, 200) == updated
        widget = updated


async def test_config_is_replaced_not_merged(client: Any, org: Any, widget: Any) -> None:
    new = {"v1": {"default_mode": "voice"}}
    resp = await put(client, org[1], widget["id"], {"config": new})
    assert (await expect(resp, 200))["config"] == new
    resp = await put(client, org[1], widget["id"], {"config": {}})
    assert (await expect(resp, 200))["config"] == {}


async def test_empty_body_is_a_no_op(
    client: Any, org: Any, widget: Any, redis: Any, keys: Any
) -> None:
    before = await stored(redis, keys, widget["id"])
    read_only = {"id": new_id(), "organization_id": new_id(), "created_at": "x", "updated_at": 1}
    for body in ({}, read_only):
        resp = await put(client, org[1], widget["id"], body)
        assert await expect(resp, 200) == widget
        assert await stored(redis, keys, widget["id"]) == before


async def test_a_read_widget_can_be_sent_back(client: Any, org: Any, widget: Any) -> None:
    resp = await put(client, org[1], widget["id"], {**widget, "published": True})
    updated = await expect(resp, 200)
    assert updated == {**widget, "published": True, "updated_at": updated["updated_at"]}


@pytest.mark.parametrize(
    "field", ["agent_id", "agent_version_id", "domains", "published", "config"]
)
async def test_null_is_not_a_value(
    client: Any, org: Any, widget: Any, redis: Any, keys: Any, field: str
) -> None:
    before = await stored(redis, keys, widget["id"])
    resp = await put(client, org[1], widget["id"], {field: None})
    assert issue(await expect(resp, 422))["loc"] == ["body", field]
    assert await stored(redis, keys, widget["id"]) == before


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"domains": ["ok.com", "ftp://x"]}, ["body", "domains", 1]),
        ({"config": {"v1": {"theme": "blue"}}}, ["body", "config", "v1", "theme"]),
        ({"unknown": 1}, ["body", "unknown"]),
        ({"published": "true"}, ["body", "published"]),
        ({"agent_id": "x"}, ["body", "agent_id"]),
    ],
)
async def test_invalid_values_are_422_and_change_nothing(
    client: Any, org: Any, widget: Any, redis: Any, keys: Any, body: Any, loc: list[Any]
) -> None:
    before = await stored(redis, keys, widget["id"])
    resp = await put(client, org[1], widget["id"], body)
    assert issue(await expect(resp, 422))["loc"] == loc
    assert await stored(redis, keys, widget["id"]) == before


async def test_changed_agent_pair_is_validated(
    client: Any, org: Any, widget: Any, org_with_key: Any, redis: Any, keys: Any
) -> None:
    headers = org[1]
    other_agent, other_version = await make_version(client, headers)
    _, foreign = await org_with_key()
    foreign_agent, foreign_version = await make_version(client, foreign)
    cases = [
        # The stored version is not one of the new agent's versions: blame the agent.
        ({"agent_id": other_agent}, ["body", "agent_id"]),
        ({"agent_id": new_id()}, ["body", "agent_id"]),
        ({"agent_id": foreign_agent}, ["body", "agent_id"]),
        ({"agent_version_id": other_version}, ["body", "agent_version_id"]),
        ({"agent_version_id": new_id()}, ["body", "agent_version_id"]),
        ({"agent_id": foreign_agent, "agent_version_id": foreign_version}, ["body", "agent_id"]),
        ({"agent_id": widget["agent_id"], "agent_version_id": other_version},
         ["body", "agent_version_id"]),
    ]
    before = await stored(redis, keys, widget["id"])
    for body, loc in cases:
        resp = await put(client, headers, widget["id"], body)
        assert issue(await expect(resp, 422))["loc"] == loc, body
    assert await stored(redis, keys, widget["id"]) == before


async def test_concurrent_updates_all_apply(client: Any, org: Any, widget: Any) -> None:
    """Compare-and-set with retries: no concurrent change to another field is lost."""
    headers = org[1]
    for round_ in range(4):
        changes = [
            {"published": round_ % 2 == 0},
            {"domains": [f"r{round_}.example.com"]},
            {"config": {"round": round_}},
        ]
        results = await asyncio.gather(
            *(put(client, headers, widget["id"], change) for change in changes)
        )
        for resp in results:
            await expect(resp, 200)
        resp = await client.get(f"{URL}/{widget['id']}", headers=headers)
        final = await expect(resp, 200)
        assert final["published"] is (round_ % 2 == 0)
        assert final["domains"] == [f"https://r{round_}.example.com"]
        assert final["config"] == {"round": round_}


async def test_a_burst_of_writes_to_one_widget_all_succeed(
    client: Any, org: Any, widget: Any
) -> None:
    """Writers of one widget in one pod take turns: none loses the compare-and-set race."""
    headers = org[1]
    results = await asyncio.gather(
        *(put(client, headers, widget["id"], {"config": {"n": n}}) for n in range(40))
    )
    assert [resp.status for resp in results] == [200] * 40
    final = await expect(await client.get(f"{URL}/{widget['id']}", headers=headers), 200)
    assert final["config"]["n"] in range(40)


async def test_a_burst_of_writes_to_one_widget_reads_it_once(
    client: Any, org: Any, widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each writer that waited takes the previous writer's bytes as the stored value."""
    reads = 0
    read = WidgetStore._read

    async def counted(self: WidgetStore, widget_id: str) -> bytes | None:
        nonlocal reads
        reads += 1
        return await read(self, widget_id)

    monkeypatch.setattr(WidgetStore, "_read", counted)
    results = await asyncio.gather(
        *(put(client, org[1], widget["id"], {"config": {"n": n}}) for n in range(20))
    )
    assert [resp.status for resp in results] == [200] * 20
    assert reads == 1
    answers = [(await resp.json())["config"]["n"] for resp in results]
    final = await expect(await client.get(f"{URL}/{widget['id']}", headers=org[1]), 200)
    assert final["config"]["n"] == answers[-1]


async def test_a_guess_another_pod_made_stale_is_read_again(
    widget: Any, redis: Any, keys: Any
) -> None:
    """The guess is checked by the compare-and-set: another pod's write in between is kept."""
    pod_a, pod_b = WidgetStore(redis, keys), WidgetStore(redis, keys)
    org_id, widget_id = widget["organization_id"], widget["id"]
    ours = await pod_a._update(org_id, widget_id, {"published": True}, widgets_store.Turns())
    assert ours is not None
    await pod_b.update(org_id, widget_id, WidgetUpdate(domains=["b.example.com"]))
    async with pod_a._writers.hold(widget_id) as turns:
        turns.written = ours  # what pod A wrote last, stale now
        stored = await pod_a._update(org_id, widget_id, {"config": {"a": 1}}, turns)
    assert stored is not None
    final = json.loads(stored)
    assert (final["published"], final["domains"], final["config"]) == (
        True, ["https://b.example.com"], {"a": 1}
    )
    assert await redis.get(keys.widget(widget_id)) == stored


async def test_repeated_conflicts_answer_409(
    client: Any, org: Any, widget: Any, redis: Any, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that always loses the compare-and-set gives up with 409 and writes nothing."""
    key = keys.widget(widget["id"])
    stale = await redis.get(key)
    await redis.set(key, stale.replace(b'"published":false', b'"published":true'))
    current = await redis.get(key)
    reads = 0

    async def stale_read(self: WidgetStore, widget_id: str) -> bytes:
        nonlocal reads
        reads += 1
        return stale

    monkeypatch.setattr(WidgetStore, "_read", stale_read)
    resp = await put(client, org[1], widget["id"], {"domains": []})
    assert (await expect(resp, 409))["detail"] == "The widget was modified concurrently; retry"
    resp = await client.delete(f"{URL}/{widget['id']}", headers=org[1])
    await expect(resp, 409)
    assert reads == 2 * widgets_store._ATTEMPTS
    assert await redis.get(key) == current
