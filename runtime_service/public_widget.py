"""What a runtime pod keeps per widget: the encoded public object plus what the handlers need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PublicWidget:
    """A widget as a runtime pod sees it (published or not: the handlers decide). ``body`` is
    the exact JSON bytes of the widget object, so a cache hit does no JSON work."""

    id: str
    organization_id: str
    agent_id: str
    agent_version_id: str
    published: bool
    domains: frozenset[str]
    body: bytes
    etag: str
    feedback_field_ids: frozenset[str]
