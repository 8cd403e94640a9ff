"""Ids are canonical random UUIDs (version 4, RFC 4122 variant), as uuid4 would make them."""

from __future__ import annotations

import uuid

from common.timeutil import is_uuid, new_id


def test_new_ids_are_canonical_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value and is_uuid(value)
    # The variant digit carries two random bits: all four of its values turn up.
    assert {value[19] for value in ids} == set("89ab")
