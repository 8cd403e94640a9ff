"""Tenant isolation, as one matrix generated from the management app's own route table.

Two organizations, A and B, each with an agent, a published and a draft version, and a widget.
For every route the router holds (HEAD included) and each credential type of org A (an ``ak_``
key, and a ``pat_`` of a user who is a member of A only), with each scope set (the family's read
scope, its manage scope, or only the other family's scopes):

- a request naming B's resources (in the path or in the body) gets exactly the answer (status,
  body, headers) that the same request naming ids that never existed gets: no existence leak;
- the status is the one the route gives unknown ids (404, or 422 for ids in a body), or 403 when
  the scope is not enough (the reference's any-of rule: reads accept read or manage, writes need
  manage), and 403 too says nothing about existence;
- the same credential on org A's own resource succeeds, so the 404 comes from isolation and not
  from a broken route;
- no response to org A ever contains an id of org B, and every piece of B's state in Redis is
  byte for byte unchanged afterwards (and reads back unchanged through B's own key);
- a ``pat_`` naming an org its user is not a member of, or an ``ak_`` naming another org, gets
  403 whether that org exists or not; a missing, unknown, wrong-secret, revoked or expired
  credential, or a ``pat_`` without ``X-Anyreach-Org``, gets 401 with ``WWW-Authenticate``.

A route without a case here fails the matrix, so a new route cannot skip isolation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from common.http import UNROUTED
from common.ids import new_id
from common.pagination import index_member
from common.timeutil import ms_from_iso, now_ms
from management_service.app import create_app
from management_service.branding.models import Brand, BrandColors, BrandConfigV1, Lookup
from management_service.branding.service import BrandService
from management_service.credentials import CredentialStore
from tests.support.conversations import store_doc
from tests.support.settings import ALL_SCOPES, make_settings
from tests.support.webhooks import write_delivery
from tests.support.widget_helpers import create_widget, expect, make_version

# Routes with no organization data, reachable without a credential.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"), ("GET", "/metrics"),
}  # fmt: skip
# Headers that differ between any two responses, whatever they answer.
_VOLATILE = {"Date", "X-Request-ID"}
AGENT_CONFIG = {"livekit_agent_name": "support-agent"}


def router_routes() -> list[tuple[str, str]]:
    """Every (method, path template) the management app registers; building the app does no I/O.
    The catch-all that answers JSON 404/405 for every other path is not a route of its own."""
    app = create_app(make_settings("management", "redis://127.0.0.1:1"))
    return sorted(
        {(route.method, route.resource.canonical) for route in app.router.routes()
         if route.resource is not None and route.resource.name != UNROUTED}
    )


ROUTES = router_routes()
ORGANIZATION_ROUTES = [
    (method, template) for method, template in ROUTES
    if ("GET" if method == "HEAD" else method, template) not in PUBLIC
]


# --- the two organizations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ids:
    org: str
    agent: str
    version: str  # published, version number 1, the widget's version
    draft: str  # unpublished, version number 2
    widget: str
    conversation: str  # a conversation of the widget (as the runtime would have started it)
    webhook: str  # a webhook endpoint
    delivery: str  # a delivery to that endpoint (as the worker writes it)


def ghost() -> Ids:
    """Ids that never existed, in the same shape as a real organization's."""
    return Ids(org=new_id(), agent=new_id(), version=new_id(), draft=new_id(), widget=new_id(),
               conversation=new_id(), webhook=new_id(), delivery=new_delivery_id())


def new_delivery_id() -> str:
    return "dlv_" + new_id().replace("-", "")


@dataclass
class World:
    client: Any
    redis: Redis
    credentials: CredentialStore
    a: Ids
    b: Ids
    a_admin: dict[str, str]  # every scope, org A: sets up A's own resources
    b_admin: dict[str, str]
    member: str  # a user who is a member of A only
    brand_lookups: list[str]

    async def fresh_widget(self) -> str:
        pair = (self.a.agent, self.a.version)
        return (await create_widget(self.client, self.a_admin, pair))["id"]

    async def fresh_draft(self) -> str:
        return (await make_version(self.client, self.a_admin, self.a.agent))[1]

    async def fresh_webhook(self) -> str:
        return await create_webhook(self.client, self.a_admin)


async def seed_org(client: Any, credentials: CredentialStore) -> tuple[Ids, dict[str, str]]:
    org = await credentials.create_org("Org")
    token, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    admin = {"Authorization": f"Bearer {token}"}
    agent, version = await make_version(client, admin, published=True)
    _, draft = await make_version(client, admin, agent)
    widget = await create_widget(client, admin, (agent, version), published=True,
                                 domains=["https://shop.example"])
    conversation = await seed_conversation(credentials, org.id, widget["id"], agent, version)
    webhook, delivery = await create_webhook(client, admin), new_delivery_id()
    await write_delivery(credentials.redis, credentials.keys, webhook, delivery, now_ms())
    return Ids(org.id, agent, version, draft, widget["id"], conversation, webhook,
               delivery), admin


async def create_webhook(client: Any, admin: dict[str, str]) -> str:
    # A public address literal: registration needs no DNS lookup.
    resp = await client.post(WH, json={"url": "https://93.184.215.14/hook"}, headers=admin)
    return (await expect(resp, 201))["id"]  # type: ignore[no-any-return]


async def seed_conversation(
    credentials: CredentialStore, org_id: str, widget_id: str, agent: str, version: str
) -> str:
    """A conversation as the runtime's start stores it (hash, owner locator and indexes)."""
    cid, keys, now = new_id(), credentials.keys, "2026-01-01T00:00:00.000Z"
    member = index_member(ms_from_iso(now), cid)
    doc = {"id": cid, "organization_id": org_id, "direction": "inbound", "channel": "webrtc",
           "status": "token_created", "user_id": "u1", "agent_id": agent,
           "agent_version_id": version, "web_widget_id": widget_id, "duration": None,
           "user_turn_count": None, "created_at": now, "updated_at": now}
    await store_doc(
        credentials.redis, keys, doc, room=f"ww-{cid}-00000000",
        deadline=now_ms() + 600_000, ix=member,
    )
    await credentials.redis.set(keys.conversation_owner(cid), widget_id)
    await credentials.redis.zadd(
        keys.conversations_by_status(widget_id, "token_created"), {member: 0}
    )
    await credentials.redis.zadd(keys.org_conversations(org_id), {f"{member}:{widget_id}": 0})
    return cid


# --- requests and responses ---------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    path: str
    body: Any = None


@dataclass(frozen=True)
class Resp:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


async def call(world: World, method: str, req: Req, headers: dict[str, str]) -> Resp:
    resp = await world.client.request(method, req.path, json=req.body, headers=headers)
    body = await resp.read()
    kept = tuple(sorted((k, v) for k, v in resp.headers.items() if k not in _VOLATILE))
    result = Resp(resp.status, body, kept)
    if resp.status >= 400 and method != "HEAD":
        assert set(result.json()) == {"detail"}, result
    if resp.status == 401:
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    return result


def assert_no_b_data(world: World, resp: Resp, what: str) -> None:
    text = resp.body.decode()
    for name in (f.name for f in fields(Ids)):
        assert getattr(world.b, name) not in text, f"{what}: org B's {name} in {text}"


async def b_state(world: World) -> dict[str, Any]:
    """Every Redis key that names or holds one of B's ids, with its full value."""
    ids = [getattr(world.b, f.name) for f in fields(Ids)]
    state: dict[str, Any] = {}
    async for key in world.redis.scan_iter(match="test:*"):
        kind = (await world.redis.type(key)).decode()
        if kind == "string":
            value: Any = await world.redis.get(key)
        elif kind == "hash":
            value = sorted((await world.redis.hgetall(key)).items())
        elif kind == "zset":
            value = await world.redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(await world.redis.smembers(key))
        else:
            value = kind
        if any(i.encode() in key or i.encode() in repr(value).encode() for i in ids):
            state[key.decode()] = value
    return state


async def b_view(world: World) -> list[Any]:
    """B's resources as B's own key reads them."""
    b = world.b
    paths = [f"/core/web-widgets/{b.widget}", "/core/web-widgets", f"/core/agents/{b.agent}",
             f"/core/agents/{b.agent}/versions/1", f"/core/agents/{b.agent}/versions/2",
             f"{WH}/{b.webhook}", WH, f"{WH}/{b.webhook}/deliveries"]
    return [await expect(await world.client.get(p, headers=world.b_admin), 200) for p in paths]


# --- the cases: one per route -------------------------------------------------------------------

Own = Callable[[World], Awaitable[tuple[Req, int]]]


@dataclass(frozen=True)
class Variant:
    """A request naming org B's ids (``make(a, b)``); its control names ids that never existed
    (``make(a, ghost())``) and must get the same answer, ``status``, once past auth and scope."""

    make: Callable[[Ids, Ids], Req]
    status: int


@dataclass(frozen=True)
class Case:
    own: Own  # org A's own resource, and the status that proves the route works
    variants: tuple[Variant, ...]


def _version_variants(suffix: str, body: Any) -> tuple[Variant, ...]:
    """Every way of naming one of B's versions: by B's agent and number, ``latest`` or id, and
    by A's own agent with B's version id."""
    def at(agent: str, ref: str) -> Req:
        return Req(f"/core/agents/{agent}/versions/{ref}{suffix}", body)

    return (
        Variant(lambda a, b: at(b.agent, "1"), 404),
        Variant(lambda a, b: at(b.agent, "2"), 404),
        Variant(lambda a, b: at(b.agent, "latest"), 404),
        Variant(lambda a, b: at(b.agent, b.draft), 404),
        Variant(lambda a, b: at(a.agent, b.draft), 404),
        Variant(lambda a, b: at(a.agent, b.version), 404),
    )


def _const(req: Req, status: int) -> Own:
    async def own(world: World) -> tuple[Req, int]:
        return req, status
    return own


async def _own_list(w: World) -> tuple[Req, int]:
    return Req("/core/web-widgets"), 200


async def _own_create_widget(w: World) -> tuple[Req, int]:
    # Read-only fields naming org B are accepted and ignored: the widget lands in org A.
    body = {"agent_id": w.a.agent, "agent_version_id": w.a.version,
            "organization_id": w.b.org, "id": w.b.widget}
    return Req("/core/web-widgets", body), 201


async def _own_get_widget(w: World) -> tuple[Req, int]:
    return Req(f"/core/web-widgets/{w.a.widget}"), 200


async def _own_put_widget(w: World) -> tuple[Req, int]:
    body = {"published": False, "organization_id": w.b.org, "id": w.b.widget}
    return Req(f"/core/web-widgets/{w.a.widget}", body), 200


async def _own_delete_widget(w: World) -> tuple[Req, int]:
    return Req(f"/core/web-widgets/{await w.fresh_widget()}"), 204


async def _own_auto_brand(w: World) -> tuple[Req, int]:
    return Req(f"/core/web-widgets/{w.a.widget}/auto-brand", {"domain": "example.com"}), 200


async def _own_agent(w: World) -> tuple[Req, int]:
    return Req(f"/core/agents/{w.a.agent}"), 200


async def _own_create_version(w: World) -> tuple[Req, int]:
    return Req(f"/core/agents/{w.a.agent}/versions", {"config": AGENT_CONFIG}), 201


async def _own_version(w: World) -> tuple[Req, int]:
    return Req(f"/core/agents/{w.a.agent}/versions/1"), 200


async def _own_put_version(w: World) -> tuple[Req, int]:
    body = {"config": AGENT_CONFIG}
    return Req(f"/core/agents/{w.a.agent}/versions/{await w.fresh_draft()}", body), 200


async def _own_publish(w: World) -> tuple[Req, int]:
    return Req(f"/core/agents/{w.a.agent}/versions/{await w.fresh_draft()}/publish"), 200


async def _own_conversations(w: World) -> tuple[Req, int]:
    return Req("/core/conversations"), 200


async def _own_conversation(w: World) -> tuple[Req, int]:
    return Req(f"/core/conversations/{w.a.conversation}"), 200


async def _own_report(w: World) -> tuple[Req, int]:
    # Only a summary: still accepted after _own_end ended it (within REPORT_GRACE).
    return Req(f"/core/conversations/{w.a.conversation}/report", {"summary": "Fine"}), 200


async def _own_end(w: World) -> tuple[Req, int]:
    return Req(f"/core/conversations/{w.a.conversation}/end"), 200


async def _own_delete_conversation(w: World) -> tuple[Req, int]:
    a = w.a
    cid = await seed_conversation(w.credentials, a.org, a.widget, a.agent, a.version)
    return Req(f"/core/conversations/{cid}"), 204


async def _own_erase(w: World) -> tuple[Req, int]:
    return Req("/core/conversations/erase", {"user_id": "u1", "web_widget_id": w.a.widget}), 200


async def _own_stats(w: World) -> tuple[Req, int]:
    return Req(f"/core/web-widgets/{w.a.widget}/stats"), 200


async def _own_listener_token(w: World) -> tuple[Req, int]:
    # Only a conversation in progress can be listened to: A's is put there.
    key = w.credentials.keys.conversation(w.a.widget, w.a.conversation)
    await w.redis.hset(key, "s", "in_progress")  # the status (common/conversation_record.py)
    return Req(f"/core/conversations/{w.a.conversation}/listener-token"), 200


async def _own_webhooks(w: World) -> tuple[Req, int]:
    return Req(WH), 200


async def _own_create_webhook(w: World) -> tuple[Req, int]:
    # Read-only fields naming org B are accepted and ignored: the endpoint lands in org A.
    body = {"url": "https://93.184.215.14/own", "organization_id": w.b.org, "id": w.b.webhook}
    return Req(WH, body), 201


async def _own_webhook(w: World) -> tuple[Req, int]:
    return Req(f"{WH}/{w.a.webhook}"), 200


async def _own_put_webhook(w: World) -> tuple[Req, int]:
    body = {"description": "mine", "organization_id": w.b.org, "id": w.b.webhook}
    return Req(f"{WH}/{w.a.webhook}", body), 200


async def _own_delete_webhook(w: World) -> tuple[Req, int]:
    return Req(f"{WH}/{await w.fresh_webhook()}"), 204


async def _own_rotate(w: World) -> tuple[Req, int]:
    return Req(f"{WH}/{w.a.webhook}/rotate-secret"), 200


async def _own_test_send(w: World) -> tuple[Req, int]:
    return Req(f"{WH}/{w.a.webhook}/test"), 202


async def _own_deliveries(w: World) -> tuple[Req, int]:
    return Req(f"{WH}/{w.a.webhook}/deliveries"), 200


async def _own_retry(w: World) -> tuple[Req, int]:
    return Req(f"{WH}/{w.a.webhook}/deliveries/{w.a.delivery}/retry"), 202


def _webhook_variant(suffix: str, body: Any = None) -> tuple[Variant, ...]:
    return (Variant(lambda a, b: Req(f"{WH}/{b.webhook}{suffix}", body), 404),)


WH = "/core/webhooks"
W = "/core/web-widgets"
C = "/core/conversations"
HIJACK = {"config": {"livekit_agent_name": "hijacked"}}
CASES: dict[tuple[str, str], Case] = {
    ("GET", W): Case(_own_list, (
        Variant(lambda a, b: Req(f"{W}?agent_id={b.agent}"), 200),
        Variant(lambda a, b: Req(f"{W}?agent_version_id={b.version}"), 200),
        Variant(lambda a, b: Req(f"{W}?agent_id={b.agent}&agent_version_id={b.version}"), 200),
    )),
    ("POST", W): Case(_own_create_widget, (
        Variant(lambda a, b: Req(W, {"agent_id": b.agent, "agent_version_id": b.version}), 422),
        Variant(lambda a, b: Req(W, {"agent_id": a.agent, "agent_version_id": b.version}), 422),
        Variant(lambda a, b: Req(W, {"agent_id": b.agent, "agent_version_id": a.version}), 422),
    )),
    ("GET", W + "/{id}"): Case(_own_get_widget, (
        Variant(lambda a, b: Req(f"{W}/{b.widget}"), 404),
    )),
    ("PUT", W + "/{id}"): Case(_own_put_widget, (
        Variant(lambda a, b: Req(f"{W}/{b.widget}", {"published": False}), 404),
        Variant(lambda a, b: Req(f"{W}/{b.widget}", {"agent_id": a.agent,
                                                     "agent_version_id": a.version}), 404),
        # Repointing A's own widget at B's agent or version.
        Variant(lambda a, b: Req(f"{W}/{a.widget}", {"agent_id": b.agent,
                                                     "agent_version_id": b.version}), 422),
        Variant(lambda a, b: Req(f"{W}/{a.widget}", {"agent_version_id": b.version}), 422),
    )),
    ("DELETE", W + "/{id}"): Case(_own_delete_widget, (
        Variant(lambda a, b: Req(f"{W}/{b.widget}"), 404),
    )),
    ("POST", W + "/{id}/auto-brand"): Case(_own_auto_brand, (
        Variant(lambda a, b: Req(f"{W}/{b.widget}/auto-brand", {"domain": "example.com"}), 404),
    )),
    ("GET", W + "/{id}/stats"): Case(_own_stats, (
        Variant(lambda a, b: Req(f"{W}/{b.widget}/stats"), 404),
        Variant(lambda a, b: Req(f"{W}/{b.widget}/stats?from=2026-01-01&to=2026-01-31"), 404),
    )),
    ("POST", "/core/agents"): Case(_const(Req("/core/agents", {"name": "Support"}), 201), (
        # An agent body cannot name an organization.
        Variant(lambda a, b: Req("/core/agents", {"name": "X", "organization_id": b.org}), 422),
    )),
    ("GET", "/core/agents/{id}"): Case(_own_agent, (
        Variant(lambda a, b: Req(f"/core/agents/{b.agent}"), 404),
    )),
    ("POST", "/core/agents/{id}/versions"): Case(_own_create_version, (
        Variant(lambda a, b: Req(f"/core/agents/{b.agent}/versions", HIJACK), 404),
    )),
    ("GET", "/core/agents/{id}/versions/{version}"): Case(
        _own_version, _version_variants("", None)
    ),
    ("PUT", "/core/agents/{id}/versions/{version}"): Case(
        _own_put_version, _version_variants("", HIJACK)
    ),
    ("POST", "/core/agents/{id}/versions/{version}/publish"): Case(
        _own_publish, _version_variants("/publish", None)
    ),
    ("GET", C): Case(_own_conversations, (
        Variant(lambda a, b: Req(f"{C}?web_widget_id={b.widget}"), 200),
        Variant(lambda a, b: Req(f"{C}?web_widget_id={b.widget}&status=token_created"), 200),
        Variant(lambda a, b: Req(f"{C}?agent_id={b.agent}"), 200),
        Variant(lambda a, b: Req(f"{C}?agent_version_id={b.version}&status=token_created"), 200),
    )),
    ("GET", C + "/{conversation_id}"): Case(_own_conversation, (
        Variant(lambda a, b: Req(f"{C}/{b.conversation}"), 404),
    )),
    ("POST", "/core/conversations/{conversation_id}/report"): Case(_own_report, (
        Variant(lambda a, b: Req(f"/core/conversations/{b.conversation}/report",
                                 {"summary": "hijacked"}), 404),
    )),
    ("POST", "/core/conversations/{conversation_id}/end"): Case(_own_end, (
        Variant(lambda a, b: Req(f"/core/conversations/{b.conversation}/end"), 404),
    )),
    ("DELETE", "/core/conversations/{conversation_id}"): Case(_own_delete_conversation, (
        Variant(lambda a, b: Req(f"/core/conversations/{b.conversation}"), 404),
    )),
    ("POST", "/core/conversations/erase"): Case(_own_erase, (
        Variant(lambda a, b: Req("/core/conversations/erase",
                                 {"user_id": "u1", "web_widget_id": b.widget}), 404),
    )),
    ("POST", "/core/conversations/{conversation_id}/listener-token"): Case(_own_listener_token, (
        Variant(lambda a, b: Req(f"/core/conversations/{b.conversation}/listener-token"), 404),
    )),
    ("GET", WH): Case(_own_webhooks, (
        # B's id where a cursor goes: refused like any other string that is not a cursor.
        Variant(lambda a, b: Req(f"{WH}?cursor={b.webhook}"), 422),
    )),
    ("POST", WH): Case(_own_create_webhook, (
        Variant(lambda a, b: Req(WH, {"url": f"ftp://hooks.example/{b.webhook}",
                                      "organization_id": b.org, "id": b.webhook}), 422),
    )),
    ("GET", WH + "/{id}"): Case(_own_webhook, _webhook_variant("")),
    ("PUT", WH + "/{id}"): Case(_own_put_webhook, (
        *_webhook_variant("", {"enabled": False}),
        *_webhook_variant("", {"url": "https://93.184.215.14/hijacked"}),
    )),
    ("DELETE", WH + "/{id}"): Case(_own_delete_webhook, _webhook_variant("")),
    ("POST", WH + "/{id}/rotate-secret"): Case(_own_rotate, _webhook_variant("/rotate-secret")),
    ("POST", WH + "/{id}/test"): Case(_own_test_send, _webhook_variant("/test")),
    ("GET", WH + "/{id}/deliveries"): Case(_own_deliveries, _webhook_variant("/deliveries")),
    ("POST", WH + "/{id}/deliveries/{delivery_id}/retry"): Case(_own_retry, (
        Variant(lambda a, b: Req(f"{WH}/{b.webhook}/deliveries/{b.delivery}/retry"), 404),
        # B's delivery under A's own endpoint.
        Variant(lambda a, b: Req(f"{WH}/{a.webhook}/deliveries/{b.delivery}/retry"), 404),
        # A's delivery under B's endpoint.
        Variant(lambda a, b: Req(f"{WH}/{b.webhook}/deliveries/{a.delivery}/retry"), 404),
    )),
}


def case_for(method: str, template: str) -> Case:
    # HEAD is registered alongside every GET and runs the same handler.
    key = ("GET" if method == "HEAD" else method, template)
    assert key in CASES, f"{method} {template} has no isolation case: add one to CASES"
    return CASES[key]


def scope_sets(template: str) -> dict[str, list[str]]:
    if template.endswith("/listener-token"):
        # read_sensitive only: neither the plain read nor manage lets anyone listen in.
        return {
            "sensitive": ["conversations:read_sensitive"],
            "other-family": ["conversations:read", "conversations:manage", "web_widgets:manage"],
        }
    if template.startswith(WH):
        # One scope for reads and writes alike: every other scope is refused.
        return {
            "manage": ["webhooks:manage"],
            "other-family": [s for s in ALL_SCOPES if s != "webhooks:manage"],
        }
    if template.startswith("/core/conversations"):
        # Either read scope (or manage) reads; only manage writes.
        return {
            "read": ["conversations:read"],
            "read_sensitive": ["conversations:read_sensitive"],
            "manage": ["conversations:manage"],
            "other-family": ["web_widgets:read", "web_widgets:manage", "agents:read",
                             "agents:manage"],
        }
    family = "agents" if template.startswith("/core/agents") else "web_widgets"
    other = "web_widgets" if family == "agents" else "agents"
    return {
        "read": [f"{family}:read"],
        "manage": [f"{family}:manage"],
        "other-family": [f"{other}:read", f"{other}:manage"],
    }


def allowed(method: str, scope_set: str) -> bool:
    """The reference's rule: reads accept either scope of the family, writes need manage."""
    if scope_set == "other-family":
        return False
    return method in ("GET", "HEAD") or scope_set in ("manage", "sensitive")


# --- fixtures -----------------------------------------------------------------------------------


def _found(domain: str) -> Lookup:
    brand = Brand(domain=domain, url=f"https://{domain}/", name="Example", colors=BrandColors(),
                  logos=[], config_v1=BrandConfigV1(), sources=[],
                  fetched_at="2026-01-01T00:00:00.000Z")
    return Lookup(outcome="found", brand=brand)


@pytest.fixture
async def world(
    management_client: Any, redis: Redis, credentials: CredentialStore,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    lookups: list[str] = []

    async def lookup(self: BrandService, target: Any) -> Lookup:
        # Auto-brand never leaves the machine here; the list shows which lookups got this far.
        lookups.append(target.domain)
        return _found(target.domain)

    monkeypatch.setattr(BrandService, "lookup", lookup)
    a, a_admin = await seed_org(management_client, credentials)
    b, b_admin = await seed_org(management_client, credentials)
    user = await credentials.create_user("Ann")
    await credentials.add_member(a.org, user.id)
    return World(management_client, redis, credentials, a, b, a_admin, b_admin, user.id, lookups)


async def issue(world: World, kind: str, scopes: list[str], **kwargs: Any) -> str:
    if kind == "ak":
        token, _ = await world.credentials.issue("ak", scopes, org_id=world.a.org, **kwargs)
    else:
        token, _ = await world.credentials.issue("pat", scopes, user_id=world.member, **kwargs)
    return token


# --- the matrix ---------------------------------------------------------------------------------


def test_every_route_has_an_isolation_case() -> None:
    routed = {("GET" if m == "HEAD" else m, t) for m, t in ROUTES}
    assert routed - PUBLIC == set(CASES), "CASES and the router disagree"
    assert not PUBLIC & set(CASES)


async def test_public_routes_hold_no_organization_data(world: World) -> None:
    """The routes left out of the matrix answer without a credential and show no org's data."""
    assert {(m, t) for m, t in ROUTES if m != "HEAD"} >= PUBLIC
    for method, path in sorted(PUBLIC):
        assert not path.startswith("/core/")
        resp = await call(world, method, Req(path), {})
        assert resp.status == 200, (path, resp)
        for ids in (world.a, world.b):
            for name in (f.name for f in fields(Ids)):
                assert getattr(ids, name) not in resp.body.decode(), (path, name)


@pytest.mark.parametrize("kind", ["ak", "pat"])
@pytest.mark.parametrize(("method", "template"), ORGANIZATION_ROUTES, ids=str)
async def test_isolation_matrix(world: World, kind: str, method: str, template: str) -> None:
    """Org A on org B's resources: the unknown-id answer (or 403), B unchanged, A's own works."""
    case = case_for(method, template)
    a, b = world.a, world.b
    org_header = {"X-Anyreach-Org": a.org} if kind == "pat" else {}
    before, b_before = await b_state(world), await b_view(world)
    assert before, "org B's state was not found in Redis"

    async def unchanged(what: str) -> None:
        assert await b_state(world) == before, f"{what}: org B's data changed in Redis"

    async def pair(variant: Variant, headers: dict[str, str], what: str) -> Resp:
        """The answer to B's ids, checked to be the answer to ids that never existed."""
        foreign = await call(world, method, variant.make(a, b), headers)
        control = await call(world, method, variant.make(a, ghost()), headers)
        assert foreign == control, f"{what}: B's ids answer differently from unknown ids"
        assert_no_b_data(world, foreign, what)
        await unchanged(what)
        return foreign

    for scope_set, scopes in scope_sets(template).items():
        headers = {"Authorization": f"Bearer {await issue(world, kind, scopes)}", **org_header}
        ok = allowed(method, scope_set)
        for n, variant in enumerate(case.variants):
            what = f"{kind} {scope_set} {method} {template} variant {n}"
            foreign = await pair(variant, headers, what)
            assert foreign.status == (variant.status if ok else 403), (what, foreign)
            if variant.status == 200 and ok and method == "GET":
                assert foreign.json() == [], what
        # The same credential on A's own resource: works when the scope allows, else 403.
        req, status = await case.own(world)
        own = await call(world, method, req, headers)
        what = f"{kind} {scope_set} {method} {template} own"
        assert own.status == (status if ok else 403), (what, own)
        assert_no_b_data(world, own, what)
        if ok and method != "HEAD" and own.status != 204:
            body = own.json()
            for item in body if isinstance(body, list) else [body]:
                assert item.get("organization_id", a.org) == a.org, what
            if (method, template) == ("GET", W):
                assert a.widget in {item["id"] for item in body}, what
            if (method, template) == ("GET", C):
                assert a.conversation in {item["id"] for item in body}, what
        await unchanged(what)

    # Auto-brand looked up only A's own widget's domain, never on B's or an unknown widget.
    own_lookups = sum(allowed(method, s) for s in scope_sets(template))
    expected = own_lookups if template.endswith("/auto-brand") else 0
    assert len(world.brand_lookups) == expected

    assert await b_view(world) == b_before


@pytest.mark.parametrize("kind", ["ak", "pat"])
@pytest.mark.parametrize(("method", "template"), ORGANIZATION_ROUTES, ids=str)
async def test_credential_matrix(world: World, kind: str, method: str, template: str) -> None:
    """Naming another org is 403 whether it exists or not; bad credentials are 401, all alike."""
    case = case_for(method, template)
    a, b = world.a, world.b
    requests = [v.make(a, b) for v in case.variants]
    before = await b_state(world)
    token = await issue(world, kind, ALL_SCOPES)

    # The org header names B (A's user is not a member; A's key is not B's) or an unknown org.
    for req in requests:
        answers = [
            await call(world, method, req, {"Authorization": f"Bearer {token}",
                                            "X-Anyreach-Org": org})
            for org in (b.org, new_id())
        ]
        assert answers[0] == answers[1], f"{kind} {method} {template}: B's org is distinguishable"
        assert answers[0].status == 403
        assert_no_b_data(world, answers[0], f"{kind} naming B")

    prefix, secret = token.split(".")
    revoked = await issue(world, kind, ALL_SCOPES)
    assert await world.credentials.revoke(revoked)
    expired = await issue(world, kind, ALL_SCOPES, expires_at_ms=now_ms() - 1)
    org = {"X-Anyreach-Org": a.org} if kind == "pat" else {}
    invalid = {
        "unknown id": f"{kind}_{new_id().replace('-', '')}.{secret}",
        "wrong secret": f"{prefix}.{'x' * len(secret)}",
        "revoked": revoked,
        "expired": expired,
    }
    for req in requests:
        refused = {name: await call(world, method, req, {"Authorization": f"Bearer {t}", **org})
                   for name, t in invalid.items()}
        # One answer for all of them: nothing tells a revoked key from one that never existed.
        assert len(set(refused.values())) == 1, refused
        assert refused["revoked"].status == 401
        missing = await call(world, method, req, org)
        assert missing.status == 401
        if kind == "pat":
            no_org = await call(world, method, req, {"Authorization": f"Bearer {token}"})
            assert no_org.status == 401
    assert await b_state(world) == before


# --- revocation and expiry: what the matrix and tests/management/test_auth.py do not show ------


@pytest.mark.parametrize("kind", ["ak", "pat"])
async def test_expiry_is_exclusive_of_the_instant(
    world: World, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A credential stops working at its ``expires_at_ms``, not a millisecond later."""
    import management_service.credentials as credentials_module

    instant = now_ms() + 60_000
    at_expiry = await issue(world, kind, ALL_SCOPES, expires_at_ms=instant)
    just_after = await issue(world, kind, ALL_SCOPES, expires_at_ms=instant + 1)
    monkeypatch.setattr(credentials_module, "now_ms", lambda: instant)
    org = {"X-Anyreach-Org": world.a.org} if kind == "pat" else {}
    path = f"/core/agents/{world.a.agent}"
    resp = await world.client.get(path, headers={"Authorization": f"Bearer {at_expiry}", **org})
    await expect(resp, 401)
    resp = await world.client.get(path, headers={"Authorization": f"Bearer {just_after}", **org})
    await expect(resp, 200)


@pytest.mark.parametrize("kind", ["ak", "pat"])
async def test_revoking_one_credential_leaves_the_others(world: World, kind: str) -> None:
    """Revocation is per credential and immediate (nothing caches a verified token)."""
    org = {"X-Anyreach-Org": world.a.org} if kind == "pat" else {}
    first = await issue(world, kind, ALL_SCOPES)
    second = await issue(world, kind, ALL_SCOPES)
    path = f"/core/web-widgets/{world.a.widget}"
    for token in (first, second):
        await expect(await world.client.get(path, headers={"Authorization": f"Bearer {token}",
                                                           **org}), 200)
    assert await world.credentials.revoke(first)
    await expect(await world.client.get(path, headers={"Authorization": f"Bearer {first}",
                                                       **org}), 401)
    await expect(await world.client.get(path, headers={"Authorization": f"Bearer {second}",
                                                       **org}), 200)
    # Revoking A's credentials touched nothing of B's.
    await expect(await world.client.get(f"/core/web-widgets/{world.b.widget}",
                                        headers=world.b_admin), 200)


async def test_membership_removed_is_403_at_once(world: World) -> None:
    """A pat_ acts for an org only while its user is a member of it."""
    token = await issue(world, "pat", ALL_SCOPES)
    headers = {"Authorization": f"Bearer {token}", "X-Anyreach-Org": world.a.org}
    path = f"/core/web-widgets/{world.a.widget}"
    await expect(await world.client.get(path, headers=headers), 200)
    await world.redis.srem(world.credentials.keys.user_orgs(world.member), world.a.org)
    await expect(await world.client.get(path, headers=headers), 403)
