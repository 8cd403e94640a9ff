"""POST /core/web-widgets/{id}/auto-brand: brand data for a domain, to pre-fill ``config.v1``.

Only returns data; the widget is not written. Statuses: 200 brand; 404 unknown widget, no brand,
or a domain that does not exist; 422 a bad domain, or one that resolves only to addresses
auto-brand will not fetch (the client's input, never a 5xx); 502 a site that exists but could not
be reached, redirected somewhere refused, or answered unusably; 504 the site did not answer in
time. Outcomes are cached per domain (see
``branding.cache``), failures included.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from common.bodies import json_response, read_json
from common.errors import ApiError, ValidationIssue, not_found
from common.validation import invalid
from management_service.appkeys import BRANDS, WIDGETS
from management_service.auth import MANAGE_WIDGETS, Principal
from management_service.branding.models import AutoBrandRequest, Lookup
from management_service.branding.target import TargetError

_REQUEST = msgspec.json.Decoder(AutoBrandRequest)
_NO_STORE = {"Cache-Control": "no-store"}
STATUSES = {
    "found": 200,
    "not_found": 404,
    "no_such_domain": 404,
    "blocked": 422,
    "redirect_blocked": 502,
    "unreachable": 502,
    "unusable": 502,
    "timeout": 504,
}


@MANAGE_WIDGETS
async def auto_brand(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _REQUEST)
    brands = request.app[BRANDS]
    try:
        target = brands.target(body.domain)
    except TargetError as exc:
        raise invalid(["body", "domain"], str(exc)) from None
    if await request.app[WIDGETS].get(principal.org_id, request.match_info["id"]) is None:
        raise not_found("Widget not found")
    return respond(await brands.lookup(target))


def respond(lookup: Lookup) -> web.Response:
    if lookup.outcome == "found" and lookup.brand is not None:
        return json_response(lookup.brand, headers=_NO_STORE)
    if lookup.outcome == "not_found":
        raise not_found("No brand found for this domain")
    if lookup.outcome == "blocked":
        issue = ValidationIssue(["body", "domain"], lookup.detail, "value_error")
        raise ApiError(422, [issue], _NO_STORE)
    raise ApiError(STATUSES.get(lookup.outcome, 502), lookup.detail, _NO_STORE)
