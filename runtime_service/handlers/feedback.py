"""POST /core/public/web-widgets/{id}/conversations/{conversation_id}/feedback."""

from __future__ import annotations

from functools import partial

import msgspec
from aiohttp import web

from common.bodies import NO_STORE_JSON_HEADERS, json_response, read_json
from common.errors import ApiError
from common.ids import is_uuid
from common.models.conversation import FeedbackSubmit, OkStatus
from runtime_service.appkeys import CONVERSATIONS, RATE_LIMITS
from runtime_service.client_address import client_address
from runtime_service.feedback import submit_feedback as submit
from runtime_service.handlers.conversations import widget_or_404

_SUBMIT = msgspec.json.Decoder(FeedbackSubmit)
_OK = OkStatus()


async def submit_feedback(request: web.Request) -> web.Response:
    app = request.app
    widget = await widget_or_404(app, request)
    conversation_id = request.match_info["conversation_id"]
    if not is_uuid(conversation_id):
        raise ApiError(404, "Conversation not found")
    body = await read_json(request, _SUBMIT)
    limits = app[RATE_LIMITS]
    address = partial(client_address, request, limits.trusted_proxies)
    await limits.hit(address, "feedback", widget.id, conversation_id)
    await submit(app[CONVERSATIONS], widget, conversation_id, body)
    return json_response(_OK, base=NO_STORE_JSON_HEADERS)
