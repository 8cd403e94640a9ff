"""The management and runtime flows on a real 3-master Redis Cluster (REDIS_MODE=cluster): every
script and multi-key operation stays in one hash slot, and invalidation events published by a
script on any node reach a runtime pod subscribed on another."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from common.redis_client import subscriber_factory
from common.redis_keys import RedisKeys
from management_service.appkeys import WIDGET_ERASER
from tests.support.erasure import mentions
from tests.support.polling import eventually
from tests.support.webhooks import write_delivery
from tests.support.widget_helpers import create_widget, expect, make_version

PREFIX = "/core/public/web-widgets"
FEEDBACK_FORM = {"enabled": True, "form": {"id": "fb", "fields": [
    {"id": "rating", "type": "rating", "label": "Rating"}]}}


async def test_widget_lifecycle_and_invalidation_across_nodes(
    stack: Any, cluster: Any, prefix: str
) -> None:
    management, runtime, headers = stack
    pair = await make_version(management, headers, published=True)
    keys = RedisKeys(prefix)
    # Widgets whose keys live on every node, so events are published by scripts on each node.
    owners: dict[str, str] = {}
    while len(set(owners.values())) < 3:
        widget = await create_widget(management, headers, pair, published=True)
        owners[widget["id"]] = cluster.get_node_from_key(keys.widget(widget["id"])).name
    for widget_id in owners:
        assert (await runtime.get(f"{PREFIX}/{widget_id}")).status == 200  # now cached
    listed = await expect(await management.get("/core/web-widgets?limit=200", headers=headers), 200)
    assert {item["id"] for item in listed} == set(owners)
    for widget_id in owners:
        resp = await management.put(
            f"/core/web-widgets/{widget_id}", json={"config": {"v1": {"theme": "dark"}}},
            headers=headers,
        )
        await expect(resp, 200)

        async def served_dark(widget_id: str = widget_id) -> bool:
            body = await (await runtime.get(f"{PREFIX}/{widget_id}")).json()
            return body["config"].get("v1", {}).get("theme") == "dark"

        await eventually(served_dark, within=2.0)
    first = next(iter(owners))
    assert (await management.delete(f"/core/web-widgets/{first}", headers=headers)).status == 204

    async def gone() -> bool:
        return (await runtime.get(f"{PREFIX}/{first}")).status == 404

    await eventually(gone, within=2.0)


async def test_conversations_and_concurrent_feedback(stack: Any) -> None:
    management, runtime, headers = stack
    pair = await make_version(management, headers, published=True)
    widget = await create_widget(
        management, headers, pair, published=True,
        config={"v1": {"post_conversation_feedback": FEEDBACK_FORM}},
    )
    url = f"{PREFIX}/{widget['id']}/conversations"
    started = await expect(await runtime.post(url, json={"user_id": "u1"}), 200)
    cid = started["conversation"]["id"]
    resumed = await expect(
        await runtime.post(url, json={"user_id": "u1", "conversation_id": cid}), 200
    )
    assert resumed["connection_details"]["room"] != started["connection_details"]["room"]
    for _ in range(4):
        await expect(await runtime.post(url, json={"user_id": "u2"}), 200)
    mine = await expect(await runtime.get(f"{url}?user_id=u1"), 200)
    assert [item["id"] for item in mine] == [cid]
    page = await runtime.get(f"{url}?user_id=u2&limit=3")
    assert len(await page.json()) == 3 and page.headers["X-Next-Cursor"]

    async def submit(i: int) -> int:
        resp = await runtime.post(f"{url}/{cid}/feedback", json={"data": {"rating": 1 + i % 5}})
        return resp.status

    statuses = Counter(await asyncio.gather(*(submit(i) for i in range(100))))
    assert statuses == {200: 1, 409: 99}


async def test_subscriber_goes_round_the_cluster_nodes(
    cluster_settings: Any, cluster: Any, redis_cluster: Any
) -> None:
    await cluster.initialize()
    connect = subscriber_factory(cluster_settings("runtime"), cluster)
    ports = []
    for _ in range(4):
        client = connect()
        ports.append(client.connection_pool.connection_kwargs["port"])
        assert await client.ping()
        await client.aclose()
    assert ports[0] == redis_cluster.nodes[0].port  # the seed first
    assert set(ports[:3]) == {node.port for node in redis_cluster.nodes}
    assert ports[3] == ports[0]


async def test_erasure_across_slots(stack: Any, cluster: Any, prefix: str) -> None:
    """DELETE, erase by visitor and a deleted widget's background erasure on the cluster: each
    touches the widget's, the organization's, a due shard's and the conversation's own slots."""
    management, runtime, headers = stack
    keys = RedisKeys(prefix)
    pair = await make_version(management, headers, published=True)
    widgets = [(await create_widget(management, headers, pair, published=True))["id"]
               for _ in range(2)]

    async def start(widget_id: str, user_id: str) -> str:
        url = f"{PREFIX}/{widget_id}/conversations"
        started = await expect(await runtime.post(url, json={"user_id": user_id}), 200)
        return str(started["conversation"]["id"])

    async def erased(cid: str) -> bool:
        exempt = frozenset({keys.conversation_erased(cid), keys.events_stream()})
        return (await mentions(cluster, prefix, cid, exempt) == {}
                and bool(await cluster.exists(keys.conversation_erased(cid))))

    mine = [await start(w, "u1") for w in widgets for _ in range(2)]
    theirs = await start(widgets[0], "u2")
    report = {"summary": "Asked", "transcript": [
        {"role": "user", "text": "hi", "at": "2026-12-04T10:00:00Z"}]}
    await expect(await management.post(f"/core/conversations/{mine[0]}/report",
                                       json=report, headers=headers), 200)
    assert (await management.delete(f"/core/conversations/{mine[0]}",
                                    headers=headers)).status == 204
    assert await erased(mine[0])
    body = await expect(await management.post("/core/conversations/erase", headers=headers,
                                              json={"user_id": "u1"}), 200)
    assert body == {"erased": 3, "remaining": False}
    for cid in mine:
        assert await erased(cid)
    assert not await erased(theirs)

    assert (await management.delete(f"/core/web-widgets/{widgets[0]}",
                                    headers=headers)).status == 204
    assert await management.app[WIDGET_ERASER].run_once() >= 2
    assert await erased(theirs)
    left = [key async for key in cluster.scan_iter(match=f"{prefix}:{{w:{widgets[0]}}}:*")]
    assert left == []
async def test_webhook_endpoints_on_the_cluster(stack: Any, cluster: Any, prefix: str) -> None:
    """Endpoints on every node: create, list, rotate, test send, retry, the deliveries list (one
    MGET per page) and delete (one UNLINK per batch) each stay in one slot; widget events reach
    the stream's node."""
    management, _, headers = stack
    keys = RedisKeys(prefix)
    owners: dict[str, str] = {}
    while len(set(owners.values())) < 3:
        resp = await management.post("/core/webhooks", json={"url": "https://93.184.215.14/h"},
                                     headers=headers)
        endpoint = await expect(resp, 201)
        owners[endpoint["id"]] = cluster.get_node_from_key(keys.webhook(endpoint["id"])).name
    listed = await expect(await management.get("/core/webhooks?limit=200", headers=headers), 200)
    assert {item["id"] for item in listed} == set(owners)
    for endpoint_id in owners:
        path = f"/core/webhooks/{endpoint_id}"
        await expect(await management.post(path + "/rotate-secret", headers=headers), 200)
        await expect(await management.post(path + "/test", headers=headers), 202)
        for n in range(3):
            await write_delivery(cluster, keys, endpoint_id, f"dlv_{n}", 1_767_225_600_000 + n)
        page = await expect(await management.get(path + "/deliveries", headers=headers), 200)
        assert [d["id"] for d in page] == ["dlv_2", "dlv_1", "dlv_0"]
        await expect(await management.post(path + "/deliveries/dlv_1/retry", headers=headers),
                     202)
        assert (await management.delete(path, headers=headers)).status == 204
        assert await cluster.exists(keys.webhook_deliveries(endpoint_id),
                                    keys.webhook_delivery(endpoint_id, "dlv_0")) == 0
    pair = await make_version(management, headers, published=True)
    widget = await create_widget(management, headers, pair)
    await expect(await management.put(f"/core/web-widgets/{widget['id']}",
                                      json={"published": True}, headers=headers), 200)
    entries = await cluster.xrange(keys.events_stream())
    kinds = Counter(fields[b"type"].decode() for _, fields in entries)
    made = len(owners)
    assert kinds == {"webhook.test": made, "conversation.ended": made, "widget.updated": 1}
