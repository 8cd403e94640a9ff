"""GET /core/web-widgets/{id}/stats: a widget's daily counters (scope `web_widgets:read` or
`web_widgets:manage`; another organization's widget is 404)."""

from __future__ import annotations

from aiohttp import web

from common.appkeys import KEYS, REDIS
from common.bodies import json_response
from common.errors import not_found
from common.models.widget_config import feedback_fields, stored_v1
from management_service.appkeys import WIDGETS
from management_service.auth import READ_WIDGETS, Principal
from management_service.widget_stats import read_stats, stats_range


@READ_WIDGETS
async def widget_stats(request: web.Request, principal: Principal) -> web.Response:
    first, last = stats_range(request.query)
    widget = await request.app[WIDGETS].get(principal.org_id, request.match_info["id"])
    if widget is None:
        raise not_found("Widget not found")
    # The current feedback form's rating fields are listed even on days without feedback.
    stats = await read_stats(
        request.app[REDIS], request.app[KEYS], widget.id, first, last,
        feedback_fields(stored_v1(widget.config)),
    )
    return json_response(stats)
