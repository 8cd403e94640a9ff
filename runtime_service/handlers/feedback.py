"""PLACEHOLDER (being written): feedback handler."""
from aiohttp import web


async def submit_feedback(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()
