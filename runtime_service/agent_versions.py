"""PLACEHOLDER (being written)."""
from collections.abc import AsyncIterator

from aiohttp import web


async def agent_versions_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
