"""DELETE /core/conversations/{id} and POST /core/conversations/erase (scope
`conversations:manage`): the right to erasure. Logic in management_service/conversation_erasure.py.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from common.appkeys import SETTINGS
from common.bodies import json_response, read_json
from common.errors import not_found
from management_service.appkeys import CONVERSATION_ERASER, WIDGETS
from management_service.auth import MANAGE_CONVERSATIONS, Principal
from management_service.conversation_erasure import ConversationErase
from management_service.handlers.named_conversation import named_conversation_widget

_ERASE = msgspec.json.Decoder(ConversationErase)


@MANAGE_CONVERSATIONS
async def delete_conversation(request: web.Request, principal: Principal) -> web.Response:
    widget_id = await named_conversation_widget(request, principal)
    await request.app[CONVERSATION_ERASER].erase(widget_id, request.match_info["conversation_id"])
    return web.Response(status=204)


@MANAGE_CONVERSATIONS
async def erase_conversations(request: web.Request, principal: Principal) -> web.Response:
    app = request.app
    body = await read_json(request, _ERASE)
    if body.web_widget_id is not None and await app[WIDGETS].get(
        principal.org_id, body.web_widget_id
    ) is None:
        raise not_found("Widget not found")
    result = await app[CONVERSATION_ERASER].erase_user(
        principal.org_id, body.user_id, body.web_widget_id,
        app[SETTINGS].conversation_erase_batch,
    )
    return json_response(result)
