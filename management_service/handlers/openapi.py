"""PLACEHOLDER (being written): OpenAPI document."""
from aiohttp import web


async def openapi_json(request: web.Request) -> web.Response:
    raise web.HTTPNotImplemented()
