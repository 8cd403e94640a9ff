"""Ids as the wire format wants them: canonical lower-case UUID4 strings, and the random hex
digits they (and room suffixes) are made of."""

from __future__ import annotations

import os
import re
from collections import deque

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
