"""The frame both services' create_app share: plain, no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from aiohttp import web

from common.appkeys import KEYS, METRICS, SETTINGS
from common.http import check_routes_edged
from common.metrics import Metrics
from common.redis_client import redis_ctx
from common.redis_keys import RedisKeys
from common.settings import Settings

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def build_app(
    settings: Settings,
    client_max_size: int,
    contexts: Sequence[CleanupContext],
    setup_routes: Callable[[web.Application], None],
) -> web.Application:
    """An app with the settings, key names and metrics, the Redis client first (everything else
    needs it), then ``contexts`` in the order given, then the routes, checked to be edged."""
    # No middlewares: routes are wrapped where they are registered (common.http.add_routes).
    app = web.Application(client_max_size=client_max_size)
    app[SETTINGS] = settings
    app[KEYS] = RedisKeys(settings.redis_key_prefix)
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.extend(contexts)
    setup_routes(app)
    check_routes_edged(app)
    return app
