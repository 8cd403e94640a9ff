"""Ids and timestamps as the wire format wants them: UUID4 strings, ISO 8601 UTC with Z."""

from __future__ import annotations

import functools
import os
import re
import time
from collections import deque
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every public request checks its path's ids: a regular expression is several times cheaper than
# parsing a uuid.UUID and printing it back.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# The OS's random bytes, fetched 4 KiB at a time: one getrandom system call per id cost more
# than the rest of a new id. popleft is atomic, so threads never share a value; a forked child
# drops what it inherited, so parent and child never do either.
_RANDOM_HEX: deque[str] = deque()
os.register_at_fork(after_in_child=_RANDOM_HEX.clear)
# The variant digit: its top two bits are 10 (RFC 4122), the other two stay random.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def random_hex() -> str:
    """32 random hex digits (128 bits) from ``os.urandom``."""
    try:
        return _RANDOM_HEX.popleft()
    except IndexError:
        digits = os.urandom(4096).hex()
        _RANDOM_HEX.extend([digits[i : i + 32] for i in range(32, len(digits), 32)])
        return digits[:32]


def new_id() -> str:
    """A random (version 4) UUID string, formatted from hex digits: a start makes one, and
    ``str(uuid.uuid4())`` costs several times as much (a system call, an object, an int's
    format)."""
    h = random_hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def is_uuid(value: str) -> bool:
    """True for a canonical lower-case UUID string (the only form we hand out)."""
    return _CANONICAL_UUID.fullmatch(value) is not None


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
