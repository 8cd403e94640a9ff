"""The ``Idempotency-Key`` decorator of the management API's creating handlers (the rules and the
store are in management_service/idempotency.py)."""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web
from redis.exceptions import RedisError

from common.bodies import JSON_HEADERS, read_json
from common.errors import ApiError
from common.validation import invalid
from management_service.appkeys import IDEMPOTENCY
from management_service.auth import Principal
from management_service.idempotency import (
    HEADER,
    KEY_PATTERN,
    KEY_RULE,
    REPLAYED,
    Done,
    Planned,
)

log = logging.getLogger(__name__)

_ANY_JSON = msgspec.json.Decoder(msgspec.Raw)

PLANNED = web.RequestKey("idempotency_planned", Planned)


def planned(request: web.Request) -> Planned | None:
    """The identity to create with, when the request carries an ``Idempotency-Key``."""
    return request.get(PLANNED)


def fingerprint(request: web.Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def replay(done: Done) -> web.Response:
    headers = JSON_HEADERS.copy()
    headers[REPLAYED] = "true"
    return web.Response(body=done.body, status=done.status, headers=headers)


Handler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]


def idempotent(handler: Handler) -> Handler:
    """Honour ``Idempotency-Key`` on a creating handler (inside the auth decorator)."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request, principal: Principal) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request, principal)
        if not KEY_PATTERN.match(key):
            raise invalid(["header", HEADER], f"Idempotency-Key must be {KEY_RULE}")
        await read_json(request, _ANY_JSON)  # the body's own refusals come first
        body = await request.read()  # already read: aiohttp keeps it
        store = request.app[IDEMPOTENCY]
        org_id, token = principal.org_id, secrets.token_hex(16)
        held = await store.reserve(org_id, key, fingerprint(request, body), token)
        if isinstance(held, Done):
            return replay(held)
        request[PLANNED] = held
        try:
            response = await handler(request, principal)
        except BaseException as exc:
            # A client error wrote nothing; anything else may have written.
            written = not (isinstance(exc, ApiError) and exc.status < 500)
            try:
                await store.release(org_id, key, token, written=written)
            except RedisError:  # the lease runs out on its own
                log.warning("could not release an Idempotency-Key")
            raise
        if (
            200 <= response.status < 300
            and isinstance(response, web.Response)
            and isinstance(response.body, bytes)
        ):
            try:
                await store.finish(org_id, key, token, response.status, response.body)
            except RedisError:
                # The resource exists: a retry after the lease creates with the same id, which
                # the stores answer with the existing resource.
                log.warning("could not remember an Idempotency-Key's answer")
        else:
            await store.release(org_id, key, token, written=response.status >= 500)
        return response

    return wrapper

