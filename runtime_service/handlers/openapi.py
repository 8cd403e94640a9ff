"""GET /openapi.json: the runtime's OpenAPI document (built once, served as bytes)."""

from __future__ import annotations

from aiohttp import web

from runtime_service.openapi import openapi_document


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type="application/json")
