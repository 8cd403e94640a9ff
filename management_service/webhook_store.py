"""Webhook endpoints in Redis: the records, the org's index, secrets, and the targeted sends.

The record (``StoredEndpoint`` JSON at ``keys.webhook(id)``) lives in the endpoint's hash slot
with its deliveries; the org's index (``keys.org_webhooks(org)``, member ``<created_ms>:<id>``)
in the org's slot. As with widgets, create adds the index entry before the record and delete
removes the record before the entry; listing skips (and in time removes) entries without a
record. The delivery worker reads the record at every delivery and may rewrite it (to disable
the endpoint), so every rewrite here is a compare-and-set.

Secrets are kept in clear (the signer needs them), newest first; a rotated-out secret gets
``expires_ms`` 24 hours ahead and keeps signing until then; expired ones are dropped on write.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from aiohttp.abc import AbstractResolver
from msgspec import UNSET
from redis.asyncio import Redis

from common.errors import ApiError, not_found
from common.ids import is_uuid, new_id
from common.lifecycle.events import event_json, new_event_id, xadd_command
from common.models.webhooks import (
    EVENT_TYPES,
    TEST_EVENT,
    SigningSecret,
    StoredDelivery,
    StoredEndpoint,
    WebhookDelivery,
    WebhookEndpoint,
)
from common.pagination import collect_page, index_member
from common.redis_batch import RedisBatch
from common.redis_client import as_bytes, read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, ms_from_iso, now_ms
from common.validation import invalid
from management_service.idempotency import Planned
from management_service.org_index import org_index_entries
from management_service.webhook_egress import (
    EgressRefused,
    WebhookEgressPolicy,
    resolve_allowed,
)
from management_service.webhook_models import (
    WebhookCreate,
    WebhookSendAccepted,
    WebhookUpdate,
    WebhookWithSecret,
)
from management_service.widgets_store import KeyedLocks

log = logging.getLogger(__name__)

S = TypeVar("S", bound=msgspec.Struct)

MAX_ENDPOINTS = 20  # per organization; one more is 409
MAX_SECRETS = 5  # the newest and up to four rotated-out ones still inside their 24 hours
ROTATION_OVERLAP_MS = 24 * 3600 * 1000
SECRET_BYTES = 24  # as Svix: 192 bits, 32 Base64 characters without padding
SECRET_PREFIX = "whsec_"
# Delivery ids are the worker's; anything else in a path is simply not found.
DELIVERY_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
DELIVERY_MEMBER = re.compile(r"^\d{13}:[A-Za-z0-9_-]{1,100}$(?!\n)")

_ENC = msgspec.json.Encoder()
_ENDPOINT = msgspec.json.Decoder(StoredEndpoint)
_DELIVERY = msgspec.json.Decoder(StoredDelivery)
_EVENT = msgspec.json.Decoder(dict[str, Any])
CAS_SET = read_script(__file__, "cas_set.lua")
RESERVE = read_script(__file__, "webhook_reserve.lua")
_ATTEMPTS = 8
_NOT_FOUND = "Webhook endpoint not found"
_CONFLICT = "The webhook endpoint was modified concurrently; retry"
_DISABLED = "The webhook endpoint is disabled; enable it first (PUT {\"enabled\": true})"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def narrow(item: msgspec.Struct, cls: type[S]) -> S:
    """``item`` as its base Struct ``cls`` (the stored extras, secrets or payload, left out)."""
    return cls(**{name: getattr(item, name) for name in cls.__struct_fields__})


def with_secret(endpoint: StoredEndpoint) -> WebhookWithSecret:
    return WebhookWithSecret(**msgspec.structs.asdict(narrow(endpoint, WebhookEndpoint)),
                             secret=endpoint.secrets[0].secret)


def live_secrets(kept: list[SigningSecret], now: int) -> list[SigningSecret]:
    return [s for s in kept if s.expires_ms is None or s.expires_ms > now]


def rotated(kept: list[SigningSecret], now: int) -> list[SigningSecret]:
    """A new secret first; the current one (and older ones) keep signing until their expiry."""
    old = [
        SigningSecret(secret=s.secret, expires_ms=s.expires_ms or now + ROTATION_OVERLAP_MS)
        for s in live_secrets(kept, now)
    ]
    return [SigningSecret(secret=new_secret()), *old[: MAX_SECRETS - 1]]


def check_events(events: list[str], loc: list[str | int]) -> list[str]:
    """The subscribed types, each once, in the given order; an unknown one is a 422 at its index."""
    for index, kind in enumerate(events):
        if kind not in EVENT_TYPES:
            raise invalid([*loc, index], f"Unknown event type {kind!r}; expected one of: "
                          + ", ".join(EVENT_TYPES))
    return list(dict.fromkeys(events))


def _routing(event: dict[str, Any]) -> tuple[str, str]:
    """``(web_widget_id, conversation_id)`` of a stored event, for its stream entry's fields."""
    kind, data = event.get("type"), event.get("data")
    if not isinstance(data, dict) or kind == TEST_EVENT:
        return "", ""
    if isinstance(kind, str) and kind.startswith("widget."):
        return str(data.get("id") or ""), ""
    conversation = data.get("conversation_id") or data.get("id") or ""
    return str(data.get("web_widget_id") or ""), str(conversation)


class WebhookStore:
    def __init__(
        self, redis: Redis, keys: RedisKeys, policy: WebhookEgressPolicy,
        resolver: AbstractResolver, events_retention: int, batch: RedisBatch | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        # The app's command batch (common/redis_batch.py), for the list page's reads.
        self.batch = batch if batch is not None else RedisBatch(redis)
        self.policy = policy
        self.resolver = resolver
        self.events_retention = events_retention
        self._cas_set = register(redis, CAS_SET)
        self._reserve = register(redis, RESERVE)
        self._writers = KeyedLocks()

    # --- reading ------------------------------------------------------------------------------

    async def _load(self, org_id: str, endpoint_id: str) -> tuple[bytes, StoredEndpoint]:
        """The raw record and the endpoint; 404 when unknown, malformed or another org's."""
        if is_uuid(endpoint_id):
            raw = as_bytes(await self.redis.get(self.keys.webhook(endpoint_id)))
            if raw is not None:
                endpoint = _ENDPOINT.decode(raw)
                if endpoint.organization_id == org_id:
                    return raw, endpoint
        raise not_found(_NOT_FOUND)

    async def get(self, org_id: str, endpoint_id: str) -> WebhookEndpoint:
        return narrow((await self._load(org_id, endpoint_id))[1], WebhookEndpoint)

    # --- validation ---------------------------------------------------------------------------

    async def _check_url(self, url: str) -> None:
        """422 on ``url`` unless its form is right and every address its host resolves to may
        receive webhooks (management_service/webhook_egress.py)."""
        try:
            await resolve_allowed(url, self.policy, self.resolver)
        except EgressRefused as exc:
            raise invalid(["body", "url"], f"Webhook URL refused: {exc}") from None

    # --- writing ------------------------------------------------------------------------------

    async def create(
        self, org_id: str, body: WebhookCreate, planned: Planned | None = None
    ) -> WebhookWithSecret:
        """``planned``: the id and time an Idempotency-Key fixed; an endpoint an earlier attempt
        wrote under it is the answer (with its secret: the replayed creation)."""
        events = check_events(body.events, ["body", "events"])
        await self._check_url(body.url)
        index = self.keys.org_webhooks(org_id)
        for _ in range(_ATTEMPTS):
            created_ms = planned.created_ms if planned else now_ms()
            created_at = iso_from_ms(created_ms)
            endpoint = StoredEndpoint(
                id=planned.id if planned else new_id(), organization_id=org_id, url=body.url,
                events=events, description=body.description,
                enabled=body.enabled, disabled_reason=None, created_at=created_at,
                updated_at=created_at, secrets=[SigningSecret(secret=new_secret())],
            )
            member = index_member(created_ms, endpoint.id)
            # Index entry first (listing skips it until the record exists), within the limit.
            if not await self._reserve_entry(org_id, member):
                raise ApiError(409, f"An organization may have at most {MAX_ENDPOINTS} webhook "
                               "endpoints; delete one first")
            key = self.keys.webhook(endpoint.id)
            if await self.redis.set(key, _ENC.encode(endpoint), nx=True):
                return with_secret(endpoint)
            if planned is not None:
                raw = as_bytes(await self.redis.get(key))
                existing = None if raw is None else _ENDPOINT.decode(raw)
                if existing is None or existing.organization_id != org_id:
                    raise ApiError(409, "Could not create the webhook endpoint; retry")
                return with_secret(existing)
            await self.redis.zrem(index, member)  # an id collision: try a fresh id
        raise ApiError(409, "Could not allocate a webhook endpoint id; retry")

    async def _reserve_entry(self, org_id: str, member: str) -> bool:
        index = self.keys.org_webhooks(org_id)
        if await self._reserve(keys=[index], args=[member, MAX_ENDPOINTS]):
            return True
        # At the limit: entries whose record never came (a crashed create) must not count.
        await self.list_page(org_id, "+", MAX_ENDPOINTS)
        return bool(await self._reserve(keys=[index], args=[member, MAX_ENDPOINTS]))

    async def _rewrite(
        self, org_id: str, endpoint_id: str, change: Callable[[StoredEndpoint, int], bool]
    ) -> StoredEndpoint:
        """Compare-and-set ``change(endpoint, now)`` (which edits in place; False: nothing to
        write) onto the record, retried when the worker or another pod wrote meanwhile."""
        async with self._writers.hold(endpoint_id):
            for _ in range(_ATTEMPTS):
                raw, endpoint = await self._load(org_id, endpoint_id)
                now = now_ms()
                if not change(endpoint, now):
                    return endpoint
                endpoint.secrets = live_secrets(endpoint.secrets, now)
                endpoint.updated_at = iso_from_ms(now)
                new = _ENC.encode(endpoint)
                if await self._cas_set(keys=[self.keys.webhook(endpoint_id)], args=[raw, new]):
                    return endpoint
        raise ApiError(409, _CONFLICT)

    async def update(
        self, org_id: str, endpoint_id: str, changes: WebhookUpdate
    ) -> WebhookEndpoint:
        """Replace the fields present in ``changes``; nothing present writes nothing.
        Re-enabling clears ``disabled_reason`` (why the worker disabled it)."""
        await self._load(org_id, endpoint_id)  # 404 before any DNS lookup
        new: dict[str, Any] = {}
        if changes.events is not UNSET:
            new["events"] = check_events(changes.events, ["body", "events"])
        if changes.url is not UNSET:
            await self._check_url(changes.url)
            new["url"] = changes.url
        if changes.description is not UNSET:
            new["description"] = changes.description
        if changes.enabled is not UNSET:
            new["enabled"] = changes.enabled
            if changes.enabled:
                new["disabled_reason"] = None

        def change(endpoint: StoredEndpoint, now: int) -> bool:
            for name, value in new.items():
                setattr(endpoint, name, value)
            return bool(new)

        return narrow(await self._rewrite(org_id, endpoint_id, change), WebhookEndpoint)

    async def rotate_secret(self, org_id: str, endpoint_id: str) -> WebhookWithSecret:
        def change(endpoint: StoredEndpoint, now: int) -> bool:
            endpoint.secrets = rotated(endpoint.secrets, now)
            return True

        return with_secret(await self._rewrite(org_id, endpoint_id, change))

    async def delete(self, org_id: str, endpoint_id: str) -> None:
        """Record, then index entry, then the deliveries (records and index). The worker drops
        pending deliveries of an endpoint whose record is gone."""
        _, endpoint = await self._load(org_id, endpoint_id)
        await self.redis.delete(self.keys.webhook(endpoint_id))
        member = index_member(ms_from_iso(endpoint.created_at), endpoint_id)
        await self.redis.zrem(self.keys.org_webhooks(org_id), member)
        await self._drop_deliveries(endpoint_id)

    async def _drop_deliveries(self, endpoint_id: str) -> None:
        index = self.keys.webhook_deliveries(endpoint_id)
        while members := await self.redis.zrangebylex(index, "-", "+", start=0, num=500):
            names = [as_bytes(m).decode() for m in members]
            # Same slot ({h:<id>}): one multi-key UNLINK works on a cluster too.
            await self.redis.unlink(*(self.keys.webhook_delivery(endpoint_id,
                                                                 n.partition(":")[2])
                                      for n in names))
            await self.redis.zrem(index, *names)
        await self.redis.unlink(index)

    # --- listing ------------------------------------------------------------------------------

    async def list_page(
        self, org_id: str, start: str, limit: int
    ) -> tuple[list[WebhookEndpoint], str | None]:
        """One page, newest first, from the exclusive lex bound ``start`` (``+`` for the top)."""
        index = self.keys.org_webhooks(org_id)

        async def fetch(bound: str, count: int) -> list[tuple[str, WebhookEndpoint | None]]:
            entries = await org_index_entries(
                self.batch, index, org_id, bound, count, self.keys.webhook, _ENDPOINT.decode
            )
            return [(m, None if e is None else narrow(e, WebhookEndpoint)) for m, e in entries]

        return await collect_page(fetch, lambda _: True, start, limit)

    async def deliveries_page(
        self, org_id: str, endpoint_id: str, start: str, limit: int
    ) -> tuple[list[WebhookDelivery], str | None]:
        """The endpoint's deliveries, newest first (the worker writes them; entries whose
        record is missing are skipped, not removed: the index is the worker's)."""
        await self._load(org_id, endpoint_id)
        index = self.keys.webhook_deliveries(endpoint_id)

        async def fetch(bound: str, count: int) -> list[tuple[str, WebhookDelivery | None]]:
            found = await self.redis.zrevrangebylex(index, bound, "-", start=0, num=count)
            members = [as_bytes(member).decode() for member in found]
            if not members:
                return []
            raws = await self.redis.mget(
                [self.keys.webhook_delivery(endpoint_id, m.partition(":")[2]) for m in members]
            )
            items = [self._delivery(endpoint_id, as_bytes(raw)) for raw in raws]
            return list(zip(members, items, strict=True))

        return await collect_page(fetch, lambda _: True, start, limit)

    @staticmethod
    def _delivery(endpoint_id: str, raw: bytes | None) -> WebhookDelivery | None:
        if raw is None:
            return None
        try:
            delivery = _DELIVERY.decode(raw)
        except msgspec.DecodeError:
            log.warning("skipped an unreadable webhook delivery record of %s", endpoint_id)
            return None
        return narrow(delivery, WebhookDelivery) if delivery.endpoint_id == endpoint_id else None

    # --- targeted sends -----------------------------------------------------------------------

    async def _xadd(
        self, org_id: str, endpoint_id: str, event: dict[str, Any], payload: bytes | str,
        retry_of: str = "",
    ) -> None:
        widget_id, conversation_id = _routing(event)
        await self.redis.execute_command(*xadd_command(  # type: ignore[no-untyped-call]
            self.keys, str(event["id"]), str(event["type"]), org_id, widget_id,
            conversation_id, payload, now_ms(), self.events_retention,
            endpoint_id=endpoint_id, retry_of=retry_of,
        ))

    async def send_test(self, org_id: str, endpoint_id: str) -> WebhookSendAccepted:
        """Queue a ``webhook.test`` event for this endpoint only; 409 when it is disabled."""
        _, endpoint = await self._load(org_id, endpoint_id)
        if not endpoint.enabled:
            raise ApiError(409, _DISABLED)
        event_id, now = new_event_id(), now_ms()
        data = {"endpoint_id": endpoint_id, "organization_id": org_id}
        payload = event_json(event_id, TEST_EVENT, iso_from_ms(now), data)
        event = {"id": event_id, "type": TEST_EVENT, "data": data}
        await self._xadd(org_id, endpoint_id, event, payload)
        return WebhookSendAccepted(endpoint_id=endpoint_id, event_id=event_id,
                                   event_type=TEST_EVENT, retry_of=None)

    async def retry(
        self, org_id: str, endpoint_id: str, delivery_id: str
    ) -> WebhookSendAccepted:
        """Queue a delivery's original event again, for this endpoint only, with the same event
        id (so the same ``webhook-id``); 409 when the endpoint is disabled."""
        _, endpoint = await self._load(org_id, endpoint_id)
        raw = None
        if DELIVERY_ID.fullmatch(delivery_id):
            raw = as_bytes(await self.redis.get(self.keys.webhook_delivery(endpoint_id,
                                                                           delivery_id)))
        delivery = None
        if raw is not None:
            try:
                delivery = _DELIVERY.decode(raw)
            except msgspec.DecodeError:
                delivery = None
        if delivery is None or delivery.endpoint_id != endpoint_id:
            raise not_found("Delivery not found")
        if not endpoint.enabled:
            raise ApiError(409, _DISABLED)
        try:
            event = _EVENT.decode(delivery.payload)
        except msgspec.DecodeError:
            event = {}
        if not (isinstance(event.get("id"), str) and isinstance(event.get("type"), str)):
            raise ApiError(409, "The delivery's stored event cannot be sent again")
        await self._xadd(org_id, endpoint_id, event, delivery.payload, retry_of=delivery_id)
        return WebhookSendAccepted(endpoint_id=endpoint_id, event_id=event["id"],
                                   event_type=event["type"], retry_of=delivery_id)
