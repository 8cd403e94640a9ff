"""Query-string values the list routes share, each checked exactly (422 at ``["query", name]``)."""

from __future__ import annotations

from multidict import MultiMapping

from common.timeutil import ms_from_iso
from common.validation import invalid

CHANNELS = frozenset({"telephone", "webrtc", "email", "text"})


def query_choice(query: MultiMapping[str], name: str, allowed: frozenset[str]) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        raise invalid(["query", name], "Expected one of: " + ", ".join(sorted(allowed)))
    return value


def query_instant(query: MultiMapping[str], name: str) -> int | None:
    """An ISO 8601 date-time as ms since the epoch."""
    value = query.get(name)
    if value is None:
        return None
    try:
        if value != value.strip():  # ms_from_iso forgives it; a query value is exact
            raise ValueError(value)
        return ms_from_iso(value)
    except (ValueError, OverflowError):
        raise invalid(["query", name], "Expected an ISO 8601 date-time") from None
