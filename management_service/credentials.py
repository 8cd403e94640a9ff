"""Organizations, users, memberships, org API keys (``ak_``) and personal tokens (``pat_``).

Tokens are ``<prefix><id>.<secret>``. Only a SHA-256 of the secret is stored: the secret is 256 bits
of randomness, so a fast hash is enough (no password stretching needed), and the stored hash is
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

import msgspec
from redis.asyncio import Redis

from common.credential_tokens import parse_token
from common.ids import new_id
from common.models.events import EVENT_ENCODER, CredentialChanged
from common.redis_batch import RedisBatch
from common.redis_client import read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms
from management_service.credential_cache import CredentialCache
from management_service.credential_records import Credential, Organization, User

KNOWN_SCOPES = frozenset(
    {"web_widgets:read", "web_widgets:manage", "agents:read", "agents:manage",
     "conversations:read", "conversations:read_sensitive", "conversations:manage",
     "webhooks:manage"}
)

_ENC = msgspec.json.Encoder()


_CREDENTIAL = msgspec.json.Decoder(Credential)
CREDENTIAL_REVOKE = read_script(__file__, "credential_revoke.lua")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CredentialStore:
    def __init__(
        self, redis: Redis, keys: RedisKeys, cache: CredentialCache | None = None,
        batch: RedisBatch | None = None,
    ) -> None:
        """``cache``: verified credentials kept by this process (the management app's; the
        admin CLI has none). ``batch``: the app's command batch (common/redis_batch.py), which
        every request's reads go through (a credential, a ``pat_``'s membership); without one
        they go over the client's pipelines."""
        self.redis = redis
        self.keys = keys
        self.cache = cache
        self.batch = batch if batch is not None else RedisBatch(redis)
        self._revoke_script = register(redis, CREDENTIAL_REVOKE)

    def _credential_key(self, kind: str, credential_id: str) -> str:
        return self.keys.api_key(credential_id) if kind == "ak" else self.keys.pat(credential_id)

    async def create_org(self, name: str) -> Organization:
        org = Organization(id=new_id(), name=name, created_at=iso_from_ms(now_ms()))
        await self.redis.set(self.keys.org(org.id), _ENC.encode(org))
        return org

    async def org_exists(self, org_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.org(org_id)))

    async def create_user(self, name: str) -> User:
        user = User(id=new_id(), name=name, created_at=iso_from_ms(now_ms()))
        await self.redis.set(self.keys.user(user.id), _ENC.encode(user))
        return user

    async def user_exists(self, user_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.user(user_id)))

    async def add_member(self, org_id: str, user_id: str) -> None:
        await self.redis.sadd(self.keys.user_orgs(user_id), org_id)

    async def is_member(self, user_id: str, org_id: str) -> bool:
        # Read on every pat_ request (a membership is never cached: its removal is not announced).
        return bool(await self.batch.execute("SISMEMBER", self.keys.user_orgs(user_id), org_id))

    async def issue(
        self,
        kind: Literal["ak", "pat"],
        scopes: list[str],
        *,
        name: str = "",
        org_id: str | None = None,
        user_id: str | None = None,
        expires_at_ms: int | None = None,
    ) -> tuple[str, Credential]:
        """Create a credential; the returned token is the only time the secret exists in clear."""
        secret = secrets.token_urlsafe(32)
        credential = Credential(
            id=new_id().replace("-", ""),
            kind=kind,
            name=name,
            scopes=sorted(set(scopes)),
            secret_sha256=hash_secret(secret),
            created_at=iso_from_ms(now_ms()),
            expires_at_ms=expires_at_ms,
            org_id=org_id,
            user_id=user_id,
        )
        await self.redis.set(self._credential_key(kind, credential.id), _ENC.encode(credential))
        return f"{kind}_{credential.id}.{secret}", credential

    async def verify(self, token: str) -> Credential | None:
        """The credential a token stands for, if the token is well formed, known and unexpired."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        kind, credential_id, secret = parsed
        cache = self.cache
        credential = None if cache is None else cache.get(credential_id)
        read_under = None
        if credential is None or credential.kind != kind:
            # Taken before the read: a revocation that arrives during it keeps it uncached.
            read_under = None if cache is None else cache.generation
            raw = await self.batch.execute("GET", self._credential_key(kind, credential_id))
            if raw is None:
                return None
            credential = _CREDENTIAL.decode(raw)
        # The secret itself is only hashed, never kept: the cache holds the stored record.
        if not hmac.compare_digest(credential.secret_sha256, hash_secret(secret)):
            return None
        # Checked on every request, cached or not.
        if credential.expires_at_ms is not None and credential.expires_at_ms <= now_ms():
            return None
        if cache is not None and read_under is not None:
            cache.put(credential, read_under)
        return credential

    async def _delete(self, key: str, credential_id: str) -> bool:
        """Delete one credential key and announce it to every process's cache, atomically."""
        event = EVENT_ENCODER.encode(CredentialChanged(credential_id=credential_id))
        deleted: int = await self._revoke_script(
            keys=[key], args=[self.keys.credential_channel(), event]
        )
        return deleted == 1

    async def revoke(self, token_or_id: str) -> bool:
        """Delete a credential named by its full token or its id; True when one was deleted.
        Every management process's cached copy is dropped (the event credential_revoke.lua
        publishes)."""
        parsed = parse_token(token_or_id)
        if parsed is not None:
            kind, credential_id, _ = parsed
            return await self._delete(self._credential_key(kind, credential_id), credential_id)
        credential_id = token_or_id.removeprefix("ak_").removeprefix("pat_")
        # One key per call: the two keys may live in different cluster slots.
        deleted = [await self._delete(key, credential_id) for key in (
            self.keys.api_key(credential_id), self.keys.pat(credential_id)
        )]
        return any(deleted)
