"""PLACEHOLDER (being written): allowed domains and CORS."""
from aiohttp import web


@web.middleware
async def origin_middleware(request, handler):
    return await handler(request)
