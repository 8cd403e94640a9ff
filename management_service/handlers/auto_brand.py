"""PLACEHOLDER (being written): auto-brand handler."""
from aiohttp import web


async def auto_brand(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()
