"""GET /core/web-widgets/{id}/stats: counters kept by the scripts that make each change (start,
lifecycle, feedback), read back per UTC day, on a real redis-server and on the 3-master cluster.

Starts and feedback go through the runtime API (they count on today's date); the lifecycle's
transitions are driven through the runtime's own Lifecycle with scripted times on two days ten
days ahead, so the counts of those days are exact whatever the clock says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from common.lifecycle.lifecycle import WebhookFact
from runtime_service import conversations
from runtime_service.appkeys import CONVERSATIONS
from tests.support.conversations import start, stored_doc
from tests.support.services import Services
from tests.support.widget_helpers import create_widget, expect, make_version

W = "/core/web-widgets"
PREFIX = "/core/public/web-widgets"
FORM = {"enabled": True, "form": {"id": "fb", "fields": [
    {"id": "rating", "type": "rating", "label": "Overall"},
    {"id": "quality", "type": "rating", "label": "Audio quality"},
    {"id": "comment", "type": "textarea", "label": "Anything else?"},
]}}
ZERO_SCALE = {str(v): 0 for v in range(1, 6)}


async def new_widget(apps: Services, config: dict[str, Any] | None = None) -> str:
    pair = await make_version(apps.management, apps.headers, published=True)
    config = config or {"v1": {"post_conversation_feedback": FORM}}
    return str((await create_widget(apps.management, apps.headers, pair, published=True,
                                    config=config))["id"])


async def stats(apps: Services, widget_id: str, query: str = "") -> Any:
    resp = await apps.management.get(f"{W}/{widget_id}/stats{query}", headers=apps.headers)
    return await expect(resp, 200)


def at_ms(day: date, seconds: int) -> int:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return (int(midnight) + seconds) * 1000


class Call:
    """One started conversation, and the LiveKit facts of its current room."""

    def __init__(self, apps: Services, widget_id: str, started: dict[str, Any]) -> None:
        self.apps, self.widget = apps, widget_id
        self.id = started["conversation"]["id"]
        self.room = started["connection_details"]["room"]

    async def fact(self, kind: str, at_ms_: int, who: str = "other", sid: str = "") -> Any:
        fact = WebhookFact(event_id=f"EV_{self.id}_{kind}_{who}_{at_ms_}", kind=kind,
                           room=self.room, at=at_ms_ // 1000, who=who, sid=sid)
        return await self.apps.lifecycle.event(self.widget, self.id, fact, at_ms_)


async def test_stats_count_every_transition_and_feedback_on_its_day(apps: Services) -> None:
    widget_id = await new_widget(apps)
    today = datetime.now(UTC).date()
    calls = []
    for user in ("a", "b", "c", "d"):
        started = await expect(await start(apps.runtime, widget_id, user_id=user), 200)
        calls.append(Call(apps, widget_id, started))
    a, b, c, d = calls
    day1, day2 = today + timedelta(days=10), today + timedelta(days=11)
    t1, t2 = at_ms(day1, 10 * 3600), at_ms(day2, 9 * 3600)
    settle = apps.lifecycle.settle_ms

    # Day 1: a, b and d are joined by their visitor (in_progress); a's agent comes, its visitor
    # talks 30 s and its room finishes; b's and d's visitors leave after 10 s and 20 s.
    for call in (a, b, d):
        assert (await call.fact("participant_joined", t1, "visitor", "PA_v")).status == (
            "in_progress")
    await a.fact("participant_joined", t1 + 1000, "agent", "PA_a")
    await a.fact("participant_left", t1 + 30_000, "visitor", "PA_v")
    await a.fact("room_finished", t1 + 40_000)
    await b.fact("participant_left", t1 + 10_000, "visitor", "PA_v")
    await d.fact("participant_left", t1 + 20_000, "visitor", "PA_v")
    # The sweep settles a's room (completed, 30 s) and cancels c, never joined, token expired.
    await apps.lifecycle.sweep(t1 + 40_000 + settle + 1)
    # Delivered again, late: a terminal conversation counts nothing twice.
    await a.fact("room_finished", t1 + 40_000)
    await a.fact("participant_left", t1 + 31_000, "visitor", "PA_v2")
    await apps.lifecycle.sweep(t1 + 40_000 + 2 * settle + 2)

    # Day 2: b's room finishes with no agent ever (failed, 10 s); d is ended by the agent's
    # worker (completed, 20 s); ending it again changes nothing.
    await b.fact("room_finished", t2)
    await apps.lifecycle.sweep(t2 + settle + 1)
    assert (await apps.lifecycle.end(widget_id, d.id, t2 + 5000)).status == "completed"
    assert (await apps.lifecycle.end(widget_id, d.id, t2 + 6000)).outcome == "unchanged"
    statuses = [(await stored_doc(apps.lifecycle.redis, apps.keys, widget_id, x.id))["status"]
                for x in calls]
    assert statuses == ["completed", "failed", "cancelled", "completed"]

    # Feedback through the public API: only rating fields with a value count, once each.
    feedback = f"{PREFIX}/{widget_id}/conversations/{{}}/feedback"
    for call, data in ((a, {"rating": 5, "quality": 4, "comment": "Great"}),
                       (b, {"rating": 5, "comment": "Silence"}),
                       (c, {"rating": 1, "quality": 4})):
        await expect(await apps.runtime.post(feedback.format(call.id), json={"data": data}), 200)
    await expect(await apps.runtime.post(feedback.format(a.id), json={"data": {"rating": 1}}), 409)
    end_of_feedback = datetime.now(UTC).date()

    body = await stats(apps, widget_id, f"?from={today}&to={day2}")
    assert (body["web_widget_id"], body["from"], body["to"]) == (
        widget_id, today.isoformat(), day2.isoformat())
    days = {item["date"]: item for item in body["days"]}
    assert list(days) == [(today + timedelta(days=n)).isoformat() for n in range(12)]
    assert days[day1.isoformat()] == {
        "date": day1.isoformat(), "started": 0, "in_progress": 3, "completed": 1, "failed": 0,
        "cancelled": 1, "duration_total": 30, "duration_count": 1, "duration_average": 30.0,
        "feedback": 0, "ratings": {"rating": ZERO_SCALE, "quality": ZERO_SCALE},
    }
    assert days[day2.isoformat()] == {
        "date": day2.isoformat(), "started": 0, "in_progress": 0, "completed": 1, "failed": 1,
        "cancelled": 0, "duration_total": 30, "duration_count": 2, "duration_average": 15.0,
        "feedback": 0, "ratings": {"rating": ZERO_SCALE, "quality": ZERO_SCALE},
    }
    # Starts and feedback count on the day they happened (today, or tomorrow past midnight).
    live = {today.isoformat(), end_of_feedback.isoformat()}
    for name, item in days.items():
        if name not in live:
            assert item["started"] == item["feedback"] == 0, item
    assert body["totals"] == {
        "started": 4, "in_progress": 3, "completed": 2, "failed": 1, "cancelled": 1,
        "duration_total": 60, "duration_count": 3, "duration_average": 20.0, "feedback": 3,
        "ratings": {"rating": {**ZERO_SCALE, "1": 1, "5": 2},
                    "quality": {**ZERO_SCALE, "4": 2}},
    }

    # A new form: its rating fields are listed, and the older ones as long as they have counts.
    new_form = {"enabled": True, "form": {"id": "fb2", "fields": [
        {"id": "stars", "type": "rating", "label": "Stars"}]}}
    config = {"v1": {"post_conversation_feedback": new_form}}
    resp = await apps.management.put(f"{W}/{widget_id}", headers=apps.headers,
                                     json={"config": config})
    await expect(resp, 200)
    body = await stats(apps, widget_id, f"?from={today}&to={day2}")
    assert list(body["totals"]["ratings"]) == ["stars", "quality", "rating"]
    assert list((await stats(apps, widget_id, f"?from={day1}&to={day2}"))["totals"]["ratings"]) == [
        "stars"]

    # Every counter hash has an expiry (STATS_RETENTION).
    for day in (day1, day2):
        ttl = await apps.redis.ttl(apps.keys.widget_stats(widget_id, day.isoformat()))
        assert 0 < ttl <= 400 * 86400


async def test_the_default_range_is_the_last_30_days(apps: Services) -> None:
    widget_id = await new_widget(apps)
    await expect(await start(apps.runtime, widget_id, user_id="u1"), 200)
    body = await stats(apps, widget_id)
    today = datetime.now(UTC).date()
    assert len(body["days"]) == 30
    assert body["to"] in {today.isoformat(), (today - timedelta(days=1)).isoformat()}
    assert body["days"][-1]["date"] == body["to"]
    assert body["totals"]["started"] == 1
    assert body["totals"]["duration_average"] is None
    only_from = await stats(apps, widget_id, "?from=2026-01-01")
    assert only_from["to"] == "2026-01-30" and len(only_from["days"]) == 30
    only_to = await stats(apps, widget_id, "?to=2026-03-01")
    assert only_to["from"] == "2026-01-31"


@pytest.mark.parametrize(("query", "loc"), [
    ("?from=2026-02-30", "from"),
    ("?from=2026-1-1", "from"),
    ("?to=yesterday", "to"),
    ("?to=2026-01-01%0A", "to"),
    ("?from=%D9%A2026-01-01", "from"),
    ("?from=2026-03-02&to=2026-03-01", "from"),
    ("?from=2025-01-01&to=2026-01-02", "to"),  # 367 days
])
async def test_a_bad_range_is_422(apps: Services, query: str, loc: str) -> None:
    widget_id = await new_widget(apps)
    resp = await apps.management.get(f"{W}/{widget_id}/stats{query}", headers=apps.headers)
    detail = (await expect(resp, 422))["detail"]
    assert [item["loc"] for item in detail] == [["query", loc]]
    # The longest range allowed: 366 days.
    ok = await stats(apps, widget_id, "?from=2024-01-01&to=2024-12-31")
    assert len(ok["days"]) == 366


async def test_unknown_and_other_organizations_widgets_are_404_and_scopes_apply(
    apps: Services,
) -> None:
    widget_id = await new_widget(apps)
    for path in (f"{W}/00000000-0000-4000-8000-000000000000/stats", f"{W}/not-a-uuid/stats"):
        await expect(await apps.management.get(path, headers=apps.headers), 404)
    credentials = apps.credentials
    org_id = (await expect(await apps.management.get(f"{W}/{widget_id}", headers=apps.headers),
                           200))["organization_id"]
    other = (await credentials.create_org("Other")).id

    async def status(org: str, scopes: list[str]) -> int:
        token, _ = await credentials.issue("ak", scopes, org_id=org)
        resp = await apps.management.get(f"{W}/{widget_id}/stats",
                                         headers={"Authorization": f"Bearer {token}"})
        return int(resp.status)

    # Another organization's key, whatever its scopes: the answer to an unknown widget.
    assert await status(other, ["web_widgets:read"]) == 404
    assert await status(other, ["web_widgets:manage"]) == 404
    # The widget's own organization: either widget scope reads it; no other scope does.
    assert await status(org_id, ["web_widgets:read"]) == 200
    assert await status(org_id, ["web_widgets:manage"]) == 200
    assert await status(org_id, ["conversations:read_sensitive", "agents:manage"]) == 403


async def test_a_retried_feedback_call_counts_once(
    apps: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client's automatic retry of one submission (same submission id, see
    feedback_submit.lua) is answered ok again and adds nothing to the counters."""
    widget_id = await new_widget(apps)
    started = await expect(await start(apps.runtime, widget_id, user_id="u1"), 200)
    cid = started["conversation"]["id"]
    monkeypatch.setattr(conversations.secrets, "token_hex", lambda n: "same-submission")
    store = apps.runtime.server.app[CONVERSATIONS]
    for _ in range(2):
        outcome = await store.submit_feedback(
            widget_id, cid, b'{"data":{"rating":4},"submitted_at":"2026-01-01T00:00:00.000Z"}',
            10, 16384, ratings=["rating:rating:4"],
        )
        assert outcome == "ok"
    today = datetime.now(UTC).date()
    body = await stats(apps, widget_id, f"?from={today - timedelta(days=1)}&to={today}")
    assert body["totals"]["feedback"] == 1
    assert body["totals"]["ratings"]["rating"] == {**ZERO_SCALE, "4": 1}
