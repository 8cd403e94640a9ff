"""PLACEHOLDER (being written)."""
from collections.abc import AsyncIterator

from aiohttp import web


async def invalidation_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
