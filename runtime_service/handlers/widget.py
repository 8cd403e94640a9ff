"""PLACEHOLDER (being written): public widget GET."""
from aiohttp import web


async def get_public_widget(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()
