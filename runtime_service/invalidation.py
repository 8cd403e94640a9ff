"""The runtime's invalidation listener: keeps this pod's widget cache in step with management's
widget writes (the listener itself, shared with management's credential cache, is
common/invalidation.py). While the subscription is down the cache is suspended (see
``cache.WidgetSource.suspend``): every request reads Redis.
"""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from common import invalidation
from common.invalidation import BACKOFF_MAX, BACKOFF_MIN, KEEPALIVE_INTERVAL
from common.models.events import EVENT_DECODER
from runtime_service.cache import WidgetSource

__all__ = ["BACKOFF_MAX", "BACKOFF_MIN", "KEEPALIVE_INTERVAL", "InvalidationListener"]


def _widget_id(data: bytes) -> str:
    return EVENT_DECODER.decode(data).widget_id


class InvalidationListener(invalidation.InvalidationListener):
    def __init__(
        self,
        connect: Callable[[], Redis],
        channel: str,
        source: WidgetSource,
        *,
        pong_timeout: float,
        keepalive: float = KEEPALIVE_INTERVAL,
    ) -> None:
        super().__init__(
            connect, channel, source, decode=_widget_id, pong_timeout=pong_timeout,
            keepalive=keepalive, what="widget",
        )
