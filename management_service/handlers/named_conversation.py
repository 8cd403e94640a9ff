"""The conversation a `/core/conversations/{conversation_id}/...` route names: its widget, or 404
(the report, end, delete and listener-token handlers)."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import KEYS, REDIS
from management_service.auth import Principal
from management_service.conversation_lookup import conversation_widget_or_404


async def named_conversation_widget(request: web.Request, principal: Principal) -> str:
    """The widget of the route's conversation, when it is the principal's organization's."""
    app = request.app
    return await conversation_widget_or_404(
        app[REDIS], app[KEYS], principal.org_id, request.match_info["conversation_id"]
    )
