"""Schemathesis against both services' own OpenAPI documents, on real servers and a real Redis.

Each service runs on a loopback port in a background thread (its own event loop), seeded with an
org and an all-scope key, an agent with a published version and a draft, and published widgets
with a feedback form. The document is loaded from the service (``/openapi.json``); every
operation runs its examples and a bounded number of generated cases (positive and negative),
and every response must be no 5xx and match the documented status codes, content types and
schemas. Half of the positive cases are pointed at the seeded resources, so they reach real
code paths instead of stopping at a 404. Then schemathesis's engine runs its coverage phase and
stateful sequences along the documents' links, as its CLI would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import hypothesis
import pytest
import schemathesis
from aiohttp import web
from redis.asyncio import Redis
from schemathesis import GenerationMode, engine
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.engine import events

from common.ids import new_id
from common.lifecycle.lifecycle import Lifecycle, WebhookFact
from common.redis_keys import RedisKeys
from common.redis_process import RedisProcess
from common.timeutil import now_ms
from management_service import openapi as management_openapi
from management_service import webhook_egress
from management_service.agents_store import AgentStore
from management_service.credentials import CredentialStore
from runtime_service import openapi as runtime_openapi
from runtime_service.embed import assets as embed_assets
from tests.support.bundle import write_stand_in_bundle
from tests.support.resolver import FakeResolver
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget
from tests.support.settings import ALL_SCOPES, make_settings
from tests.support.webhooks import write_delivery

T = TypeVar("T")
WEBHOOK_URL = "https://hooks.example.com/anyreach"  # the OpenAPI document's example
WEBHOOK_DNS = {"hooks.example.com": ["93.184.215.14"]}
MAX_EXAMPLES = 25  # per operation and phase: the whole module stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class LoopThread:
    """An event loop in a daemon thread: the servers live there, the sync test talks HTTP."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Seeded:
    management_url: str
    runtime_url: str
    auth: dict[str, str]
    org_id: str
    agent_id: str
    version_id: str
    management_widget_id: str
    runtime_widget_id: str
    conversation_id: str
    managed_conversation_id: str
    live_conversation_id: str  # in progress: the one a listener token can be minted for
    webhook_id: str  # PUT may disable it or change its URL
    sent_webhook_id: str  # left enabled for test sends and retries, with a delivery
    delivery_id: str


async def start_server(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def seed(redis_url: str, runtime_url: str, management_url: str) -> dict[str, Any]:
    redis, keys = Redis.from_url(redis_url), RedisKeys("test")
    try:
        credentials = CredentialStore(redis, keys)
        org = await credentials.create_org("Fuzz")
        token, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
        auth = {"Authorization": f"Bearer {token}"}
        version = await seed_agent_version(redis, keys, org.id)
        await AgentStore(redis, keys).create_version(org.id, version.agent_id, {})  # a draft
        managed = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
        # The public widget is another organization's, so management fuzzing never touches it.
        other = await seed_agent_version(redis, keys, new_id())
        # Its list takes every parameter as optional (generated queries may leave out user_id).
        listed = {"v1": {**FEEDBACK_CONFIG["v1"], "conversation_list": "widget"}}
        public = await seed_widget(redis, keys, other, config=listed)
    finally:
        await redis.aclose()
    async with aiohttp.ClientSession() as session:
        url = f"{runtime_url}/core/public/web-widgets/{public.id}/conversations"
        async with session.post(url, json={"user_id": "guest_fuzz"}) as resp:
            assert resp.status == 200, await resp.text()
            conversation_id = (await resp.json())["conversation"]["id"]
        # A conversation of the fuzzing organization's widget, for /core/conversations/{id}.
        url = f"{runtime_url}/core/public/web-widgets/{managed.id}/conversations"
        async with session.post(url, json={"user_id": "guest_fuzz"}) as resp:
            assert resp.status == 200, await resp.text()
            managed_conversation_id = (await resp.json())["conversation"]["id"]
        async with session.post(url, json={"user_id": "guest_live"}) as resp:
            assert resp.status == 200, await resp.text()
            live = await resp.json()
        webhooks = []
        for _ in range(2):
            url = f"{management_url}/core/webhooks"
            async with session.post(url, json={"url": WEBHOOK_URL}, headers=auth) as resp:
                assert resp.status == 201, await resp.text()
                webhooks.append((await resp.json())["id"])
    await visitor_joined(redis_url, managed.id, live)
    redis = Redis.from_url(redis_url)
    try:
        await write_delivery(redis, keys, webhooks[1], "dlv_fuzz", now_ms())
    finally:
        await redis.aclose()
    return {
        "auth": auth,
        "org_id": org.id,
        "agent_id": version.agent_id,
        "version_id": version.id,
        "management_widget_id": managed.id,
        "runtime_widget_id": public.id,
        "conversation_id": conversation_id,
        "managed_conversation_id": managed_conversation_id,
        "live_conversation_id": live["conversation"]["id"],
        "webhook_id": webhooks[0],
        "sent_webhook_id": webhooks[1],
        "delivery_id": "dlv_fuzz",
    }


async def visitor_joined(redis_url: str, widget_id: str, started: dict[str, Any]) -> None:
    """The started conversation's visitor joins its room (in_progress), as LiveKit would say."""
    redis = Redis.from_url(redis_url)
    try:
        conversation_id, room = started["conversation"]["id"], started["connection_details"]["room"]
        fact = WebhookFact(event_id="EV_fuzz_join", kind="participant_joined", room=room,
                           at=now_ms() // 1000, who="visitor", sid="PA_fuzz")
        lifecycle = Lifecycle(redis, RedisKeys("test"), settle=15, events_retention=3600)
        assert (await lifecycle.event(widget_id, conversation_id, fact, now_ms())).status == (
            "in_progress")
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    from management_service.app import create_app as management_app
    from runtime_service.app import create_app as runtime_app

    proc = RedisProcess().start()
    loop = LoopThread()
    runners: list[web.AppRunner] = []
    # The stand-in bundle the embed tests use: the frame page answers 200, not the 503 of a
    # checkout where `make embed` has not run.
    patch = pytest.MonkeyPatch()
    stand_in = write_stand_in_bundle(tmp_path_factory.mktemp("embed"))
    patch.setattr(embed_assets, "STATIC_DIR", stand_in)
    # Webhook URLs resolve from a table: the document's example name is public, every other
    # generated name has no addresses (422), and nothing is looked up on the network.
    patch.setattr(webhook_egress, "DefaultResolver", lambda: FakeResolver(WEBHOOK_DNS))
    try:
        urls = []
        for service, factory in (("management", management_app), ("runtime", runtime_app)):
            runner, url = loop.run(start_server(factory(make_settings(service, proc.url))))
            runners.append(runner)
            urls.append(url)
        yield Seeded(urls[0], urls[1], **loop.run(seed(proc.url, urls[1], urls[0])))
    finally:
        for runner in reversed(runners):
            loop.run(runner.cleanup())
        loop.close()
        proc.cleanup()
        patch.undo()


def load_schema(url: str, headers: dict[str, str] | None = None) -> Any:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.update(base_url=url, headers=headers)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schema


@pytest.fixture(scope="module")
def management_schema(services: Seeded) -> Any:
    return load_schema(services.management_url, services.auth)


@pytest.fixture(scope="module")
def runtime_schema(services: Seeded) -> Any:
    return load_schema(services.runtime_url)


@dataclass
class Seeds:
    """Values of the seeded resources, put into every other positive case so that it reaches
    real code instead of stopping at a 404. Negative cases are sent as generated: a seed could
    make them valid. DELETE never gets a seeded id, so the seeds stay."""

    path: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    turn: Iterator[int] = field(default_factory=itertools.count)

    def apply(self, case: Any) -> None:
        if next(self.turn) % 2:
            return
        if case.method.upper() != "DELETE":
            for name in case.path_parameters or {}:
                if name in self.path:
                    case.path_parameters[name] = self.path[name]
        if isinstance(case.body, dict):
            case.body.update({k: v for k, v in self.body.items() if k in case.body})
        for name in list(case.headers or {}):
            if name.lower() in self.headers:
                case.headers[name] = self.headers[name.lower()]


def operations(document: dict[str, Any]) -> list[Any]:
    """(METHOD, path) of every documented operation, known at collection time: the documents
    are static, and each test then loads the same one from the running service."""
    return [
        pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]


def strategies(schema: Any, operation: Any) -> Iterator[tuple[str, Any]]:
    for strategy in schema.get_strategies_from_examples(operation):
        yield "examples", strategy
    yield "positive", operation.as_strategy(GenerationMode.POSITIVE)
    yield "negative", operation.as_strategy(GenerationMode.NEGATIVE)


def run_cases(
    strategy: Any, prepare: Any, headers: dict[str, str], checks: list[Any], seen: set[int]
) -> None:
    """Up to MAX_EXAMPLES cases of ``strategy``, each sent and validated; statuses into seen."""
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        prepare(case)
        seen.add(case.call_and_validate(headers=headers, checks=checks).status_code)

    run()


def fuzz(schema: Any, method: str, path: str, seeds: Seeds, headers: dict[str, str]) -> set[int]:
    """Run the operation's examples, positive and negative cases; the statuses it saw."""
    operation = schema[path][method]
    seen: set[int] = set()
    for mode, strategy in strategies(schema, operation):
        if mode != "negative":
            # Positive cases may still meet a 404 or 409: only negative ones must be refused.
            run_cases(strategy, seeds.apply, headers, CHECKS[:-1], seen)
            continue
        # No negative case at all: no parameters and no body, or only path parameters whose
        # invalid values cannot be written into a URL.
        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            run_cases(strategy, lambda case: None, headers, CHECKS, seen)
    return seen


# Operations whose seeded requests cannot succeed: DELETE never gets a seeded id (the seeds
# must stay), auto-brand never fetches (see below), and embed asset names are content hashes
# of a bundle that may not be built here.
NO_SUCCESS_EXPECTED = {
    ("DELETE", "/core/web-widgets/{id}"),
    ("DELETE", "/core/conversations/{conversation_id}"),
    ("DELETE", "/core/webhooks/{id}"),
    ("POST", "/core/web-widgets/{id}/auto-brand"),
    ("GET", "/public/embed/assets/{name}"),
    # A fuzzer cannot sign a webhook: every request is 401 (tests/runtime/test_livekit_webhook.py).
    ("POST", "/livekit/webhook"),
}


def assert_reached_real_code(method: str, path: str, seen: set[int]) -> None:
    assert not any(status >= 500 for status in seen), seen
    if (method, path) not in NO_SUCCESS_EXPECTED:
        assert any(200 <= status < 300 for status in seen), f"no success among {sorted(seen)}"


MANAGEMENT_DOCUMENT = json.loads(management_openapi.DOCUMENT_JSON)
RUNTIME_DOCUMENT = json.loads(runtime_openapi.openapi_document())


@pytest.mark.parametrize(("method", "path"), operations(MANAGEMENT_DOCUMENT))
def test_management_operation_matches_its_document(
    method: str, path: str, management_schema: Any, services: Seeded
) -> None:
    agents = path.startswith("/core/agents")
    conversations = path.startswith("/core/conversations")
    webhooks = path.startswith("/core/webhooks/")
    # PUT may disable the first endpoint; test sends and retries need an enabled one.
    sends = path.endswith(("/test", "/retry", "/deliveries"))
    seeds = Seeds(
        path={
            "id": services.agent_id if agents else services.managed_conversation_id
            if conversations else (services.sent_webhook_id if sends else services.webhook_id)
            if webhooks else services.management_widget_id,
            "version": "latest",
            "conversation_id": services.managed_conversation_id,
            "delivery_id": services.delivery_id,
        },
        body={"agent_id": services.agent_id, "agent_version_id": services.version_id,
              "url": WEBHOOK_URL},
        headers={"x-anyreach-org": services.org_id},
    )
    if path.endswith("/listener-token"):
        seeds.path["conversation_id"] = services.live_conversation_id
    if path.endswith("/auto-brand"):
        # A known widget would fetch the generated domain from the internet; the fetch has its
        # own tests against loopback sites (test_auto_brand_api.py).
        seeds.path = {}
    seen = fuzz(management_schema, method, path, seeds, services.auth)
    assert_reached_real_code(method, path, seen)


@pytest.mark.parametrize(("method", "path"), operations(RUNTIME_DOCUMENT))
def test_runtime_operation_matches_its_document(
    method: str, path: str, runtime_schema: Any, services: Seeded
) -> None:
    seeds = Seeds(
        path={"id": services.runtime_widget_id, "conversation_id": services.conversation_id},
        body={"data": {"rating": 5}},
    )
    seen = fuzz(runtime_schema, method, path, seeds, {})
    assert_reached_real_code(method, path, seen)


def run_engine(schema: Any) -> tuple[list[str], set[int]]:
    """Run schemathesis's own engine (as its CLI does): every failed check, described, and the
    statuses seen."""
    found: list[str] = []
    statuses: set[int] = set()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            statuses.update(
                item.response.status_code for item in event.recorder.interactions.values()
                if item.response is not None
            )
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    if node.failure_info is None:
                        continue
                    interaction = event.recorder.interactions.get(case_id)
                    status = interaction.response.status_code if interaction else None
                    failure = node.failure_info.failure
                    found.append(
                        f"{event.phase.value} {node.name} [{status}] {failure.title}: "
                        f"{failure.message}\n{node.failure_info.code_sample}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"engine error: {event!r}")
    return found, statuses


def engine_schema(url: str, headers: dict[str, str] | None = None) -> Any:
    """Coverage (boundary values, missing and wrong-typed fields, ...) and stateful sequences
    along the documents' links and the links schemathesis infers; examples and fuzzing run per
    operation above. Every check runs but ``positive_data_acceptance``: a schema-valid body can
    still be refused for what it names (an agent of another org, an unknown cursor: 422)."""
    schema = load_schema(url, headers)
    schema.config.phases.update(phases=["coverage", "stateful"])
    # Long enough for agent, version, widget, update and delete in one sequence: at the default
    # of 6 steps a run reached a delete once or twice, and now and then not at all.
    schema.config.phases.stateful.max_steps = 12
    schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])
    # A created widget would let auto-brand fetch a generated domain from the internet.
    return schema.exclude(path_regex="/auto-brand$")


def test_management_coverage_and_stateful_runs_pass(services: Seeded) -> None:
    # The credential's own organization in every request, so that sequences reach validation
    # and storage instead of stopping at a 403 (the operation fuzzing above sends other values).
    schema = engine_schema(services.management_url, services.auth)
    schema.config.update(parameters={"header.X-Anyreach-Org": services.org_id})
    failures, statuses = run_engine(schema)
    assert not failures, "\n\n".join(failures)
    assert {200, 201, 204} <= statuses  # sequences created, read, changed and deleted


def test_runtime_coverage_and_stateful_runs_pass(services: Seeded) -> None:
    schema = engine_schema(services.runtime_url)
    # Every runtime {id} is a widget id: the seeded one, so that sequences start real
    # conversations and give them feedback.
    schema.config.update(parameters={"path.id": services.runtime_widget_id})
    failures, statuses = run_engine(schema)
    assert not failures, "\n\n".join(failures)
    assert 200 in statuses  # the widget, its embed pages, started conversations
