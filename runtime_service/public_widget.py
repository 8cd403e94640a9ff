"""What a runtime pod keeps per widget: the encoded public object plus what the handlers need."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDict

from common.bodies import SECURITY_HEADERS
from common.models.forms import FormField
from common.models.widget_config import ConversationList


def route_headers(max_age: int) -> CIMultiDict[str]:
    """What every answer of the public widget GET carries, whatever the widget."""
    headers = CIMultiDict(SECURITY_HEADERS)
    headers["Cache-Control"] = f"public, max-age={max_age}"
    # CORS headers depend on the Origin, so shared caches must key on it.
    headers["Vary"] = "Origin"
    return headers


@dataclass(frozen=True, slots=True)
class PublicWidget:
    """A widget as a runtime pod sees it (published or not: the handlers decide). ``body`` is
    the exact JSON bytes of the widget object and the response headers are built with it, so a
    cache hit does no JSON work and no header work (aiohttp copies them; never mutate them)."""

    id: str
    organization_id: str
    agent_id: str
    agent_version_id: str
    published: bool
    domains: frozenset[str]
    body: bytes
    etag: str
    feedback_fields: tuple[FormField, ...]
    conversation_list: ConversationList
    ok_headers: CIMultiDict[str]  # for the 200: route headers, ETag, Content-Type
    not_modified_headers: CIMultiDict[str]  # for the 304: the same without Content-Type
    # config.v1.pre_conversation_form's fields, checked again on the server at start.
    pre_conversation_fields: tuple[FormField, ...] = ()
    # config.v1.retention_days (None: the service's CONVERSATION_RETENTION applies).
    retention_days: int | None = None
