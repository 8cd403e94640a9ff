"""The stats endpoint's date range and counter names: plain functions, no I/O."""

from __future__ import annotations

from datetime import date

import pytest
from multidict import MultiDict

from common.errors import ApiError
from common.models.forms import FormField
from common.widget_stats import parse_rating, rating_counters, utc_day
from management_service.widget_stats import stats_range

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ("2026-05-17", "2026-06-15")),
    ({"from": "2026-06-01"}, ("2026-06-01", "2026-06-15")),  # never past today
    ({"from": "2026-01-01"}, ("2026-01-01", "2026-01-30")),
    ({"from": "2027-01-01"}, ("2027-01-01", "2027-01-01")),  # a future day alone
    ({"to": "2026-03-01"}, ("2026-01-31", "2026-03-01")),
    ({"from": "2026-01-01", "to": "2026-01-01"}, ("2026-01-01", "2026-01-01")),
    ({"from": "2024-01-01", "to": "2024-12-31"}, ("2024-01-01", "2024-12-31")),  # 366 days
    ({"from": "2025-01-01", "to": "2026-01-01"}, ("2025-01-01", "2026-01-01")),  # 366 days
    ({"to": "0001-01-05"}, ("0001-01-01", "0001-01-05")),  # the calendar's ends: no overflow
    ({"from": "9999-12-31"}, ("9999-12-31", "9999-12-31")),
])
def test_ranges(query: dict[str, str], expected: tuple[str, str]) -> None:
    first, last = stats_range(MultiDict(query), TODAY)
    assert (first.isoformat(), last.isoformat()) == expected


@pytest.mark.parametrize(("query", "loc"), [
    ({"from": "2026-02-29"}, "from"),
    ({"from": "2026-06-01T00:00:00Z"}, "from"),
    ({"from": "20260601"}, "from"),
    ({"to": "2026-06-01\n"}, "to"),
    ({"to": "２０２６-06-01"}, "to"),  # noqa: RUF001 - other scripts' digits are not dates here
    ({"from": "2026-06-02", "to": "2026-06-01"}, "from"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "to"),  # 367
])
def test_bad_ranges_are_422(query: dict[str, str], loc: str) -> None:
    with pytest.raises(ApiError) as caught:
        stats_range(MultiDict(query), TODAY)
    assert caught.value.status == 422
    (issue,) = caught.value.detail
    assert issue.loc == ["query", loc]


def test_counter_names() -> None:
    fields = [FormField(id="overall", type="rating", label="x"),
              FormField(id="a.b", type="rating", label="x"),
              FormField(id="count", type="number", label="x"),
              FormField(id="unset", type="rating", label="x")]
    counters = rating_counters(fields, {"overall": 5, "a.b": 1, "count": 3, "unset": None})
    assert counters == ["rating:overall:5", "rating:a.b:1"]
    assert [parse_rating(c) for c in counters] == [("overall", "5"), ("a.b", "1")]
    assert parse_rating("started") is None
    assert utc_day(0) == "1970-01-01" and utc_day(86_399_999) == "1970-01-01"
    assert utc_day(86_400_000) == "1970-01-02"
