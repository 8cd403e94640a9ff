"""PLACEHOLDER (being written): widget handlers."""
from aiohttp import web


async def _todo(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()

readyz = list_widgets = create_widget = get_widget = update_widget = delete_widget = _todo
