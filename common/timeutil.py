"""Ids and timestamps as the wire format wants them: UUID4 strings, ISO 8601 UTC with Z."""

from __future__ import annotations

import functools
import os
import re
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every public request checks its path's ids: a regular expression is several times cheaper than
# parsing a uuid.UUID and printing it back.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id() -> str:
    """A random (version 4) UUID string, formatted from its hex digits: a start makes one, and
    ``str(uuid.uuid4())`` costs two and a half times as much (an object and an int's format)."""
    h = os.urandom(16).hex()
    # The version nibble is 4; the variant's top two bits are 10 (RFC 4122): 8, 9, a or b.
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def is_uuid(value: str) -> bool:
    """True for a canonical lower-case UUID string (the only form we hand out)."""
    return _CANONICAL_UUID.fullmatch(value) is not None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_from_ms(ms: int) -> str:
    return f"{_iso_second(ms // 1000)}.{ms % 1000:03d}Z"


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
