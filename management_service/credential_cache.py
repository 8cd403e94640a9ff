"""Verified credentials kept per process for a short, bounded time, so an authenticated request
need not read its credential from Redis every time.

What is kept is the stored record (``Credential``: its metadata and the SHA-256 of its secret),
never a secret: a request's secret is hashed and compared with the kept hash, as it is with the
record read from Redis. Only a credential whose secret matched is stored, and a credential's
``expires_at`` is still checked on every request (``CredentialStore.verify``).

Bounded (LRU, ``CREDENTIAL_CACHE_SIZE``) and short-lived (``CREDENTIAL_CACHE_TTL``: the safety
net), and kept correct by the credential channel's listener (common/invalidation.py):

* a revocation publishes an event (credential_revoke.lua, in the same script as the delete) and
  the event drops the entry at once;
* a value read from Redis is stored only if no event and no clear arrived while it was read (a
  generation counter: a revocation that overtakes a read cannot be undone by it);
* while the subscription is down (events may be lost) nothing is cached and every request reads
  Redis; when the subscription is confirmed again everything is cleared.

Unlike the runtime's widget cache there is no stale-if-error copy and no shared read: a credential
must never outlive its revocation, and a read is one ``GET``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from management_service.credential_records import Credential


@dataclass(slots=True)
class CredentialCacheStats:
    """Plain counts, read when metrics are scraped."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0
    clears: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class CredentialCache:
    def __init__(
        self, *, max_size: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_size = max_size
        self._ttl = ttl
        self._clock = clock
        # credential id -> (the verified record, when it stops being used)
        self._entries: OrderedDict[str, tuple[Credential, float]] = OrderedDict()
        # Moves on every invalidation and clear: a read that began under another generation is
        # not stored.
        self._generation = 0
        self._live = False  # nothing is cached until the subscription is confirmed
        self.stats = CredentialCacheStats()

    @property
    def live(self) -> bool:
        return self._live

    @property
    def generation(self) -> int:
        """Taken before a Redis read and handed back to ``put``."""
        return self._generation

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, credential_id: str) -> Credential | None:
        entry = self._entries.get(credential_id)
        if entry is None:
            self.stats.misses += 1
            return None
        credential, expires = entry
        if self._clock() >= expires:
            del self._entries[credential_id]
            self.stats.misses += 1
            return None
        self._entries.move_to_end(credential_id)
        self.stats.hits += 1
        return credential

    def put(self, credential: Credential, generation: int) -> None:
        """Keep a verified ``credential`` read under ``generation`` (a no-op if anything was
        invalidated or cleared since, or while the subscription is down)."""
        if not self._live or generation != self._generation or self._max_size <= 0:
            return
        if self._ttl <= 0:
            return
        self._entries[credential.id] = (credential, self._clock() + self._ttl)
        self._entries.move_to_end(credential.id)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def invalidate(self, credential_id: str) -> None:
        self.stats.invalidations += 1
        self._generation += 1
        self._entries.pop(credential_id, None)

    def clear(self) -> None:
        self.stats.clears += 1
        self._generation += 1
        self._entries.clear()

    def suspend(self) -> None:
        """The subscription is down: revocations may be missed, so nothing is kept."""
        self._live = False
        self.clear()

    def resume(self) -> None:
        """The subscription is confirmed: start from nothing."""
        self.clear()
        self._live = True
