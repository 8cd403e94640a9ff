"""GET /core/web-widgets: a plain array, newest first, cursor paging that never skips or repeats
a widget (even when they all share one timestamp), filters, the reference's cursor format, query
validation, and index entries whose document is missing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from common.ids import new_id
from common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from common.timeutil import iso_from_ms
from management_service import org_index, widgets_store
from tests.support.widget_helpers import create_widget, expect, issue, make_version

URL = "/core/web-widgets"
T0 = 1_700_000_000_000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The store's clock: ``clock[0]`` is now; it advances by ``clock[1]`` ms per reading."""
    state = [T0, 1]

    def now() -> int:
        value = state[0]
        state[0] += state[1]
        return value

    monkeypatch.setattr(widgets_store, "now_ms", now)
    monkeypatch.setattr(org_index, "now_ms", now)  # the dangling entries' cutoff
    return state


async def list_page(client: Any, headers: dict[str, str], **params: Any) -> tuple[list, Any]:
    resp = await client.get(URL, params={k: str(v) for k, v in params.items()}, headers=headers)
    return await expect(resp, 200), resp.headers.get("X-Next-Cursor")


async def walk(client: Any, headers: dict[str, str], **params: Any) -> list[list[str]]:
    """Every page's ids, following X-Next-Cursor to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        extra = {} if cursor is None else {"cursor": cursor}
        page, cursor = await list_page(client, headers, **params, **extra)
        pages.append([widget["id"] for widget in page])
        if cursor is None:
            return pages
        assert len(pages) < 100, "paging does not end"


async def test_empty_list(client: Any, org: Any) -> None:
    page, cursor = await list_page(client, org[1])
    assert (page, cursor) == ([], None)


async def test_newest_first_with_full_objects(
    client: Any, org: Any, pair: Any, clock: list[int]
) -> None:
    created = [await create_widget(client, org[1], pair) for _ in range(3)]
    page, cursor = await list_page(client, org[1])
    assert page == created[::-1]
    assert cursor is None


async def test_pages_over_one_shared_timestamp_never_skip_or_repeat(
    client: Any, org: Any, pair: Any, clock: list[int]
) -> None:
    clock[1] = 0  # every widget gets the same created_at
    ids = [(await create_widget(client, org[1], pair))["id"] for _ in range(123)]
    pages = await walk(client, org[1], limit=7)
    assert [len(page) for page in pages] == [7] * 17 + [4]
    flat = [widget_id for page in pages for widget_id in page]
    # Equal timestamps are ordered by id, so the order is total and stable.
    assert flat == sorted(ids, reverse=True)


async def test_pages_with_distinct_timestamps(
    client: Any, org: Any, pair: Any, clock: list[int]
) -> None:
    ids = [(await create_widget(client, org[1], pair))["id"] for _ in range(10)]
    pages = await walk(client, org[1], limit=3)
    assert pages == [ids[9:6:-1], ids[6:3:-1], ids[3:0:-1], ids[:1]]
    # An exact multiple of the limit: the last full page says there is no more.
    assert await walk(client, org[1], limit=5) == [ids[9:4:-1], ids[4::-1]]


async def test_default_and_maximum_limit(
    client: Any, org: Any, pair: Any, clock: list[int]
) -> None:
    for _ in range(DEFAULT_LIMIT + 1):
        await create_widget(client, org[1], pair)
    page, cursor = await list_page(client, org[1])
    assert len(page) == DEFAULT_LIMIT and cursor is not None
    page, cursor = await list_page(client, org[1], limit=MAX_LIMIT)
    assert len(page) == DEFAULT_LIMIT + 1 and cursor is None


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "abc", "1.5", "", "²"])
async def test_bad_limit_is_422(client: Any, org: Any, limit: str) -> None:
    resp = await client.get(URL, params={"limit": limit}, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    "cursor", ["!!!", "", base64.b64encode(b"yesterday").decode(), "a" * 5, "MTIz:"]
)
async def test_bad_cursor_is_422(client: Any, org: Any, cursor: str) -> None:
    resp = await client.get(URL, params={"cursor": cursor}, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == ["query", "cursor"]


async def test_reference_style_cursor(
    client: Any, org: Any, pair: Any, clock: list[int]
) -> None:
    """Base64 of a created_at continues with the widgets created strictly before it."""
    clock[1] = 1000
    ids = [(await create_widget(client, org[1], pair))["id"] for _ in range(5)]
    created_at = iso_from_ms(T0 + 3000)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        cursor = encode(created_at.encode()).decode()
        page, _ = await list_page(client, org[1], cursor=cursor)
        assert [widget["id"] for widget in page] == ids[2::-1]
    # A created_at between two widgets works too, with or without a fraction.
    for created_at in ("2023-11-14T22:13:21.5Z", "2023-11-14T22:13:22Z"):
        cursor = base64.b64encode(created_at.encode()).decode()
        page, _ = await list_page(client, org[1], cursor=cursor)
        assert [widget["id"] for widget in page] == ids[1::-1]


async def test_filters(client: Any, org: Any, clock: list[int]) -> None:
    headers = org[1]
    agent_a, version_a1 = await make_version(client, headers)
    _, version_a2 = await make_version(client, headers, agent_a)
    agent_b, version_b = await make_version(client, headers)
    specs = [
        ((agent_a, version_a1), True), ((agent_a, version_a2), False),
        ((agent_b, version_b), True), ((agent_a, version_a1), False),
        ((agent_b, version_b), False), ((agent_a, version_a2), True),
    ]  # fmt: skip
    widgets = [
        await create_widget(client, headers, pair, published=published)
        for pair, published in specs
    ]
    newest_first = widgets[::-1]

    async def ids(**params: Any) -> list[str]:
        pages = await walk(client, headers, limit=2, **params)
        return [widget_id for page in pages for widget_id in page]

    def expected(keep: Any) -> list[str]:
        return [widget["id"] for widget in newest_first if keep(widget)]

    assert await ids(agent_id=agent_a) == expected(lambda w: w["agent_id"] == agent_a)
    assert await ids(agent_version_id=version_b) == expected(
        lambda w: w["agent_version_id"] == version_b
    )
    assert await ids(published="true") == expected(lambda w: w["published"])
    assert await ids(published="false") == expected(lambda w: not w["published"])
    assert await ids(agent_id=agent_a, published="true") == expected(
        lambda w: w["agent_id"] == agent_a and w["published"]
    )
    assert await ids(agent_id=agent_b, agent_version_id=version_a1) == []
    assert await ids(agent_id=new_id()) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("published", "yes"), ("published", ""), ("published", "1"), ("agent_id", "abc"),
     ("agent_version_id", new_id().upper())],
)
async def test_bad_filter_is_422(client: Any, org: Any, name: str, value: str) -> None:
    resp = await client.get(URL, params={name: value}, headers=org[1])
    assert issue(await expect(resp, 422))["loc"] == ["query", name]


async def test_entries_without_a_document_are_skipped(
    client: Any, org: Any, pair: Any, org_with_key: Any, redis: Any, keys: Any,
    clock: list[int],
) -> None:
    org_id, headers = org
    index = keys.org_widgets(org_id)
    widgets = [await create_widget(client, headers, pair) for _ in range(3)]
    _, other_headers = await org_with_key()
    foreign = await create_widget(client, other_headers, await make_version(client, other_headers))

    # A create in flight (entry first, document next), an old leftover of a failed write, and an
    # entry that names another org's widget.
    in_flight = f"{clock[0]:013d}:{new_id()}"
    leftover = f"{T0 - 3_600_000:013d}:{new_id()}"
    wrong_org = f"{T0 + 1:013d}:{foreign['id']}"
    await redis.zadd(index, {in_flight: 0, leftover: 0, wrong_org: 0})

    pages = await walk(client, headers, limit=2)
    assert [widget_id for page in pages for widget_id in page] == [
        widget["id"] for widget in widgets[::-1]
    ]
    remaining = {member.decode() for member in await redis.zrange(index, 0, -1)}
    assert in_flight in remaining
    assert leftover not in remaining and wrong_org not in remaining
    assert len(remaining) == 4


@pytest.mark.parametrize(
    ("created_at", "listed"),
    [("2300-01-01T00:00:00Z", True), ("9999-12-31T23:59:59.999Z", True),
     ("1960-01-01T00:00:00Z", False), ("0001-01-01T00:00:00Z", False)],
)
async def test_reference_cursor_far_from_today_is_correct(
    client: Any, org: Any, pair: Any, created_at: str, listed: bool
) -> None:
    # Index members hold 13-digit milliseconds compared as text (issue 15 item 6).
    ids = [(await create_widget(client, org[1], pair))["id"] for _ in range(2)]
    cursor = base64.b64encode(created_at.encode()).decode()
    page, _ = await list_page(client, org[1], cursor=cursor)
    # Two widgets may share a millisecond (then the id orders them): compare as sets.
    assert sorted(widget["id"] for widget in page) == (sorted(ids) if listed else [])
