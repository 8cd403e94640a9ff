"""Authentication and scope checks for the management API.

401: no credential, a malformed/unknown/expired/revoked one, or a ``pat_`` without
``X-Anyreach-Org``. 403: a valid credential that lacks the scope, or a ``pat_`` whose user is not
a member of the named organization (an unknown organization looks the same, so nothing leaks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

import msgspec
from aiohttp import web

from common.errors import ApiError
from common.ids import is_uuid
from management_service.appkeys import CREDENTIALS

ORG_HEADER = "X-Anyreach-Org"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
EXPECTED_AUTHORIZATION = (
    "Not authenticated: expected `Authorization: Bearer <credential>`, the credential an org API"
    " key (ak_...) or a personal access token (pat_..., with X-Anyreach-Org)"
)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    org_id: str
    credential_id: str
    kind: str
    scopes: frozenset[str]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, _CHALLENGE)


async def authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise _unauthorized("Not authenticated")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(EXPECTED_AUTHORIZATION)
    credential = await request.app[CREDENTIALS].verify(token.strip())
    if credential is None:
        raise _unauthorized("Invalid or expired credentials")
    org_header = request.headers.get(ORG_HEADER)
    if credential.kind == "ak":
        assert credential.org_id is not None
        # An API key carries its org; naming another one is a request we must not honour.
        if org_header is not None and org_header != credential.org_id:
            raise ApiError(403, "This API key belongs to another organization")
        org_id = credential.org_id
    else:
        if not org_header:
            raise _unauthorized("Token is missing organization claim.")
        assert credential.user_id is not None
        if not is_uuid(org_header) or not await request.app[CREDENTIALS].is_member(
            credential.user_id, org_header
        ):
            raise ApiError(403, "Not a member of this organization")
        org_id = org_header
    return Principal(
        org_id=org_id,
        credential_id=credential.id,
        kind=credential.kind,
        scopes=frozenset(credential.scopes),
    )


Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]


def requires(
    *scopes: str,
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Authenticate, then require at least one of ``scopes`` (the reference's any-of rule)."""

    def decorate(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            principal = await authenticate(request)
            if principal.scopes.isdisjoint(scopes):
                raise ApiError(403, f"Missing required scope: one of {', '.join(scopes)}")
            return await handler(request, principal)

        return wrapper

    return decorate


READ_WIDGETS = requires("web_widgets:read", "web_widgets:manage")
MANAGE_WIDGETS = requires("web_widgets:manage")
READ_AGENTS = requires("agents:read", "agents:manage")
MANAGE_AGENTS = requires("agents:manage")
# Either read scope lists and gets; what comes back depends on `conversations:read_sensitive`.
READ_CONVERSATIONS = requires(
    "conversations:read", "conversations:read_sensitive", "conversations:manage"
)
READ_SENSITIVE_CONVERSATIONS = requires("conversations:read_sensitive")
MANAGE_CONVERSATIONS = requires("conversations:manage")
MANAGE_WEBHOOKS = requires("webhooks:manage")
