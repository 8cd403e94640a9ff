"""The owner's conversations API, read side (GET /core/conversations and .../{id}), on a real
redis-server and on the 3-master cluster: the scopes and the columns they show, every filter
and their combinations, the index choice, paging among equal timestamps (also when the walk's
budget cuts a page short), dangling index entries, and the query's validation.

Conversations are started through the real runtime where the test is about one conversation;
for volume and exact timestamps they are written by the runtime's own create path
(``ConversationStore.create``) and moved through their statuses by the lifecycle script."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import common.pagination as pagination
import management_service.conversations_store as conversations_store
from common.ids import new_id
from common.lifecycle.lifecycle import Lifecycle, WebhookFact
from common.models.conversation import ConversationSummary
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms
from management_service.appkeys import CREDENTIALS
from management_service.conversation_query import contains
from runtime_service.app import create_app as create_runtime
from runtime_service.conversations import ConversationStore
from tests.support.seed import FEEDBACK_CONFIG
from tests.support.settings import ALL_SCOPES
from tests.support.widget_helpers import create_widget, expect, issue, make_version

PREFIX = "/core/public/web-widgets"
LIST = "/core/conversations"
SAFE = {
    "id", "organization_id", "direction", "channel", "status", "user_id", "agent_id",
    "agent_version_id", "web_widget_id", "duration", "user_turn_count", "created_at",
    "updated_at",
}
SENSITIVE = SAFE | {"custom_metadata", "summary", "transcript"}
RETENTION = 30 * 24 * 3600
# A moment well inside the retention and past the dangling grace: seeded conversations' time.
BASE_MS = now_ms() - 3_600_000


# --- the contains-match, on its own -------------------------------------------------------------


def test_contains_is_json_containment() -> None:
    stored = {"a": 1, "b": {"c": [1, 2, {"d": "x"}], "e": True}, "f": None}
    for wanted in ({}, {"a": 1}, {"a": 1.0}, {"b": {}}, {"b": {"e": True}},
                   {"b": {"c": [2]}}, {"b": {"c": [{"d": "x"}, 1]}}, {"f": None}):
        assert contains(stored, wanted), wanted
    for wanted in ({"a": 2}, {"a": "1"}, {"a": True}, {"b": {"e": 1}}, {"b": {"c": [3]}},
                   {"b": {"c": {"d": "x"}}}, {"b": {"c": 1}}, {"g": None}, {"f": {}}):
        assert not contains(stored, wanted), wanted


# --- helpers ------------------------------------------------------------------------------------


@dataclass
class Org:
    """An organization with an all-scopes key, its widgets (through the management API, so in
    its widget index) and a way to seed conversations at chosen instants."""

    management: Any
    redis: Any
    keys: RedisKeys
    headers: dict[str, str]
    runtime: Any = None
    pair: tuple[str, str] = ("", "")
    org_id: str = ""
    widgets: list[str] = field(default_factory=list)

    async def widget(self, **fields: Any) -> str:
        if not self.pair[0]:
            self.pair = await make_version(self.management, self.headers, published=True)
        widget = await create_widget(
            self.management, self.headers, self.pair, published=True, **fields
        )
        self.org_id = widget["organization_id"]
        self.widgets.append(widget["id"])
        return str(widget["id"])

    async def seed(
        self, widget_id: str, created_ms: int, user_id: str = "u1",
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """A conversation written by the runtime's create path, created at ``created_ms``."""
        store = ConversationStore(RedisBatch(self.redis), self.keys, RETENTION)
        created = iso_from_ms(created_ms)
        conversation = ConversationSummary(
            id=new_id(), organization_id=self.org_id, direction="inbound", channel="webrtc",
            status="token_created", user_id=user_id, agent_id=self.pair[0],
            agent_version_id=self.pair[1], web_widget_id=widget_id, duration=None,
            user_turn_count=None, created_at=created, updated_at=created,
        )
        await store.create(conversation, created_ms, json.dumps(metadata or {}).encode())
        return conversation.id

    async def drive(
        self, widget_id: str, cid: str, status: str, *, duration: int = 0, turns: int = 0,
        summary: str | None = None,
    ) -> None:
        """Through the lifecycle script: the visitor joins (``in_progress``), reports, and
        ``completed`` after ``duration`` seconds in the room."""
        life = Lifecycle(self.redis, self.keys, 15.0, 3600)
        room = f"ww-{cid}-0000000a"
        await self.redis.hset(self.keys.conversation(widget_id, cid), "room", room)
        now_s = int(time.time())
        joined = now_s - duration
        if status in ("in_progress", "completed"):
            fact = WebhookFact(event_id=f"EV_{cid}", kind="participant_joined", room=room,
                               at=joined, who="visitor", sid="PA_v")
            assert (await life.event(widget_id, cid, fact, joined * 1000)).status == "in_progress"
        report: dict[str, Any] = {}
        if turns:
            report["user_turn_count"] = turns
        if summary is not None:
            report["summary"] = summary
        if report:
            await life.report(widget_id, cid, report, joined * 1000, 1000, 256 * 1024, 600_000)
        if status == "completed":
            result = await life.end(widget_id, cid, now_s * 1000)
            assert (result.status, result.doc["duration"]) == ("completed", duration)

    async def pages(self, query: str, limit: int, headers: dict[str, str] | None = None
                    ) -> list[list[dict[str, Any]]]:
        """Every page of ``query``, following X-Next-Cursor to the end."""
        pages: list[list[dict[str, Any]]] = []
        cursor = None
        while True:
            url = f"{LIST}?limit={limit}" + (f"&{query}" if query else "")
            if cursor:
                url += f"&cursor={cursor}"
            resp = await self.management.get(url, headers=headers or self.headers)
            pages.append(await expect(resp, 200))
            cursor = resp.headers.get("X-Next-Cursor")
            if cursor is None:
                return pages
            assert len(pages) < 500, "paging does not end"

    async def ids(self, query: str = "", limit: int = 200) -> list[str]:
        return [item["id"] for page in await self.pages(query, limit) for item in page]


@pytest.fixture
async def runtime(aiohttp_client: Any, settings_factory: Any) -> Any:
    return await aiohttp_client(create_runtime(settings_factory(
        "runtime", lifecycle_sweep_interval=3600
    )))


@pytest.fixture(params=["standalone", "cluster"])
def backend(request: pytest.FixtureRequest) -> tuple[Any, Any, Any, RedisKeys]:
    """Both services on one redis-server, or on the 3-master cluster:
    ``(management, runtime, redis, keys)``."""
    if request.param == "standalone":
        return (request.getfixturevalue("management_client"), request.getfixturevalue("runtime"),
                request.getfixturevalue("redis"), request.getfixturevalue("keys"))
    management, runtime, _ = request.getfixturevalue("stack")
    return (management, runtime, request.getfixturevalue("cluster"),
            RedisKeys(request.getfixturevalue("prefix")))


@pytest.fixture
async def owner(backend: tuple[Any, Any, Any, RedisKeys]) -> Org:
    management, runtime, redis, keys = backend
    credentials = management.app[CREDENTIALS]
    org = await credentials.create_org("Acme")
    token, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    return Org(management, redis, keys, {"Authorization": f"Bearer {token}"}, runtime=runtime,
               org_id=org.id)


async def key_with(owner: Org, scopes: list[str], org_id: str | None = None) -> dict[str, str]:
    """Another key of ``owner``'s organization (or of ``org_id``), with ``scopes``."""
    token, _ = await owner.management.app[CREDENTIALS].issue(
        "ak", scopes, org_id=org_id or owner.org_id
    )
    return {"Authorization": f"Bearer {token}"}


async def other_org(owner: Org) -> dict[str, str]:
    """An all-scopes key of another organization."""
    org = await owner.management.app[CREDENTIALS].create_org("Other")
    return await key_with(owner, ALL_SCOPES, org.id)


# --- scopes and columns -------------------------------------------------------------------------


async def test_scopes_decide_the_columns(owner: Org) -> None:
    runtime = owner.runtime
    widget = await owner.widget(config=FEEDBACK_CONFIG)
    resp = await runtime.post(f"{PREFIX}/{widget}/conversations", json={
        "user_id": "guest_Ann", "custom_metadata": {"order": {"id": "123", "lines": 2}},
    })
    cid = (await expect(resp, 200))["conversation"]["id"]
    resp = await runtime.post(f"{PREFIX}/{widget}/conversations/{cid}/feedback",
                              json={"data": {"rating": 5}})
    await expect(resp, 200)
    line = {"role": "user", "text": "hello", "at": "2026-12-04T10:00:00Z"}
    resp = await owner.management.post(f"{LIST}/{cid}/report", headers=owner.headers, json={
        "user_turn_count": 2, "summary": "Asked about an order", "transcript": [line],
    })
    await expect(resp, 200)

    sensitive = await key_with(owner, ["conversations:read_sensitive"])
    read = await key_with(owner, ["conversations:read"])
    manage = await key_with(owner, ["conversations:manage"])
    for headers, columns in ((read, SAFE), (manage, SAFE), (sensitive, SENSITIVE),
                             (owner.headers, SENSITIVE)):
        listed = await expect(await owner.management.get(LIST, headers=headers), 200)
        got = await expect(await owner.management.get(f"{LIST}/{cid}", headers=headers), 200)
        assert listed == [got]
        assert set(got) == columns
        assert got["id"] == cid and got["user_id"] == "guest_Ann"
        assert got["user_turn_count"] == 2 and got["status"] == "token_created"
    resp = await owner.management.get(f"{LIST}/{cid}", headers=sensitive)
    assert resp.headers["Cache-Control"] == "no-store"
    got = await resp.json()
    submitted = got["custom_metadata"].pop("feedback_form")
    assert submitted["data"] == {"rating": 5} and submitted["submitted_at"].endswith("Z")
    assert got["custom_metadata"] == {"order": {"id": "123", "lines": 2}}
    assert got["summary"] == "Asked about an order"
    assert got["transcript"] == [line]

    # No conversations scope: 403 on both; a read scope cannot report or end (manage only).
    widgets_only = await key_with(owner, ["web_widgets:read", "agents:manage"])
    for path in (LIST, f"{LIST}/{cid}"):
        await expect(await owner.management.get(path, headers=widgets_only), 403)
    for headers in (read, sensitive):
        for action in ("report", "end"):
            resp = await owner.management.post(f"{LIST}/{cid}/{action}", headers=headers,
                                               json={"summary": "x"})
            await expect(resp, 403)
    # The custom_metadata filter would reveal values one guess at a time: sensitive only.
    query = "?custom_metadata=" + json.dumps({"order": {"id": "123"}})
    await expect(await owner.management.get(LIST + query, headers=read), 403)
    full = await expect(await owner.management.get(f"{LIST}/{cid}", headers=sensitive), 200)
    assert await expect(await owner.management.get(LIST + query, headers=sensitive), 200) == [full]
    # A walked filter answers the same shapes as an unfiltered page.
    for headers, columns in ((read, SAFE), (sensitive, SENSITIVE)):
        listed = await expect(
            await owner.management.get(f"{LIST}?user_id=ANN&limit=1", headers=headers), 200
        )
        assert [set(item) for item in listed] == [columns]
        assert listed[0]["id"] == cid
    assert listed == [full]


async def test_a_conversation_without_report_has_null_sensitive_fields(owner: Org) -> None:
    widget = await owner.widget()
    cid = await owner.seed(widget, BASE_MS)
    got = await expect(await owner.management.get(f"{LIST}/{cid}", headers=owner.headers), 200)
    assert (got["custom_metadata"], got["summary"], got["transcript"]) == ({}, None, None)
    assert (got["duration"], got["user_turn_count"]) == (None, None)


async def test_unknown_malformed_and_foreign_ids_are_404(owner: Org) -> None:
    widget = await owner.widget()
    cid = await owner.seed(widget, BASE_MS)
    other = await other_org(owner)
    for path, headers in ((f"{LIST}/{cid}", other), (f"{LIST}/{new_id()}", owner.headers)):
        body = await expect(await owner.management.get(path, headers=headers), 404)
        assert body == {"detail": "Conversation not found"}
    # Only a UUID is routed as a conversation id: anything else is the catch-all's 404.
    await expect(await owner.management.get(f"{LIST}/not-a-uuid", headers=owner.headers), 404)
    assert await expect(await owner.management.get(LIST, headers=other), 200) == []


# --- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    id: str
    widget: str
    ms: int
    user_id: str
    status: str
    duration: int | None
    turns: int | None
    metadata: dict[str, Any]


async def seed_variety(owner: Org) -> list[Seeded]:
    """Twelve conversations over two widgets, newest last, each unlike the others."""
    first, second = await owner.widget(), await owner.widget()
    plan = [
        # widget, user, status, duration, turns, metadata
        (first, "guest_Alpha", "token_created", None, None, {}),
        (first, "guest_beta", "in_progress", None, 3, {"campaign": "spring"}),
        (second, "ALPHA-2", "completed", 30, 5, {"campaign": "spring", "tier": {"level": 2}}),
        (second, "guest_gamma", "completed", 90, 1, {"campaign": "autumn"}),
        (first, "alphabet", "completed", 60, 4, {"tier": {"level": 2, "vip": True}}),
        (second, "guest_delta", "token_created", None, None, {"tags": ["a", "b"]}),
        (first, "guest_alpha", "in_progress", None, 7, {}),
        (second, "guest_eps", "completed", 10, 0, {"tier": {"level": 3}}),
        (first, "guest_zeta", "completed", 120, 9, {"campaign": "spring"}),
        (second, "guest_eta", "in_progress", None, None, {"tags": ["b"]}),
        (first, "guest_theta", "token_created", None, None, {"campaign": "spring"}),
        (second, "guest_iota", "completed", 45, 2, {}),
    ]
    seeded = []
    for n, (widget, user, status, duration, turns, metadata) in enumerate(plan):
        ms = BASE_MS + n * 1000
        cid = await owner.seed(widget, ms, user, metadata)
        await owner.drive(widget, cid, status, duration=duration or 0, turns=turns or 0)
        # `end` from in_progress keeps a reported count; never reported: null.
        seeded.append(Seeded(cid, widget, ms, user, status, duration, turns or None, metadata))
    return seeded


async def test_each_filter_and_combinations(owner: Org) -> None:
    seeded = await seed_variety(owner)
    first, second = owner.widgets
    newest_first = list(reversed(seeded))
    after, before = iso_from_ms(seeded[3].ms), iso_from_ms(seeded[8].ms)
    cases: list[tuple[str, Any]] = [
        ("", lambda c: True),
        ("status=completed", lambda c: c.status == "completed"),
        ("status=token_created", lambda c: c.status == "token_created"),
        (f"web_widget_id={first}", lambda c: c.widget == first),
        (f"web_widget_id={second}&status=completed",
         lambda c: c.widget == second and c.status == "completed"),
        (f"web_widget_id={first}&status=in_progress",
         lambda c: c.widget == first and c.status == "in_progress"),
        ("user_id=ALPHA", lambda c: "alpha" in c.user_id.lower()),
        ("user_id=guest_", lambda c: c.user_id.startswith("guest_")),
        ("user_id=alpha&status=in_progress",
         lambda c: "alpha" in c.user_id.lower() and c.status == "in_progress"),
        (f"agent_id={owner.pair[0]}", lambda c: True),
        (f"agent_version_id={owner.pair[1]}&web_widget_id={second}",
         lambda c: c.widget == second),
        (f"agent_id={new_id()}", lambda c: False),
        ("direction=inbound", lambda c: True),
        ("direction=outbound", lambda c: False),
        ("channel=webrtc", lambda c: True),
        ("channel=telephone", lambda c: False),
        ("status=ringing", lambda c: False),
        ("duration_above=45", lambda c: c.duration is not None and c.duration >= 45),
        ("duration_below=45", lambda c: c.duration is not None and c.duration <= 45),
        ("duration_above=30&duration_below=90&status=completed",
         lambda c: c.duration is not None and 30 <= c.duration <= 90),
        ("user_turn_count_above=4", lambda c: c.turns is not None and c.turns >= 4),
        ("user_turn_count_below=3", lambda c: c.turns is not None and c.turns <= 3),
        ("user_turn_count_above=2&user_turn_count_below=5&web_widget_id=" + first,
         lambda c: c.widget == first and c.turns is not None and 2 <= c.turns <= 5),
        (f"created_after={after}", lambda c: c.ms >= seeded[3].ms),
        (f"created_before={before}", lambda c: c.ms <= seeded[8].ms),
        (f"created_after={after}&created_before={before}&status=completed",
         lambda c: seeded[3].ms <= c.ms <= seeded[8].ms and c.status == "completed"),
        ('custom_metadata={"campaign":"spring"}',
         lambda c: c.metadata.get("campaign") == "spring"),
        ('custom_metadata={"tier":{"level":2}}',
         lambda c: c.metadata.get("tier", {}).get("level") == 2),
        ('custom_metadata={"tier":{"vip":true,"level":2}}', lambda c: c is seeded[4]),
        ('custom_metadata={"tags":["b"]}', lambda c: "b" in c.metadata.get("tags", [])),
        ('custom_metadata={}', lambda c: True),
        ('custom_metadata={"campaign":"spring"}&status=completed&user_id=a',
         lambda c: c.metadata.get("campaign") == "spring" and c.status == "completed"
         and "a" in c.user_id.lower()),
    ]
    for query, keep in cases:
        expected = [c.id for c in newest_first if keep(c)]
        for limit in (200, 2):
            assert await owner.ids(query.replace("+", "%2B"), limit) == expected, (query, limit)


async def test_status_across_widgets_merges_their_status_indexes(
    owner: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a widget, `status` reads every widget's status index, merged newest first, over
    as many fetches as a page needs."""
    widgets = [await owner.widget() for _ in range(4)]
    expected, needles = [], set()
    for n in range(50):
        widget = widgets[(n * 7) % 4]
        user = "Needle" if n % 9 == 1 else f"guest_{n}"
        cid = await owner.seed(widget, BASE_MS + (n // 3) * 1000, user)  # threes share an instant
        if n % 2:
            await owner.drive(widget, cid, "completed", duration=1)
            expected.append((BASE_MS + (n // 3) * 1000, cid))
            if user == "Needle":
                needles.add(cid)
    want = [cid for _, cid in sorted(expected, reverse=True)]
    assert len(want) == 25 and len(needles) == 3
    # A page of 20 takes two fetches of 21; smaller pages continue by cursor.
    for limit in (1, 3, 10, 20, 24, 200):
        assert await owner.ids("status=completed", limit) == want, limit
    # Walked with a filter, 16 entries a fetch: the merge continues below each fetch's last.
    monkeypatch.setattr(conversations_store, "WALK_BATCH", 16)
    for limit in (1, 2, 200):
        got = await owner.ids("status=completed&user_id=needle", limit)
        assert got == [cid for cid in want if cid in needles], limit
    # The org's index says the same: the merge and the walk agree.
    walked = [i for i in await owner.ids(limit=200) if i in set(want)]
    assert walked == want


# --- paging -------------------------------------------------------------------------------------


async def test_paging_among_equal_timestamps_never_skips_or_repeats(owner: Org) -> None:
    widgets = [await owner.widget() for _ in range(3)]
    seeded: list[tuple[int, str, str]] = []
    for n in range(45):
        widget, ms = widgets[n % 3], BASE_MS + (0 if n < 36 else n)
        cid = await owner.seed(widget, ms, user_id=f"guest_{n}")
        if n % 4 == 0:
            await owner.drive(widget, cid, "completed", duration=2)
        seeded.append((ms, cid, widget))
    order = [cid for _, cid, _ in sorted(seeded, reverse=True)]
    completed = {cid for n, (_, cid, _) in enumerate(seeded) if n % 4 == 0}
    first = widgets[0]
    of_first = {cid for _, cid, w in seeded if w == first}
    for query, kept in (("", set(order)), ("status=completed", completed),
                        (f"web_widget_id={first}", of_first),
                        (f"web_widget_id={first}&status=completed", of_first & completed),
                        ("user_id=GUEST_1", {c for n, (_, c, _) in enumerate(seeded)
                                             if str(n).startswith("1")})):
        want = [cid for cid in order if cid in kept]
        for limit in (1, 4, 7):
            pages = await owner.pages(query, limit)
            got = [item["id"] for page in pages for item in page]
            assert got == want, (query, limit)
            assert all(len(page) == limit for page in pages[:-1]), (query, limit)


async def test_a_budget_limited_walk_answers_short_pages_that_continue(
    owner: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    widgets = [await owner.widget() for _ in range(2)]
    needles = []
    for n in range(50):
        user = "Needle_" + str(n) if n in (3, 4, 40) else f"guest_{n}"
        cid = await owner.seed(widgets[n % 2], BASE_MS + (n // 10) * 1000, user)
        if user.startswith("Needle"):
            needles.append((BASE_MS + (n // 10) * 1000, cid, widgets[n % 2]))
    want = [cid for _, cid, _ in sorted(needles, reverse=True)]
    on_first = {cid for _, cid, widget in needles if widget == widgets[0]}
    # At most 16 entries per page (one fetch of 16): most pages hold nothing, with a cursor.
    monkeypatch.setattr(pagination, "SCAN_BUDGET", 16)
    monkeypatch.setattr(conversations_store, "WALK_BATCH", 16)
    for query in ("user_id=needle", "user_id=needle&status=token_created",
                  f"user_id=needle&web_widget_id={widgets[0]}"):
        kept = want if "web_widget_id" not in query else [c for c in want if c in on_first]
        pages = await owner.pages(query, 2)
        assert [item["id"] for page in pages for item in page] == kept, query
        assert len(pages) >= 2 and any(len(page) < 2 for page in pages[:-1]), query


async def test_a_base64_created_at_cursor_continues_before_that_instant(owner: Org) -> None:
    widget = await owner.widget()
    cids = [await owner.seed(widget, BASE_MS + n * 1000) for n in range(5)]
    listed = await expect(await owner.management.get(LIST, headers=owner.headers), 200)
    assert [c["id"] for c in listed] == cids[::-1]
    cursor = base64.b64encode(listed[1]["created_at"].encode()).decode()
    resp = await owner.management.get(f"{LIST}?cursor={cursor}", headers=owner.headers)
    assert [c["id"] for c in await expect(resp, 200)] == cids[:3][::-1]


async def test_dangling_organization_entries_are_skipped_and_old_ones_removed(
    owner: Org,
) -> None:
    widget = await owner.widget()
    cids = [await owner.seed(widget, BASE_MS + n * 1000) for n in range(3)]
    index = owner.keys.org_conversations(owner.org_id)
    old = f"{BASE_MS + 1500:013d}:{new_id()}:{widget}"  # its conversation is gone
    fresh = f"{now_ms():013d}:{new_id()}:{widget}"  # its conversation may be on its way
    await owner.redis.zadd(index, {old: 0, fresh: 0})
    # A conversation deleted behind the index's back is skipped too.
    await owner.redis.delete(owner.keys.conversation(widget, cids[0]))
    for limit in (1, 200):
        assert await owner.ids(limit=limit) == [cids[2], cids[1]]
    members = {m.decode() for m in await owner.redis.zrange(index, 0, -1)}
    assert fresh in members and old not in members


async def test_reads_survive_a_flushed_script_cache(owner: Org) -> None:
    """After a Redis restart empties its script cache, the page's scripts load themselves."""
    widgets = [await owner.widget() for _ in range(2)]
    cids = [await owner.seed(widgets[n % 2], BASE_MS + n) for n in range(4)]
    for query in ("", f"web_widget_id={widgets[0]}", "status=token_created"):
        await owner.redis.script_flush()
        kept = [c for n, c in enumerate(cids) if "web_widget_id" not in query or n % 2 == 0]
        assert await owner.ids(query) == kept[::-1], query


async def test_an_erased_conversation_is_gone_from_every_read(owner: Org) -> None:
    widget = await owner.widget()
    cids = [await owner.seed(widget, BASE_MS + n) for n in range(3)]
    await owner.drive(widget, cids[1], "completed", duration=3)
    resp = await owner.management.delete(f"{LIST}/{cids[1]}", headers=owner.headers)
    assert resp.status == 204
    await expect(await owner.management.get(f"{LIST}/{cids[1]}", headers=owner.headers), 404)
    kept = [cids[2], cids[0]]
    for query in ("", f"web_widget_id={widget}", "user_id=u", "status=token_created"):
        assert await owner.ids(query) == kept, query
    assert await owner.ids("status=completed") == []


# --- the query ----------------------------------------------------------------------------------


async def test_bad_query_values_are_422_at_their_name(owner: Org) -> None:
    for name, value in (
        ("limit", "0"), ("limit", "201"), ("cursor", "!!"), ("direction", "sideways"),
        ("channel", "fax"), ("status", "done"), ("user_id", ""), ("user_id", "x" * 129),
        ("agent_id", "nope"), ("agent_version_id", "1"), ("web_widget_id", "w"),
        ("duration_above", "-1"), ("duration_below", "1.5"), ("user_turn_count_above", "x"),
        ("user_turn_count_below", "9" * 11), ("custom_metadata", "[1]"),
        ("custom_metadata", '"x"'), ("custom_metadata", "{"), ("custom_metadata", "null"),
        ("custom_metadata", "{}" + " " * 256), ("created_after", "yesterday"),
        ("created_before", " 2026-01-01T00:00:00Z"),
    ):
        resp = await owner.management.get(LIST, params={name: value}, headers=owner.headers)
        body = await expect(resp, 422)
        assert [issue(body)["loc"]] == [["query", name]], (name, value, body)


async def test_unknown_parameters_are_ignored(owner: Org) -> None:
    widget = await owner.widget()
    cid = await owner.seed(widget, BASE_MS)
    resp = await owner.management.get(f"{LIST}?sort=asc&agent_number=1", headers=owner.headers)
    assert [c["id"] for c in await expect(resp, 200)] == [cid]


# --- on the cluster -----------------------------------------------------------------------------


async def test_reading_on_the_cluster(stack: Any, cluster: Any, prefix: str) -> None:
    """The representative flows on a 3-master cluster: widgets on every node, conversations
    started by the runtime and seeded at one instant, reported and ended through the API."""
    management, runtime, headers = stack
    owner = Org(management, cluster, RedisKeys(prefix), headers)
    nodes: set[str] = set()
    while len(nodes) < 3:
        widget = await owner.widget()
        nodes.add(cluster.get_node_from_key(owner.keys.widget(widget)).name)
    started = []
    for widget in owner.widgets[:3]:
        resp = await runtime.post(f"{PREFIX}/{widget}/conversations", json={
            "user_id": f"guest_{widget[:4]}", "custom_metadata": {"campaign": widget[:4]},
        })
        started.append((await expect(resp, 200))["conversation"]["id"])
    ended = started[1]
    resp = await management.post(f"{LIST}/{ended}/report", headers=headers,
                                 json={"summary": "Done", "user_turn_count": 4})
    await expect(resp, 200)
    await expect(await management.post(f"{LIST}/{ended}/end", headers=headers), 200)
    got = await expect(await management.get(f"{LIST}/{ended}", headers=headers), 200)
    assert (got["status"], got["summary"], got["user_turn_count"]) == ("completed", "Done", 4)
    assert set(got) == SENSITIVE

    widget_of = {}
    for n in range(12):
        widget = owner.widgets[n % len(owner.widgets)]
        widget_of[await owner.seed(widget, BASE_MS)] = widget
    same_instant = sorted(widget_of, reverse=True)  # equal times: the id orders them
    listed = await owner.ids(limit=5)
    assert set(listed[:3]) == set(started) and listed[3:] == same_instant
    assert await owner.ids("status=completed", 2) == [ended]
    fresh = await owner.ids("status=token_created", 4)
    assert set(fresh[:2]) == {started[0], started[2]} and fresh[2:] == same_instant
    widget = owner.widgets[0]
    on_widget = await owner.ids(f"web_widget_id={widget}&status=token_created", 3)
    assert on_widget == [started[0]] + [c for c in same_instant if widget_of[c] == widget]
    campaign = json.dumps({"campaign": owner.widgets[2][:4]})
    assert await owner.ids(f"custom_metadata={campaign}", 1) == [started[2]]
    assert await owner.ids(f"user_id=GUEST_{owner.widgets[1][:4].upper()}", 1) == [ended]
