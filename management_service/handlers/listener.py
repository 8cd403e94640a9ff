"""POST /core/conversations/{id}/listener-token: live monitoring of a conversation in progress
(scope `conversations:read_sensitive`)."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import KEYS, REDIS, SETTINGS
from common.bodies import NO_STORE_JSON_HEADERS, json_response
from management_service.auth import READ_SENSITIVE_CONVERSATIONS, Principal
from management_service.handlers.named_conversation import named_conversation_widget
from management_service.listener_tokens import ListenerToken, current_room, mint_listener_token


@READ_SENSITIVE_CONVERSATIONS
async def listener_token(request: web.Request, principal: Principal) -> web.Response:
    app = request.app
    conversation_id = request.match_info["conversation_id"]
    widget_id = await named_conversation_widget(request, principal)
    room = await current_room(app[REDIS], app[KEYS], widget_id, conversation_id)
    settings = app[SETTINGS]
    token = mint_listener_token(
        settings.livekit_api_key, settings.livekit_api_secret, room, settings.listener_token_ttl
    )
    # It carries a credential: never cached.
    answer = ListenerToken(url=settings.livekit_url, token=token, room=room)
    return json_response(answer, base=NO_STORE_JSON_HEADERS)
