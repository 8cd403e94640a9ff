"""The /core/web-widgets handlers (list, create, get, update, delete) and the readiness probe.

A malformed, unknown or foreign widget id all answer 404, so nothing reveals whether another
organization's widget exists. Authentication and scope failures (401/403) come first, from the
decorator.
"""

from __future__ import annotations

import msgspec
from aiohttp import web
from multidict import MultiMapping

from common.appkeys import REDIS, SETTINGS
from common.bodies import error_response, json_response, raw_json_response, read_json
from common.errors import not_found
from common.ids import is_uuid
from common.models.types import UUID_MESSAGE
from common.models.widget import WidgetCreate, WidgetUpdate
from common.pagination import decode_cursor, parse_limit
from common.redis_client import REDIS_UNAVAILABLE, call_with_retry
from common.validation import invalid
from management_service.appkeys import WIDGETS
from management_service.auth import MANAGE_WIDGETS, READ_WIDGETS, Principal
from management_service.handlers.idempotent import idempotent, planned
from management_service.widgets_store import WidgetFilter

_CREATE = msgspec.json.Decoder(WidgetCreate)
_UPDATE = msgspec.json.Decoder(WidgetUpdate)
_NOT_FOUND = "Widget not found"
_NO_STORE = {"Cache-Control": "no-store"}
_UNAVAILABLE = {**_NO_STORE, "Retry-After": "1"}
_BOOLEANS = {"true": True, "false": False}


def _uuid_filter(query: MultiMapping[str], name: str) -> str | None:
    value = query.get(name)
    if value is not None and not is_uuid(value):
        raise invalid(["query", name], UUID_MESSAGE)
    return value


def _filter(query: MultiMapping[str]) -> WidgetFilter:
    published = query.get("published")
    if published is not None and published.lower() not in _BOOLEANS:
        raise invalid(["query", "published"], "Expected `true` or `false`")
    return WidgetFilter(
        agent_id=_uuid_filter(query, "agent_id"),
        agent_version_id=_uuid_filter(query, "agent_version_id"),
        published=None if published is None else _BOOLEANS[published.lower()],
    )


@READ_WIDGETS
async def list_widgets(request: web.Request, principal: Principal) -> web.Response:
    query = request.query
    limit = parse_limit(query)
    start = decode_cursor(query["cursor"]) if "cursor" in query else "+"
    page, cursor = await request.app[WIDGETS].list_page(
        principal.org_id, _filter(query), start, limit
    )
    return raw_json_response(page, headers={"X-Next-Cursor": cursor} if cursor else None)


@MANAGE_WIDGETS
@idempotent
async def create_widget(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _CREATE)
    widget = await request.app[WIDGETS].create(principal.org_id, body, planned(request))
    return json_response(widget, status=201)


@READ_WIDGETS
async def get_widget(request: web.Request, principal: Principal) -> web.Response:
    # The stored JSON is the answer: nothing to decode and encode again.
    body = await request.app[WIDGETS].get_json(principal.org_id, request.match_info["id"])
    if body is None:
        raise not_found(_NOT_FOUND)
    return raw_json_response(body)


@MANAGE_WIDGETS
async def update_widget(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _UPDATE)
    stored = await request.app[WIDGETS].update(principal.org_id, request.match_info["id"], body)
    if stored is None:
        raise not_found(_NOT_FOUND)
    return raw_json_response(stored)


@MANAGE_WIDGETS
async def delete_widget(request: web.Request, principal: Principal) -> web.Response:
    if not await request.app[WIDGETS].delete(principal.org_id, request.match_info["id"]):
        raise not_found(_NOT_FOUND)
    return web.Response(status=204)


async def readyz(request: web.Request) -> web.Response:
    """Ready when Redis answers: without it every API call would fail."""
    redis = request.app[REDIS]
    try:
        # Retried: a pooled connection may predate a Redis restart.
        await call_with_retry(request.app[SETTINGS].redis_timeout, redis.ping)
    except REDIS_UNAVAILABLE:
        return error_response(503, "Redis is not reachable", _UNAVAILABLE)
    return json_response({"status": "ok"}, headers=_NO_STORE)
