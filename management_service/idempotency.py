"""``Idempotency-Key`` on the management API's creating POSTs: a retry never creates twice.

The first request with a key reserves it (in the organization's hash slot, so keys are per
organization) together with the identity the new resource will get: its id and creation time.
A 2xx answer is remembered for ``ttl_ms`` (24 h) and any later request with the same key and the
same method, path and body gets it again, marked ``Idempotent-Replayed: true``. Another body or
route under the key is a 422; a request while the first is still running is a 409.

Only 2xx answers are remembered. A 4xx (nothing was written) releases the key entirely. A 5xx or
an error whose outcome is unknown (a 503 after the write may have been applied) keeps the key's
identity: the retry creates with the same id, and the stores treat an existing resource with that
id as the one being created, so exactly one exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import msgspec
from redis.asyncio import Redis

from common.errors import ApiError
from common.ids import new_id
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import now_ms
from common.validation import invalid

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# The same regex in Python and ECMA-262 (the OpenAPI document's), refusing a trailing newline.
_KEY_REGEX = r"^[A-Za-z0-9._:+/=-]{1,255}$(?!\n)"
IdempotencyKey = Annotated[str, msgspec.Meta(pattern=_KEY_REGEX)]
KEY_PATTERN = re.compile(_KEY_REGEX)
KEY_RULE = "1 to 255 characters: letters, digits and . _ : + / = -"
TTL_MS = 24 * 3600 * 1000
# How long an attempt holds its key: past it, a process that died mid-request no longer blocks
# the retry (which gets 409 until then).
LEASE_MS = 60_000
SCRIPT = read_script(__file__, "idempotency.lua")


@dataclass(frozen=True)
class Planned:
    """The identity a created resource gets: the same on every attempt under one key."""

    id: str
    created_ms: int


@dataclass(frozen=True)
class Done:
    """A remembered 2xx answer."""

    status: int
    body: bytes


class IdempotencyStore:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_ms = TTL_MS
        self.lease_ms = LEASE_MS
        self._script = register(redis, SCRIPT)

    async def reserve(
        self, org_id: str, key: str, fingerprint: str, token: str
    ) -> Planned | Done:
        """Hold ``key`` for this attempt (the identity to create with), or the remembered
        answer; 422 when the key was used for another request, 409 while another attempt
        holds it."""
        reply = await self._script(
            keys=[self.keys.idempotency(org_id, key)],
            args=["reserve", fingerprint, token, self.lease_ms, new_id(), now_ms(), self.ttl_ms],
        )
        outcome = reply[0].decode()
        if outcome == "reserved":
            return Planned(reply[1].decode(), int(reply[2]))
        if outcome == "done":
            return Done(int(reply[1]), bytes(reply[2]))
        if outcome == "busy":
            raise ApiError(
                409, "A request with this Idempotency-Key is still in progress; retry later",
                {"Retry-After": "1"},
            )
        raise invalid(
            ["header", HEADER],
            "This Idempotency-Key was already used for another request (another body or route)",
        )

    async def finish(self, org_id: str, key: str, token: str, status: int, body: bytes) -> None:
        await self._script(
            keys=[self.keys.idempotency(org_id, key)],
            args=["finish", token, status, body, self.ttl_ms],
        )

    async def release(self, org_id: str, key: str, token: str, *, written: bool) -> None:
        await self._script(
            keys=[self.keys.idempotency(org_id, key)],
            args=["release", token, "keep" if written else "forget"],
        )
