"""POST and GET /core/public/web-widgets/{id}/conversations: start or resume, and the list."""

from __future__ import annotations

from functools import partial

import msgspec
from aiohttp import web

from common.bodies import NO_STORE_JSON_HEADERS, json_response, read_json
from common.errors import ApiError
from common.models.conversation import ConversationStart
from runtime_service.appkeys import CONVERSATIONS, RATE_LIMITS, STARTER, WIDGET_SOURCE
from runtime_service.client_address import client_address
from runtime_service.conversation_query import parse_list_query
from runtime_service.handlers.widget import published_or_404, resolved_widget
from runtime_service.public_widget import PublicWidget
from runtime_service.rate_limits import Action

_START = msgspec.json.Decoder(ConversationStart)


async def widget_or_404(app: web.Application, request: web.Request) -> PublicWidget:
    # The app is passed in: each request.app is a chain of Python properties.
    widget = resolved_widget(request)
    if widget is None:
        source, widget_id = app[WIDGET_SOURCE], request.match_info["id"]
        widget = source.hit(widget_id) or await source.get(widget_id)
    if widget is None:
        raise ApiError(404, "Widget not found")
    return widget


async def start_conversation(request: web.Request) -> web.Response:
    app = request.app
    widget = await widget_or_404(app, request)
    body = await read_json(request, _START)
    action: Action = "start" if body.conversation_id is None else "resume"
    limits = app[RATE_LIMITS]
    await limits.hit(partial(client_address, request, limits.trusted_proxies), action, widget.id)
    starter = app[STARTER]
    if body.conversation_id is None:
        started = await starter.start(widget, body)
    else:
        started = await starter.resume(widget, body.conversation_id, body.user_id, body.locale)
    return json_response(started, base=NO_STORE_JSON_HEADERS)


async def list_conversations(request: web.Request) -> web.Response:
    app = request.app
    # Like the widget GET: an unpublished widget's list is not public (feedback still is).
    widget = published_or_404(await widget_or_404(app, request))
    query = parse_list_query(
        request.query, visitor_only=widget.conversation_list == "visitor"
    )
    limits = app[RATE_LIMITS]
    await limits.hit(partial(client_address, request, limits.trusted_proxies), "list", widget.id)
    if not query.webrtc:
        return json_response([], base=NO_STORE_JSON_HEADERS)
    items, cursor = await app[CONVERSATIONS].list_page(
        widget.id, query.filters, query.start, query.limit
    )
    headers = {"X-Next-Cursor": cursor} if cursor else None
    return json_response(items, headers=headers, base=NO_STORE_JSON_HEADERS)
