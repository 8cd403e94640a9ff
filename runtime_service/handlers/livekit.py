"""POST /livekit/webhook: LiveKit's signed room and participant events (not a browser route)."""

from __future__ import annotations

from aiohttp import web

from common.bodies import json_response, read_body
from common.errors import ApiError
from common.models.conversation import OkStatus
from common.timeutil import now_ms
from runtime_service.appkeys import CONVERSATIONS, LIFECYCLE, WEBHOOK_OUTCOMES, WEBHOOK_RECEIVER
from runtime_service.livekit_webhook import fact_of, verify

_OK = OkStatus()
_OUTCOMES = {"ok": "applied", "not_found": "unknown_conversation"}


async def livekit_webhook(request: web.Request) -> web.Response:
    app = request.app
    outcomes = app[WEBHOOK_OUTCOMES]
    body = await read_body(request)  # 413 past the app's client_max_size; 408 when stalled
    try:
        event = verify(app[WEBHOOK_RECEIVER], body, request.headers.get("Authorization"))
    except ApiError as exc:
        outcomes["unauthorized" if exc.status == 401 else "malformed"] += 1
        raise
    now = now_ms()
    found = fact_of(event, body, now // 1000)
    # Unused events and rooms that are not conversations are answered 200: LiveKit would
    # otherwise retry them.
    if found is None:
        outcomes["ignored"] += 1
        return json_response(_OK)
    conversation_id, fact = found
    widget_id = await app[CONVERSATIONS].owner(conversation_id)
    if widget_id is None:
        outcomes["unknown_conversation"] += 1
        return json_response(_OK)
    result = await app[LIFECYCLE].event(widget_id, conversation_id, fact, now)
    # not_found: the conversation expired between the locator and the script.
    outcomes[_OUTCOMES.get(result.outcome, result.outcome)] += 1
    return json_response(_OK)
