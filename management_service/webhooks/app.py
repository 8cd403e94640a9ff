"""The worker's process: the delivery worker in a cleanup context, and an HTTP port of its own
(PORT, default 8083) for probes and metrics only."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from common.app_base import build_app
from common.appkeys import KEYS, METRICS, REDIS, SETTINGS
from common.bodies import json_response
from common.http import add_routes, add_unrouted, healthz, metrics_handler
from common.redis_client import REDIS_UNAVAILABLE, call_with_retry
from common.settings import Settings
from management_service.webhooks.stats import Stats
from management_service.webhooks.worker import Worker

WORKER = web.AppKey("webhook_worker", Worker)
_NO_STORE = {"Cache-Control": "no-store"}


async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
    stats = Stats()
    stats.register(app[METRICS])
    worker = Worker(app[SETTINGS], app[REDIS], app[KEYS], stats)
    app[WORKER] = worker
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()


async def readyz(request: web.Request) -> web.Response:
    """Ready once the worker has balanced its leases and Redis answers."""
    try:
        await call_with_retry(request.app[SETTINGS].redis_timeout, request.app[REDIS].ping)
    except REDIS_UNAVAILABLE:
        return json_response({"status": "unavailable"}, status=503, headers=_NO_STORE)
    if not request.app[WORKER].ready:
        return json_response({"status": "starting"}, status=503, headers=_NO_STORE)
    return json_response({"status": "ok"}, headers=_NO_STORE)


def setup_routes(app: web.Application) -> None:
    add_routes(app, [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics_handler),
    ])
    add_unrouted(app)


def create_app(settings: Settings) -> web.Application:
    return build_app(settings, 1024, [worker_ctx], setup_routes)
