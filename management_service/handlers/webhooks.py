"""The /core/webhooks handlers: endpoints, their secrets, their deliveries, test sends and
retries (logic in management_service/webhook_store.py). Scope ``webhooks:manage`` for all; a
malformed, unknown or another organization's id is 404."""

from __future__ import annotations

import msgspec
from aiohttp import web

from common.bodies import json_response, read_json
from common.pagination import decode_cursor, parse_limit
from management_service.appkeys import WEBHOOKS
from management_service.auth import MANAGE_WEBHOOKS, Principal
from management_service.handlers.idempotent import idempotent, planned
from management_service.webhook_models import WebhookCreate, WebhookUpdate
from management_service.webhook_store import DELIVERY_MEMBER

_CREATE = msgspec.json.Decoder(WebhookCreate)
_UPDATE = msgspec.json.Decoder(WebhookUpdate)
# A secret is in the create and rotate answers: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}


def _page(request: web.Request, *, deliveries: bool = False) -> tuple[str, int]:
    """The start bound and page size (delivery ids are the worker's, not UUIDs)."""
    query = request.query
    limit = parse_limit(query)
    if "cursor" not in query:
        return "+", limit
    if deliveries:
        return decode_cursor(query["cursor"], DELIVERY_MEMBER), limit
    return decode_cursor(query["cursor"]), limit


def _next(cursor: str | None) -> dict[str, str] | None:
    return {"X-Next-Cursor": cursor} if cursor else None


@MANAGE_WEBHOOKS
async def list_webhooks(request: web.Request, principal: Principal) -> web.Response:
    start, limit = _page(request)
    items, cursor = await request.app[WEBHOOKS].list_page(principal.org_id, start, limit)
    return json_response(items, headers=_next(cursor))


@MANAGE_WEBHOOKS
@idempotent
async def create_webhook(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _CREATE)
    created = await request.app[WEBHOOKS].create(principal.org_id, body, planned(request))
    return json_response(created, status=201, headers=_NO_STORE)


@MANAGE_WEBHOOKS
async def get_webhook(request: web.Request, principal: Principal) -> web.Response:
    return json_response(
        await request.app[WEBHOOKS].get(principal.org_id, request.match_info["id"])
    )


@MANAGE_WEBHOOKS
async def update_webhook(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _UPDATE)
    return json_response(
        await request.app[WEBHOOKS].update(principal.org_id, request.match_info["id"], body)
    )


@MANAGE_WEBHOOKS
async def delete_webhook(request: web.Request, principal: Principal) -> web.Response:
    await request.app[WEBHOOKS].delete(principal.org_id, request.match_info["id"])
    return web.Response(status=204)


@MANAGE_WEBHOOKS
async def rotate_secret(request: web.Request, principal: Principal) -> web.Response:
    rotated = await request.app[WEBHOOKS].rotate_secret(
        principal.org_id, request.match_info["id"]
    )
    return json_response(rotated, headers=_NO_STORE)


@MANAGE_WEBHOOKS
async def send_test(request: web.Request, principal: Principal) -> web.Response:
    queued = await request.app[WEBHOOKS].send_test(principal.org_id, request.match_info["id"])
    return json_response(queued, status=202)


@MANAGE_WEBHOOKS
async def list_deliveries(request: web.Request, principal: Principal) -> web.Response:
    start, limit = _page(request, deliveries=True)
    items, cursor = await request.app[WEBHOOKS].deliveries_page(
        principal.org_id, request.match_info["id"], start, limit
    )
    return json_response(items, headers=_next(cursor))


@MANAGE_WEBHOOKS
async def retry_delivery(request: web.Request, principal: Principal) -> web.Response:
    queued = await request.app[WEBHOOKS].retry(
        principal.org_id, request.match_info["id"], request.match_info["delivery_id"]
    )
    return json_response(queued, status=202)
