"""Liveness and readiness probes."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import REDIS, SETTINGS
from common.bodies import error_response, json_response
from common.http import healthz
from common.redis_client import REDIS_UNAVAILABLE, call_with_retry
from runtime_service.appkeys import LISTENER

__all__ = ["healthz", "readyz"]

_NO_STORE = {"Cache-Control": "no-store"}
_UNAVAILABLE = {**_NO_STORE, "Retry-After": "1"}


async def readyz(request: web.Request) -> web.Response:
    """Ready when Redis answers and cache invalidations are arriving (else stale data could be
    cached): a pod failing this should get no traffic."""
    redis = request.app[REDIS]
    try:
        # Retried: a pooled connection may predate a Redis restart.
        await call_with_retry(request.app[SETTINGS].redis_timeout, redis.ping)
    except REDIS_UNAVAILABLE:
        return error_response(503, "Redis is not reachable", _UNAVAILABLE)
    if not request.app[LISTENER].live:
        return error_response(503, "Widget cache invalidation is not subscribed", _UNAVAILABLE)
    return json_response({"status": "ok"}, headers=_NO_STORE)
