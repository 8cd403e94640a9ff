"""A widget's daily stats counters: their hash's field names and the UTC day they count in.

The counters live in one hash per widget and UTC day (``RedisKeys.widget_stats``, the widget's
slot) and are incremented by the scripts that make each change, as it happens: the start
(``started``), the lifecycle (``in_progress``, the terminal statuses, ``duration_total`` and
``duration_count``), the feedback (``feedback``, ``rating:<field id>:<value>``). Both services
write them; management reads them (management_service/widget_stats.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from common.models.forms import FormField

STARTED = "started"
IN_PROGRESS = "in_progress"
ENDED = ("completed", "failed", "cancelled")
DURATION_TOTAL = "duration_total"
DURATION_COUNT = "duration_count"
FEEDBACK = "feedback"
RATING_PREFIX = "rating:"


def utc_day(ms: int) -> str:
    """``YYYY-MM-DD`` of the UTC day holding ``ms``: the day a change counts in."""
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def rating_counter(field_id: str, value: int) -> str:
    return f"{RATING_PREFIX}{field_id}:{value}"


def rating_counters(fields: Sequence[FormField], kept: dict[str, Any]) -> list[str]:
    """One counter per rating field of the form that the kept feedback gives a value."""
    return [
        rating_counter(field.id, value)
        for field in fields
        if field.type == "rating" and isinstance(value := kept.get(field.id), int)
        and not isinstance(value, bool)
    ]


def parse_rating(name: str) -> tuple[str, str] | None:
    """``rating:<field id>:<value>`` -> (field id, value); None for any other counter."""
    if not name.startswith(RATING_PREFIX):
        return None
    field_id, _, value = name[len(RATING_PREFIX):].rpartition(":")
    return (field_id, value) if field_id and value else None

