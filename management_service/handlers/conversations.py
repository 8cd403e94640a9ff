"""The owner's conversations: GET /core/conversations and .../{id} (any conversations scope; the
sensitive fields only with `conversations:read_sensitive`), and POST .../{id}/report and /end,
the agent's worker (scope `conversations:manage`)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from common.appkeys import SETTINGS
from common.bodies import NO_STORE_JSON_HEADERS, json_response, read_json
from common.errors import ApiError, not_found
from common.timeutil import now_ms
from management_service.appkeys import CONVERSATION_ENDS, OWNER_CONVERSATIONS
from management_service.auth import MANAGE_CONVERSATIONS, READ_CONVERSATIONS, Principal
from management_service.conversation_query import parse_owner_query
from management_service.conversation_reports import (
    MAX_TRANSCRIPT_BYTES,
    MAX_TRANSCRIPT_ITEMS,
    ConversationReport,
    checked,
)
from management_service.handlers.named_conversation import named_conversation_widget

_REPORT = msgspec.json.Decoder(ConversationReport)
SENSITIVE = "conversations:read_sensitive"


@READ_CONVERSATIONS
async def list_conversations(request: web.Request, principal: Principal) -> web.Response:
    query = parse_owner_query(request.query)
    sensitive = SENSITIVE in principal.scopes
    # Matching on custom_metadata would reveal its values one guess at a time.
    if query.filters.custom_metadata is not None and not sensitive:
        raise ApiError(403, f"Filtering on custom_metadata needs the scope {SENSITIVE}")
    items, cursor = await request.app[OWNER_CONVERSATIONS].list_page(
        principal.org_id, query, sensitive
    )
    return json_response(
        items, headers={"X-Next-Cursor": cursor} if cursor else None, base=NO_STORE_JSON_HEADERS
    )


@READ_CONVERSATIONS
async def get_conversation(request: web.Request, principal: Principal) -> web.Response:
    item = await request.app[OWNER_CONVERSATIONS].get(
        principal.org_id, request.match_info["conversation_id"], SENSITIVE in principal.scopes
    )
    if item is None:
        raise not_found("Conversation not found")
    return json_response(item, base=NO_STORE_JSON_HEADERS)


@MANAGE_CONVERSATIONS
async def report_conversation(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _REPORT)
    widget_id = await named_conversation_widget(request, principal)
    fields = msgspec.to_builtins(body)
    ends = request.app[CONVERSATION_ENDS]
    result = checked(await ends.lifecycle.report(
        widget_id, request.match_info["conversation_id"], fields, now_ms(),
        MAX_TRANSCRIPT_ITEMS, MAX_TRANSCRIPT_BYTES, request.app[SETTINGS].report_grace * 1000,
    ))
    return json_response(result.summary())


@MANAGE_CONVERSATIONS
async def end_conversation(request: web.Request, principal: Principal) -> web.Response:
    widget_id = await named_conversation_widget(request, principal)
    conversation_id = request.match_info["conversation_id"]
    ended = await request.app[CONVERSATION_ENDS].end(widget_id, conversation_id, now_ms())
    return json_response(ended)
