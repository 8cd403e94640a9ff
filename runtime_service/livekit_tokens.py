"""PLACEHOLDER (being written)."""
from collections.abc import AsyncIterator

from aiohttp import web


async def token_minter_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
