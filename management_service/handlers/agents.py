"""PLACEHOLDER (being written): agent handlers."""
from aiohttp import web


async def _todo(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()

create_agent = get_agent = create_version = get_version = update_version = publish_version = _todo
