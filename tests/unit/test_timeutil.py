"""Ids are canonical random UUIDs (version 4, RFC 4122 variant), as uuid4 would make them, and
timestamps are ISO 8601 UTC with milliseconds, as datetime would print them."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime

from common.ids import is_uuid, new_id, random_hex
from common.timeutil import iso_from_ms, ms_from_iso


def test_new_ids_are_canonical_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value and is_uuid(value)
    # The variant digit carries two random bits: all four of its values turn up.
    assert {value[19] for value in ids} == set("89ab")


def test_random_hex_is_128_bits_that_never_repeat_across_refills() -> None:
    values = [random_hex() for _ in range(1000)]  # several 4 KiB draws from the OS
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in values)
    assert len(set(values)) == len(values)


def test_a_forked_child_does_not_hand_out_its_parents_values() -> None:
    random_hex()  # the pool now holds values a child would inherit
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next values, to the parent
        os.write(write_end, "".join(random_hex() for _ in range(5)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = [random_hex() for _ in range(5)]
    assert len(child) == 5 * 32
    assert not {child[i : i + 32] for i in range(0, len(child), 32)} & set(parent)


def test_iso_timestamps_match_datetime_across_seconds() -> None:
    start = 1_764_000_000_000  # 2025-11-24, a whole second
    for ms in range(start - 2_500, start + 2_500, 7):
        expected = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        assert iso_from_ms(ms) == expected[:-3] + "Z"
        assert ms_from_iso(iso_from_ms(ms)) == ms
