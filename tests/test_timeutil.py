"""Ids are canonical random UUIDs (version 4, RFC 4122 variant), as uuid4 would make them, and
timestamps are ISO 8601 UTC with milliseconds, as datetime would print them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from common.timeutil import is_uuid, iso_from_ms, ms_from_iso, new_id


def test_new_ids_are_canonical_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value and is_uuid(value)
    # The variant digit carries two random bits: all four of its values turn up.
    assert {value[19] for value in ids} == set("89ab")


def test_iso_timestamps_match_datetime_across_seconds() -> None:
    start = 1_764_000_000_000  # 2025-11-24, a whole second
    for ms in range(start - 2_500, start + 2_500, 7):
        expected = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        assert iso_from_ms(ms) == expected[:-3] + "Z"
        assert ms_from_iso(iso_from_ms(ms)) == ms
