"""The events stream as a webhook receiver would see it."""

from __future__ import annotations

import json
from typing import Any

from common.redis_keys import RedisKeys
from management_service.webhooks.fanout import Entry, rendered_event


async def stream_events(redis: Any, keys: RedisKeys) -> list[dict[str, Any]]:
    """Each entry's fields, plus ``event``: its JSON, a conversation event's snapshot rendered
    as the webhook fan-out renders it (None once the conversation is gone)."""
    found = []
    for _, fields in await redis.xrange(keys.events_stream()):
        entry = Entry.parse(fields)
        data = entry.data or await rendered_event(redis, keys, entry)
        row: dict[str, Any] = {k.decode(): v.decode() for k, v in fields.items()}
        row["event"] = json.loads(data) if data else None
        found.append(row)
    return found
