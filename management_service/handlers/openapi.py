"""GET /openapi.json: the management API's OpenAPI document (built once, served as bytes)."""

from __future__ import annotations

from aiohttp import web

from management_service.openapi import DOCUMENT_JSON


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=DOCUMENT_JSON, content_type="application/json")
