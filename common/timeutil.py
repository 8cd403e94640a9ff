"""Timestamps as the wire format wants them: ISO 8601 UTC with milliseconds and Z (ids are in
common.ids)."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ".000Z" to ".999Z": looked up rather than formatted on every call.
_MILLIS = [f".{ms:03d}Z" for ms in range(1000)]


def iso_from_ms(ms: int) -> str:
    return _iso_second(ms // 1000) + _MILLIS[ms % 1000]


@functools.lru_cache(maxsize=8)
def _iso_second(seconds: int) -> str:
    # Formatted once per second rather than on every call: the calls of a second share it.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def ms_from_iso(value: str) -> int:
    """Parse an ISO 8601 timestamp (``Z`` or an offset; naive means UTC) to epoch milliseconds."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Integer arithmetic: timestamp() is a float and can come out one millisecond short.
    return (parsed - _EPOCH) // timedelta(milliseconds=1)
