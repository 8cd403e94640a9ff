"""Widget source for the runtime. INTERIM uncached version: the real per-pod cache replaces it,
keeping the same interface (``WidgetSource.get`` and ``widget_source_ctx``)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import msgspec
from aiohttp import web

from common.appkeys import KEYS, REDIS
from common.models.widget import Widget
from common.models.widget_config import feedback_field_ids
from common.redis_keys import RedisKeys
from common.timeutil import is_uuid
from runtime_service.appkeys import WIDGET_SOURCE
from runtime_service.public_widget import PublicWidget

_WIDGET = msgspec.json.Decoder(Widget)


def to_public(raw: bytes) -> PublicWidget:
    widget = _WIDGET.decode(raw)
    return PublicWidget(
        id=widget.id,
        organization_id=widget.organization_id,
        agent_id=widget.agent_id,
        agent_version_id=widget.agent_version_id,
        published=widget.published,
        domains=frozenset(widget.domains),
        body=raw,
        etag='"' + hashlib.sha256(raw).hexdigest()[:32] + '"',
        feedback_field_ids=feedback_field_ids(widget.config),
    )


class WidgetSource:
    def __init__(self, redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def get(self, widget_id: str) -> PublicWidget | None:
        """The widget (published or not), or None when it is unknown or the id is malformed."""
        if not is_uuid(widget_id):
            return None
        raw = await self.redis.get(self.keys.widget(widget_id))
        return None if raw is None else to_public(raw)


async def widget_source_ctx(app: web.Application) -> AsyncIterator[None]:
    app[WIDGET_SOURCE] = WidgetSource(app[REDIS], app[KEYS])
    yield
