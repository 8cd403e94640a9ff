"""What the credential store keeps: organizations, users, and API keys or personal tokens (only
the SHA-256 of a token's secret). Apart from the store, so the per-process cache can hold them."""

from __future__ import annotations

from typing import Literal

import msgspec


class Organization(msgspec.Struct, kw_only=True):
    id: str
    name: str
    created_at: str


class User(msgspec.Struct, kw_only=True):
    id: str
    name: str
    created_at: str


class Credential(msgspec.Struct, kw_only=True):
    """An API key (``org_id`` set) or a personal token (``user_id`` set)."""

    id: str
    kind: Literal["ak", "pat"]
    name: str
    scopes: list[str]
    secret_sha256: str
    created_at: str
    expires_at_ms: int | None = None
    org_id: str | None = None
    user_id: str | None = None
