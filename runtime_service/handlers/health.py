"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError

from common.appkeys import REDIS, SETTINGS
from common.http import error_response, healthz, json_response
from common.redis_client import REDIS_UNAVAILABLE
from runtime_service.appkeys import LISTENER

__all__ = ["healthz", "readyz"]

_NO_STORE = {"Cache-Control": "no-store"}
_UNAVAILABLE = {**_NO_STORE, "Retry-After": "1"}


async def readyz(request: web.Request) -> web.Response:
    """Ready when Redis answers and cache invalidations are arriving (else stale data could be
    cached): a pod failing this should get no traffic."""
    redis = request.app[REDIS]
    try:
        async with asyncio.timeout(request.app[SETTINGS].redis_timeout):
            try:
                await redis.ping()
            except RedisConnectionError:  # a pooled connection that predates a Redis restart
                await redis.ping()
    except (*REDIS_UNAVAILABLE, TimeoutError):
        return error_response(503, "Redis is not reachable", _UNAVAILABLE)
    if not request.app[LISTENER].live:
        return error_response(503, "Widget cache invalidation is not subscribed", _UNAVAILABLE)
    return json_response({"status": "ok"}, headers=_NO_STORE)
