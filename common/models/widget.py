"""The widget object (stored and returned as-is) and the create/update request bodies."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from common.models.types import UUIDStr

DomainEntry = Annotated[str, Meta(max_length=2048)]
DomainList = Annotated[list[DomainEntry], Meta(max_length=100)]


class Widget(msgspec.Struct, kw_only=True):
    """Exactly the nine fields of the contract, in this order."""

    id: str
    organization_id: str
    agent_id: str
    agent_version_id: str
    domains: list[str]
    published: bool
    config: dict[str, Any]
    created_at: str
    updated_at: str


class _ReadOnlyFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Accepted and ignored, so a client can send back an object it read (GET, edit, PUT).
    id: Any = UNSET
    organization_id: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class WidgetCreate(_ReadOnlyFields, kw_only=True, forbid_unknown_fields=True):
    agent_id: UUIDStr
    agent_version_id: UUIDStr
    domains: DomainList = []
    published: bool = False
    config: dict[str, Any] = {}


class WidgetUpdate(_ReadOnlyFields, kw_only=True, forbid_unknown_fields=True):
    """PUT body: a present field replaces the stored value; ``null`` is not a value."""

    agent_id: UUIDStr | UnsetType = UNSET
    agent_version_id: UUIDStr | UnsetType = UNSET
    domains: DomainList | UnsetType = UNSET
    published: bool | UnsetType = UNSET
    config: dict[str, Any] | UnsetType = UNSET
