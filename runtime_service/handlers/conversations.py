"""PLACEHOLDER (being written): conversation handlers."""
from aiohttp import web


async def _todo(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()

start_conversation = list_conversations = _todo
