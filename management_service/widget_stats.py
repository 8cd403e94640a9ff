"""Reading a widget's daily stats: the date range of the query, and the counters of each day.

The counters are written where the events happen (common/widget_stats.py); reading a range is
one pipelined HGETALL per day, all in the widget's slot, never a scan of conversations.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from multidict import MultiMapping
from redis.asyncio import Redis

from common.models.forms import RATING_MAX, RATING_MIN, FormField
from common.redis_keys import RedisKeys
from common.validation import invalid
from common.widget_stats import (
    DURATION_COUNT,
    DURATION_TOTAL,
    ENDED,
    FEEDBACK,
    IN_PROGRESS,
    STARTED,
    parse_rating,
)

DEFAULT_DAYS = 30
MAX_DAYS = 366
# ASCII digits only (\d would take other scripts' digits); documented in the OpenAPI document.
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$(?!\n)"
_DATE = re.compile(DATE_PATTERN)


class StatsCounts(msgspec.Struct, kw_only=True):
    """Counts of one day (or of the whole range). Ratings: per rating field id, how many
    feedback submissions gave each value (`"1"` to `"5"`)."""

    started: int
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    duration_total: int
    duration_count: int
    duration_average: float | None
    feedback: int
    ratings: dict[str, dict[str, int]]


class StatsDay(StatsCounts, kw_only=True):
    date: str


class WidgetStats(msgspec.Struct, kw_only=True):
    web_widget_id: str
    from_: str = msgspec.field(name="from")
    to: str
    days: list[StatsDay]
    totals: StatsCounts


def _date(query: MultiMapping[str], name: str) -> date | None:
    raw = query.get(name)
    if raw is None:
        return None
    if _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise invalid(["query", name], "Expected a date such as 2026-01-31 (YYYY-MM-DD)")


def stats_range(query: MultiMapping[str], today: date | None = None) -> tuple[date, date]:
    """The inclusive UTC day range asked for: by default the last 30 days up to today; one
    bound alone spans 30 days from or to it (never past today when only `from` is given)."""
    today = today or datetime.now(UTC).date()
    first, last = _date(query, "from"), _date(query, "to")
    if last is None:
        last = today if first is None else max(first, min(today, _plus(first, DEFAULT_DAYS - 1)))
    if first is None:
        first = _plus(last, -(DEFAULT_DAYS - 1))
    if first > last:
        raise invalid(["query", "from"], "`from` must not be after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid(["query", "to"], f"At most {MAX_DAYS} days at once")
    return first, last


def _plus(day: date, days: int) -> date:
    """``day`` moved by ``days``, clamped to the calendar's ends (year 1 and 9999)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


def _counts(raw: dict[str, int], rating_fields: Sequence[str]) -> dict[str, Any]:
    ratings: dict[str, dict[str, int]] = {
        field: {str(v): 0 for v in range(RATING_MIN, RATING_MAX + 1)} for field in rating_fields
    }
    for name, value in raw.items():
        parsed = parse_rating(name)
        if parsed is not None:
            field, rating = parsed
            scale = ratings[field]
            scale[rating] = scale.get(rating, 0) + value
    durations = raw.get(DURATION_COUNT, 0)
    return {
        STARTED: raw.get(STARTED, 0),
        IN_PROGRESS: raw.get(IN_PROGRESS, 0),
        **{status: raw.get(status, 0) for status in ENDED},
        DURATION_TOTAL: raw.get(DURATION_TOTAL, 0),
        DURATION_COUNT: durations,
        "duration_average": (
            round(raw.get(DURATION_TOTAL, 0) / durations, 2) if durations else None
        ),
        FEEDBACK: raw.get(FEEDBACK, 0),
        "ratings": ratings,
    }


async def read_stats(
    redis: Redis, keys: RedisKeys, widget_id: str, first: date, last: date,
    form_fields: Sequence[FormField] = (),
) -> WidgetStats:
    """The widget's counters of each day from ``first`` to ``last``, and their totals. The
    rating fields of the widget's current feedback form are always listed (zeros included),
    as are fields of an older form that have counts in the range."""
    span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    async with redis.pipeline(transaction=False) as pipe:
        for day in span:
            pipe.hgetall(keys.widget_stats(widget_id, day.isoformat()))
        replies: list[dict[bytes, bytes]] = await pipe.execute()
    raws = [{name.decode(): int(value) for name, value in reply.items()} for reply in replies]
    total: Counter[str] = Counter()
    for raw in raws:
        total.update(raw)
    # Every day lists the same fields: the current form's, then older ones counted in the range.
    rating_fields = [field.id for field in form_fields if field.type == "rating"]
    for name in sorted(total):
        parsed = parse_rating(name)
        if parsed is not None and parsed[0] not in rating_fields:
            rating_fields.append(parsed[0])
    days = [
        StatsDay(date=day.isoformat(), **_counts(raw, rating_fields))
        for day, raw in zip(span, raws, strict=True)
    ]
    return WidgetStats(
        web_widget_id=widget_id, from_=first.isoformat(), to=last.isoformat(), days=days,
        totals=StatsCounts(**_counts(dict(total), rating_fields)),
    )
