"""The public conversation list: safe columns, filters, and cursor paging that neither skips nor
repeats, on a real redis-server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.conversation import ConversationSummary
from common.pagination import index_member
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms
from runtime_service.conversations import ConversationStore
from tests.support.seed import seed_agent_version, seed_widget

PREFIX = "/core/public/web-widgets"
BASE_MS = 1_790_000_000_000
SAFE_COLUMNS = set(ConversationSummary.__struct_fields__)


# Most tests here page through a whole widget: the seed's list, every parameter optional.
WIDGET_LIST = {"v1": {"conversation_list": "widget"}}


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    return await seed_widget(redis, keys, version, config=WIDGET_LIST)


async def add(
    store: ConversationStore, widget: Any, ms: int, user: str = "u1", status: str = "token_created"
) -> str:
    """A conversation created at ``ms`` (the store's own write path, with a chosen clock)."""
    conversation = ConversationSummary(
        id=new_id(), organization_id=widget.organization_id, direction="inbound",
        channel="webrtc", status=status, user_id=user, agent_id=widget.agent_id,
        agent_version_id=widget.agent_version_id, web_widget_id=widget.id, duration=None,
        user_turn_count=None, created_at=iso_from_ms(ms), updated_at=iso_from_ms(ms),
    )
    await store.create(conversation, ms, b'{"secret":"x"}')
    return conversation.id


@pytest.fixture
def store(redis: Redis, keys: RedisKeys) -> ConversationStore:
    # Retention long enough that BASE_MS items are not trimmed as expired.
    return ConversationStore(RedisBatch(redis), keys, retention=10 * 365 * 24 * 3600)


async def walk(client: Any, widget_id: str, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url = f"{PREFIX}/{widget_id}/conversations?{query}"
    for _ in range(100):
        resp = await client.get(url)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Cache-Control"] == "no-store"  # every page, cursor or not
        page = await resp.json()
        items += page
        cursor = resp.headers.get("X-Next-Cursor")
        if cursor is None:
            return items
        url = f"{PREFIX}/{widget_id}/conversations?{query}&cursor={cursor}"
    raise AssertionError("paging did not end")


async def test_list_is_newest_first_with_safe_columns_only(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    ids = [await add(store, widget, BASE_MS + i) for i in range(3)]
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert "X-Next-Cursor" not in resp.headers
    body = await resp.json()
    assert [item["id"] for item in body] == ids[::-1]
    assert all(set(item) == SAFE_COLUMNS for item in body)
    assert "secret" not in await resp.text()


async def test_paging_with_equal_timestamps_never_skips_or_repeats(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    ids = {await add(store, widget, BASE_MS + i // 10) for i in range(53)}  # 10 per millisecond
    items = await walk(runtime_client, widget.id, "limit=7")
    assert len(items) == 53 and {item["id"] for item in items} == ids
    keys = [(item["created_at"], item["id"]) for item in items]
    assert keys == sorted(keys, reverse=True)


async def test_filters_with_paging(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    wanted = set()
    for i in range(40):
        cid = await add(store, widget, BASE_MS + i, user=f"u{i % 2}",
                        status="completed" if i % 3 == 0 else "token_created")
        if i % 2 == 0 and i % 3 == 0:
            wanted.add(cid)
    items = await walk(runtime_client, widget.id, "user_id=u0&status=completed&limit=2")
    assert {item["id"] for item in items} == wanted and len(items) == len(wanted)


async def test_created_after_and_before_are_inclusive(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    ids = [await add(store, widget, BASE_MS + i * 1000) for i in range(5)]
    after, before = iso_from_ms(BASE_MS + 1000), iso_from_ms(BASE_MS + 3000)
    items = await walk(runtime_client, widget.id, f"created_after={after}&created_before={before}")
    assert [item["id"] for item in items] == ids[3:0:-1]


async def test_reference_style_cursor_continues_before_that_instant(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    ids = [await add(store, widget, BASE_MS + i * 1000) for i in range(4)]
    cursor = base64.b64encode(iso_from_ms(BASE_MS + 2000).encode()).decode()
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations?cursor={cursor}")
    assert [item["id"] for item in await resp.json()] == ids[1::-1]


async def test_list_is_scoped_to_the_widget(
    runtime_client: Any, widget: Any, store: ConversationStore, redis: Redis, keys: RedisKeys
) -> None:
    version = await seed_agent_version(redis, keys, new_id())
    other = await seed_widget(redis, keys, version)
    await add(store, other, BASE_MS)
    mine = await add(store, widget, BASE_MS)
    body = await (await runtime_client.get(f"{PREFIX}/{widget.id}/conversations")).json()
    assert [item["id"] for item in body] == [mine]


async def test_other_channels_are_empty(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    await add(store, widget, BASE_MS)
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations?channel=telephone")
    assert resp.status == 200 and await resp.json() == []
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations?channel=webrtc")
    assert len(await resp.json()) == 1


async def test_expired_conversations_are_skipped_and_trimmed(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    store = ConversationStore(RedisBatch(redis), keys, retention=60)
    old = await add(store, widget, BASE_MS)
    await redis.delete(keys.conversation(widget.id, old))  # as its TTL would
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations")
    assert await resp.json() == []
    new = await add(store, widget, BASE_MS + 61_000)
    members = await redis.zrange(keys.conversations_by_status(widget.id, "token_created"), 0, -1)
    assert [m.decode() for m in members] == [index_member(BASE_MS + 61_000, new)]


async def test_the_widgets_list_merges_its_status_indexes_in_order(
    runtime_client: Any, widget: Any, store: ConversationStore, redis: Redis, keys: RedisKeys
) -> None:
    """A widget has no index of its own: each conversation is in its status's index (moved there
    by the lifecycle script), and a page merges them, newest first, across pages."""
    statuses = ["token_created", "in_progress", "completed", "failed", "cancelled"] * 3
    made = []
    for n, status in enumerate(statuses):
        ms = BASE_MS + n // 2  # pairs share a millisecond: the id breaks the tie
        cid = await add(store, widget, ms)
        member = index_member(ms, cid)
        if status != "token_created":  # as conversation_lifecycle.lua moves it
            await redis.hset(keys.conversation(widget.id, cid), "s", status)
            await redis.zrem(keys.conversations_by_status(widget.id, "token_created"), member)
            await redis.zadd(keys.conversations_by_status(widget.id, status), {member: 0})
        made.append((iso_from_ms(ms), cid, status))
    items = await walk(runtime_client, widget.id, "limit=2")
    assert [(i["created_at"], i["id"], i["status"]) for i in items] == sorted(made, reverse=True)
    completed = await walk(runtime_client, widget.id, "status=completed&limit=2")
    assert [i["id"] for i in completed] == [
        cid for _, cid, status in sorted(made, reverse=True) if status == "completed"
    ]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=201", "limit=x", "status=done", "channel=fax", "created_after=yesterday",
     "created_before=2026-13-01", "cursor=%%%", "user_id=a%20b"],
)
async def test_bad_queries_are_422(runtime_client: Any, widget: Any, query: str) -> None:
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations?{query}")
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"][0] == "query"


async def test_unknown_widget_is_404(runtime_client: Any) -> None:
    resp = await runtime_client.get(f"{PREFIX}/{new_id()}/conversations")
    assert resp.status == 404
    assert json.loads(await resp.text()) == {"detail": "Widget not found"}


async def test_filters_dropping_items_among_equal_timestamps_never_skip_or_repeat(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    wanted: list[tuple[str, str]] = []
    for i in range(60):  # 20 per millisecond; status and visitor filters drop most of them
        ms = BASE_MS + i // 20
        status = "in_progress" if i % 3 == 0 else "token_created"
        cid = await add(store, widget, ms, user=f"u{i % 2}", status=status)
        if status == "in_progress" and i % 2 == 0:
            wanted.append((iso_from_ms(ms), cid))
    for query in ("status=in_progress&user_id=u0&limit=3", "status=in_progress&limit=1"):
        items = await walk(runtime_client, widget.id, query)
        ids = [item["id"] for item in items]
        assert len(ids) == len(set(ids))
        if "user_id" in query:
            assert [(item["created_at"], item["id"]) for item in items] == sorted(
                wanted, reverse=True
            )
        else:
            assert len(ids) == 20 and all(item["status"] == "in_progress" for item in items)


async def test_by_default_a_visitor_lists_only_their_own_conversations(
    runtime_client: Any, store: ConversationStore, redis: Redis, keys: RedisKeys
) -> None:
    version = await seed_agent_version(redis, keys, new_id())
    private = await seed_widget(redis, keys, version)  # no conversation_list: "visitor"
    mine = await add(store, private, BASE_MS, user="guest_me")
    await add(store, private, BASE_MS + 1, user="guest_someone_else")
    url = f"{PREFIX}/{private.id}/conversations"
    resp = await runtime_client.get(url)
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == ["query", "user_id"] and issue["type"] == "missing"
    resp = await runtime_client.get(url, params={"user_id": "guest_me"})
    assert resp.status == 200
    assert [item["id"] for item in await resp.json()] == [mine]


async def test_a_widget_wide_list_needs_no_user_id(
    runtime_client: Any, widget: Any, store: ConversationStore
) -> None:
    ids = [await add(store, widget, BASE_MS + i, user=f"guest_{i}") for i in range(3)]
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}/conversations")
    assert resp.status == 200
    assert [item["id"] for item in await resp.json()] == ids[::-1]


async def test_an_unpublished_widgets_list_is_404_like_its_get(
    runtime_client: Any, store: ConversationStore, redis: Redis, keys: RedisKeys
) -> None:
    version = await seed_agent_version(redis, keys, new_id())
    hidden = await seed_widget(redis, keys, version, published=False, config=WIDGET_LIST)
    await add(store, hidden, BASE_MS)
    assert (await runtime_client.get(f"{PREFIX}/{hidden.id}")).status == 404
    resp = await runtime_client.get(f"{PREFIX}/{hidden.id}/conversations", params={"user_id": "u1"})
    assert resp.status == 404
    assert (await resp.json())["detail"] == "Widget not found"


# --- dates outside the index's 13 digits (issue 15 item 6) -----------------------------------
# Members hold 13-digit milliseconds compared as text: 2286-11-20 and later, or before 1970,
# once made bounds that cut in the wrong place. user_id is given so the queries also hold
# where a widget lists only one visitor's conversations.

FAR = [
    # (filter, value, whether the two conversations of today are in the answer)
    ("created_after", "2300-01-01T00:00:00Z", False),
    ("created_before", "2300-01-01T00:00:00Z", True),
    ("created_after", "2286-11-20T17:46:40Z", False),
    ("created_before", "2286-11-20T17:46:40Z", True),
    ("created_after", "9999-12-31T23:59:59.999Z", False),
    ("created_before", "9999-12-31T23:59:59-14:00", True),
    ("created_after", "1960-01-01T00:00:00Z", True),
    ("created_before", "1960-01-01T00:00:00Z", False),
    ("created_after", "1969-12-31T23:59:59.999Z", True),
    ("created_before", "1969-12-31T23:59:59.999Z", False),
    ("created_after", "0001-01-01T00:00:00Z", True),
    ("created_before", "0001-01-01T00:00:00+14:00", False),
]


@pytest.mark.parametrize(("name", "value", "included"), FAR)
async def test_far_dates_filter_correctly(
    runtime_client: Any, widget: Any, store: ConversationStore, name: str, value: str,
    included: bool,
) -> None:
    ids = {await add(store, widget, BASE_MS), await add(store, widget, BASE_MS + 1)}
    query = f"user_id=u1&{name}={value.replace('+', '%2B')}"
    items = await walk(runtime_client, widget.id, query)
    assert {item["id"] for item in items} == (ids if included else set())


@pytest.mark.parametrize(
    ("instant", "included"),
    [("2300-01-01T00:00:00Z", True), ("1960-01-01T00:00:00Z", False),
     ("0001-01-01T00:00:00Z", False), ("9999-12-31T23:59:59Z", True)],
)
async def test_a_reference_cursor_far_away_continues_correctly(
    runtime_client: Any, widget: Any, store: ConversationStore, instant: str, included: bool
) -> None:
    ids = {await add(store, widget, BASE_MS)}
    cursor = base64.b64encode(instant.encode()).decode()
    items = await walk(runtime_client, widget.id, f"user_id=u1&cursor={cursor}")
    assert {item["id"] for item in items} == (ids if included else set())


@pytest.mark.parametrize("value", ["10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"])
async def test_dates_past_what_iso_8601_here_holds_are_422(
    runtime_client: Any, widget: Any, value: str
) -> None:
    resp = await runtime_client.get(
        f"{PREFIX}/{widget.id}/conversations", params={"user_id": "u1", "created_after": value}
    )
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["query", "created_after"]
