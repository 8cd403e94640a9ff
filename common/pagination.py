"""Cursor paging over lex-ordered indexes, newest first.

Index members are ``<created_ms, 13 digits>:<id>``, so the order is total even among items that
share a timestamp, and a cursor (the last member returned) never skips or repeats an item. A cursor
made the reference's way, Base64 of the last item's ``created_at``, is accepted too: it continues
with the items created strictly before that instant.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from multidict import MultiMapping

from common.timeutil import ms_from_iso
from common.validation import invalid

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_MEMBER = re.compile(r"^\d{13}:[0-9a-f-]{36}$(?!\n)")
# Upper bound on index entries inspected for one filtered page, so a rare filter cannot make
# one request walk an unbounded index; the page then ends early with a cursor to continue.
SCAN_BUDGET = 5000


def parse_limit(query: MultiMapping[str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    # Length first: int() refuses more than 4300 digits with a ValueError (a 500).
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(["query", "limit"], f"Expected an integer from 1 to {MAX_LIMIT}")
    return int(raw)


# The largest 13-digit millisecond count, 2286-11-20T17:46:39.999Z. Members are compared as
# text, so an instant outside 0..MAX_MEMBER_MS must never be written into a bound: it is
# clamped, which filters the same way since every member lies inside that range.
MAX_MEMBER_MS = 10**13 - 1


def index_member(created_ms: int, item_id: str) -> str:
    return f"{created_ms:013d}:{item_id}"


def before_bound(ms: int) -> str:
    """The exclusive upper lex bound for members created strictly before ``ms``."""
    if ms > MAX_MEMBER_MS:
        return "+"
    return "(" + index_member(max(ms, 0), "")


def created_bounds(after_ms: int | None, before_ms: int | None) -> tuple[str, str] | None:
    """Lex bounds ``(lower, upper)`` for members created within the inclusive instants, or
    None when no member can be (after past the last 13-digit instant, before 1970)."""
    if after_ms is not None and after_ms > MAX_MEMBER_MS:
        return None
    if before_ms is not None and before_ms < 0:
        return None
    lower = "-" if after_ms is None or after_ms <= 0 else "[" + index_member(after_ms, "")
    upper = "+" if before_ms is None else before_bound(before_ms + 1)
    return lower, upper


def encode_cursor(member: str) -> str:
    return base64.urlsafe_b64encode(member.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, member: re.Pattern[str] = _MEMBER) -> str:
    """Return the exclusive upper lex bound (``(member``) for ZREVRANGEBYLEX; ``member`` is
    the index's member shape (an index whose ids are not UUIDs passes its own)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid(["query", "cursor"], "Invalid cursor") from None
    if member.match(text):
        return "(" + text
    try:
        return before_bound(ms_from_iso(text))
    except (ValueError, OverflowError):
        raise invalid(["query", "cursor"], "Invalid cursor") from None


# fetch(bound, count): up to ``count`` index members below ``bound``, newest first, each with
# its item (None for a dangling member, which is skipped).
Fetch = Callable[[str, int], Awaitable[Sequence[tuple[str, T | None]]]]


async def collect_page(
    fetch: Fetch[T], keep: Callable[[T], bool], start: str, limit: int,
    batch: int | None = None,
) -> tuple[list[T], str | None]:
    """Walk the index from ``start`` and return up to ``limit`` kept items plus the next cursor.
    ``batch``: index entries per fetch (default: a page and one more, at least 16); a caller
    whose filter drops most entries asks for more at a time, so the budget costs fewer trips."""
    items: list[T] = []
    last = ""
    bound, scanned = start, 0
    batch = min(max(limit + 1, 16, batch or 0), 500)
    while scanned < SCAN_BUDGET:
        entries = await fetch(bound, batch)
        if not entries:
            return items, None
        for member, item in entries:
            if item is not None and keep(item):
                if len(items) == limit:
                    return items, encode_cursor(last)
                items.append(item)
                last = member
        scanned += len(entries)
        bound = "(" + entries[-1][0]
        if len(entries) < batch:
            return items, None
    return items, encode_cursor(bound[1:])
