"""Every JSON-accepting route of both services against every kind of bad input: one matrix.

Each cell asserts the exact status and the error body (``{"detail": ...}``; a 422 lists
``{loc, msg, type}`` issues). Route-specific rules (user_id format, custom_metadata caps, domain
and widget config checks, feedback's 16 KB) have their own tests beside each route; this file
proves that the shared body handling (common/bodies.py ``read_json``, common/validation.py) and
each app's body cap reach every route. ``POST .../publish`` is left out: it reads no body.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from common.ids import new_id
from common.redis_process import RedisProcess
from management_service.agents_store import AgentStore
from management_service.app import CLIENT_MAX_SIZE as MANAGEMENT_MAX_SIZE
from runtime_service.app import CLIENT_MAX_SIZE as RUNTIME_MAX_SIZE
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget

PLACEHOLDER = '"__raw__"'  # replaced by a raw JSON fragment after encoding
GZIP = {"Content-Encoding": "gzip"}


@pytest.fixture(scope="module")
def redis_proc() -> Iterator[RedisProcess]:
    """One redis-server for the whole matrix (each cell seeds its own org), to keep it quick."""
    proc = RedisProcess().start()
    try:
        yield proc
    finally:
        proc.cleanup()


@dataclass
class World:
    headers: dict[str, str]
    agent_id: str
    version_id: str
    draft_number: int
    widget_id: str
    conversation_id: str = ""  # started by the test, for the feedback route


@dataclass(frozen=True)
class Route:
    name: str
    service: str  # "management" or "runtime"
    method: str
    path: Callable[[World], str]
    valid: Callable[[World], dict[str, Any]]
    ok: int  # what the valid body answers: a 2xx, or the 404 that only follows a parsed body
    # Key of a free-form object in the body (config, custom_metadata, data), if the route has one.
    slot: str | None
    # A string past its cap: (body changes, expected status, expected loc or None for a 413).
    long_string: tuple[dict[str, Any], int, list[Any] | None]
    long_array: tuple[dict[str, Any], int, list[Any]] | None = None
    # The free-form object's own size cap in bytes (as JSON), and what one byte more answers.
    slot_cap: tuple[int, int] | None = None
    cap: int = field(init=False)

    def __post_init__(self) -> None:
        cap = MANAGEMENT_MAX_SIZE if self.service == "management" else RUNTIME_MAX_SIZE
        object.__setattr__(self, "cap", cap)


PUBLIC = "/core/public/web-widgets"
ROUTES = [
    Route(
        "create_widget", "management", "POST", lambda w: "/core/web-widgets",
        lambda w: {"agent_id": w.agent_id, "agent_version_id": w.version_id, "config": {}},
        201, "config",
        ({"domains": ["a" * 2049]}, 422, ["body", "domains", 0]),
        ({"domains": [f"d{i}.example.com" for i in range(101)]}, 422, ["body", "domains"]),
        slot_cap=(64 * 1024, 422),
    ),
    Route(
        "update_widget", "management", "PUT", lambda w: f"/core/web-widgets/{w.widget_id}",
        lambda w: {"published": True, "config": FEEDBACK_CONFIG}, 200, "config",
        ({"domains": ["a" * 2049]}, 422, ["body", "domains", 0]),
        ({"domains": [f"d{i}.example.com" for i in range(101)]}, 422, ["body", "domains"]),
        slot_cap=(64 * 1024, 422),
    ),
    Route(
        # An unknown widget: the domain is checked before the widget is looked up (404), so a
        # parsed body never reaches out to a site.
        "auto_brand", "management", "POST",
        lambda w: f"/core/web-widgets/{new_id()}/auto-brand",
        lambda w: {"domain": "example.com"}, 404, None,
        ({"domain": "a" * 2049}, 422, ["body", "domain"]),
    ),
    Route(
        "create_agent", "management", "POST", lambda w: "/core/agents",
        lambda w: {"name": "Support", "description": ""}, 201, None,
        ({"name": "n" * 201}, 422, ["body", "name"]),
    ),
    Route(
        "create_version", "management", "POST", lambda w: f"/core/agents/{w.agent_id}/versions",
        lambda w: {"config": {"livekit_agent_name": "support-agent"}}, 201, "config",
        ({"config": {"livekit_agent_name": "a" * 129}}, 422,
         ["body", "config", "livekit_agent_name"]),
        slot_cap=(64 * 1024, 422),
    ),
    Route(
        "update_version", "management", "PUT",
        lambda w: f"/core/agents/{w.agent_id}/versions/{w.draft_number}",
        lambda w: {"config": {"livekit_agent_name": "support-agent"}}, 200, "config",
        ({"config": {"livekit_agent_name": "a" * 129}}, 422,
         ["body", "config", "livekit_agent_name"]),
        slot_cap=(64 * 1024, 422),
    ),
    Route(
        # An unknown conversation: the body is read first, so only a parsed body gets the 404.
        "report_conversation", "management", "POST",
        lambda w: f"/core/conversations/{new_id()}/report",
        lambda w: {"summary": "Asked about prices"}, 404, None,
        ({"summary": "s" * 16_385}, 422, ["body", "summary"]),
    ),
    Route(
        # Nothing to erase for this visitor: still a 200 ({"erased": 0, "remaining": false}).
        "erase_conversations", "management", "POST", lambda w: "/core/conversations/erase",
        lambda w: {"user_id": "guest_1"}, 200, None,
        ({"user_id": "u" * 129}, 422, ["body", "user_id"]),
    ),
    Route(
        # A public address literal: registering it needs no DNS lookup.
        "create_webhook", "management", "POST", lambda w: "/core/webhooks",
        lambda w: {"url": "https://93.184.215.14/hook", "description": ""}, 201, None,
        ({"url": "https://93.184.215.14/" + "a" * 2048}, 422, ["body", "url"]),
        ({"events": ["widget.updated"] * 33}, 422, ["body", "events"]),
    ),
    Route(
        # An unknown endpoint: the body is read first, so only a parsed body gets the 404.
        "update_webhook", "management", "PUT", lambda w: f"/core/webhooks/{new_id()}",
        lambda w: {"description": "CRM", "enabled": True}, 404, None,
        ({"description": "d" * 501}, 422, ["body", "description"]),
    ),
    Route(
        "start_conversation", "runtime", "POST", lambda w: f"{PUBLIC}/{w.widget_id}/conversations",
        lambda w: {"user_id": "guest_1", "custom_metadata": {"page": "/"}}, 200, "custom_metadata",
        ({"user_id": "u" * 129}, 422, ["body", "user_id"]),
        slot_cap=(8 * 1024, 422),
    ),
    Route(
        "submit_feedback", "runtime", "POST",
        lambda w: f"{PUBLIC}/{w.widget_id}/conversations/{w.conversation_id}/feedback",
        lambda w: {"data": {"rating": 5, "comment": "ok"}}, 200, "data",
        ({"data": {"comment": "x" * (16 * 1024)}}, 413, None),
        slot_cap=(16 * 1024, 413),
    ),
]


@dataclass(frozen=True)
class Bad:
    """A request body and the answer it must get: status, and for a 422 the first issue."""

    data: bytes
    status: int
    content_type: str | None = "application/json"
    loc: list[Any] | None = None
    type: str | None = None
    msg_has: str = ""
    detail: str | None = None  # exact detail string, for non-422 errors
    headers: dict[str, str] = field(default_factory=dict)


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def with_raw(route: Route, body: dict[str, Any], raw: bytes) -> bytes:
    """The body with ``raw`` (any bytes) inside its free-form object, or as its first value."""
    body = dict(body)
    if route.slot is not None:
        body[route.slot] = {**body.get(route.slot, {}), "probe": "__raw__"}
    else:
        body[next(iter(body))] = "__raw__"
    return encode(body).replace(PLACEHOLDER.encode(), raw, 1)


def padded(body: bytes, size: int) -> bytes:
    """Valid JSON of exactly ``size`` bytes (trailing whitespace is insignificant)."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


def sized(valid: dict[str, Any], route: Route, size: int) -> dict[str, Any]:
    """The route's free-form object grown (by one string) to exactly ``size`` bytes as JSON."""
    assert route.slot is not None
    grown = {**valid[route.slot], "pad": ""}
    grown["pad"] = "x" * (size - len(json.dumps(grown, separators=(",", ":"))))
    assert len(json.dumps(grown, separators=(",", ":"))) == size
    return grown


def cases(route: Route, world: World) -> dict[str, Bad]:
    valid = route.valid(world)
    body = encode(valid)
    first = next(iter(valid))
    json_invalid = {"loc": ["body"], "type": "json_invalid"}
    out = {
        "valid": Bad(body, route.ok),
        "at_body_cap": Bad(padded(body, route.cap), route.ok),
        "over_body_cap": Bad(
            padded(body, route.cap + 1), 413, detail="Request body is too large"
        ),
        "text_plain": Bad(
            body, 415, "text/plain", detail="Content-Type must be application/json"
        ),
        "form_urlencoded": Bad(
            b"a=1", 415, "application/x-www-form-urlencoded",
            detail="Content-Type must be application/json",
        ),
        "empty": Bad(b"", 422, loc=["body"], type="missing"),
        # Compressed bodies are accepted; the cap applies to the decompressed size.
        "gzip": Bad(gzip.compress(body), route.ok, headers=GZIP),
        "gzip_over_body_cap": Bad(
            gzip.compress(padded(body, route.cap * 4)), 413, headers=GZIP,
            detail="Request body is too large",
        ),
        "gzip_corrupt": Bad(
            body, 415, headers=GZIP,
            detail="The body could not be decoded per its Content-Encoding",
        ),
        "unknown_content_encoding": Bad(
            body, 415, headers={"Content-Encoding": "bogus"},
            detail="Unsupported Content-Encoding",
        ),
        "stacked_content_encoding": Bad(
            gzip.compress(gzip.compress(body)), 415, headers={"Content-Encoding": "gzip, gzip"},
            detail="Unsupported Content-Encoding",
        ),
        "truncated": Bad(body[:-1], 422, **json_invalid),
        "trailing_garbage": Bad(body + b"}", 422, **json_invalid),
        "single_quotes": Bad(body.replace(b'"', b"'"), 422, **json_invalid),
        "invalid_utf8": Bad(with_raw(route, valid, b'"caf\xe9"'), 422, **json_invalid,
                            msg_has="UTF-8"),
        "overlong_utf8": Bad(with_raw(route, valid, b'"\xc0\xaf"'), 422, **json_invalid),
        "lone_surrogate": Bad(with_raw(route, valid, b'"\\ud800"'), 422, **json_invalid),
        "nan": Bad(with_raw(route, valid, b"NaN"), 422, **json_invalid),
        # Where a number is refused depends on the field (a string field's type error, a
        # free-form object's range check): the status and the issue shape are what matter.
        "huge_float": Bad(with_raw(route, valid, b"1e400"), 422),
        "huge_integer": Bad(with_raw(route, valid, b"1" + b"0" * 30), 422),
        "integer_of_5000_digits": Bad(with_raw(route, valid, b"9" * 5000), 422),
        # In a free-form object the decoder recurses until it gives up; in a typed field the
        # first `[` is already the wrong type.
        "nested_5000_deep": Bad(
            with_raw(route, valid, b"[" * 5000 + b"]" * 5000), 422,
            **(json_invalid if route.slot else {"type": "type_error"}),
        ),
        "array_body": Bad(b"[]", 422, loc=["body"], type="type_error"),
        "string_body": Bad(b'"x"', 422, loc=["body"], type="type_error"),
        "null_body": Bad(b"null", 422, loc=["body"], type="type_error"),
        "unknown_field": Bad(
            encode({**valid, "bogus": 1}), 422, loc=["body", "bogus"], type="extra_forbidden"
        ),
        "duplicate_key": Bad(
            b"{" + encode({first: valid[first]})[1:-1] + b", " + body[1:], 422, **json_invalid,
            msg_has=f"Duplicate key `{first}`",
        ),
        "long_string": Bad(
            encode({**valid, **route.long_string[0]}), route.long_string[1],
            loc=route.long_string[2],
        ),
    }
    if route.slot is not None:
        # Free-form values: integers must fit int64 (docs/decisions.md), duplicates are refused
        # at any depth.
        out["int64_max"] = Bad(with_raw(route, valid, str(2**63 - 1).encode()), route.ok)
        out["int64_min"] = Bad(with_raw(route, valid, str(-(2**63)).encode()), route.ok)
        out["int64_max_plus_1"] = Bad(
            with_raw(route, valid, str(2**63).encode()), 422, loc=["body"], msg_has="64-bit"
        )
        out["duplicate_nested_key"] = Bad(
            with_raw(route, valid, b'{"a": 1, "a": 2}'), 422, **json_invalid,
            msg_has="Duplicate key `a`",
        )
    if route.slot_cap is not None:
        size, status = route.slot_cap
        out["free_form_at_cap"] = Bad(encode({**valid, route.slot: sized(valid, route, size)}),
                                      route.ok)
        out["free_form_over_cap"] = Bad(
            encode({**valid, route.slot: sized(valid, route, size + 1)}), status,
            loc=["body", route.slot] if status == 422 else None,
        )
    if route.long_array is not None:
        changes, status, loc = route.long_array
        out["long_array"] = Bad(encode({**valid, **changes}), status, loc=loc)
    return out


KINDS = sorted({kind for route in ROUTES for kind in cases(route, World({}, "", "", 1, ""))})
MATRIX = [
    pytest.param(route, kind, id=f"{route.name}-{kind}")
    for route in ROUTES
    for kind in KINDS
    if kind in cases(route, World({}, "", "", 1, ""))
]


@pytest.fixture
async def world(org_with_key: Any, redis: Any, keys: Any) -> World:
    org_id, headers = await org_with_key()
    version = await seed_agent_version(redis, keys, org_id)
    draft = await AgentStore(redis, keys).create_version(org_id, version.agent_id, {})
    widget = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    return World(headers, version.agent_id, version.id, draft.version, widget.id)


@pytest.fixture
def client_for(aiohttp_client: Any, settings_factory: Any) -> Any:
    async def make(service: str, **overrides: Any) -> Any:
        if service == "management":
            from management_service.app import create_app
        else:
            from runtime_service.app import create_app
        return await aiohttp_client(create_app(settings_factory(service, **overrides)))

    return make


def template_of(path: str) -> str:
    """A matrix path (built from placeholder ids) in the router's ``{name}`` form."""
    path = re.sub(r"/[0-9a-f-]{36}(?=/|$)", "/{id}", path)
    for value, name in (("{agent}", "{id}"), ("{widget}", "{id}"),
                        ("{conversation}", "{conversation_id}")):
        path = path.replace(value, name)
    path = path.replace("/core/conversations/{id}", "/core/conversations/{conversation_id}")
    return re.sub(r"/versions/1$", "/versions/{version}", path)


def test_matrix_covers_every_json_route() -> None:
    """The matrix names every route that reads a JSON body, so a new one cannot be missed."""
    from management_service.app import create_app as management_app
    from runtime_service.app import create_app as runtime_app
    from tests.support.settings import make_settings

    world = World({}, "{agent}", "", 1, "{widget}", "{conversation}")
    registered = set()
    for service, factory in (("management", management_app), ("runtime", runtime_app)):
        app = factory(make_settings(service, "redis://127.0.0.1:1"))
        for resource_route in app.router.routes():
            if resource_route.method in ("POST", "PUT", "PATCH"):
                template = resource_route.resource.canonical if resource_route.resource else ""
                registered.add((resource_route.method, template))
    bodiless = {
        ("POST", "/core/agents/{id}/versions/{version}/publish"),
        ("POST", "/core/conversations/{conversation_id}/end"),
        ("POST", "/core/conversations/{conversation_id}/listener-token"),
        ("POST", "/core/webhooks/{id}/rotate-secret"),
        ("POST", "/core/webhooks/{id}/test"),
        ("POST", "/core/webhooks/{id}/deliveries/{delivery_id}/retry"),
        # Not JSON read by read_json: a signed body (tests/runtime/test_livekit_webhook.py).
        ("POST", "/livekit/webhook"),
    }
    matrix = {(route.method, template_of(route.path(world))) for route in ROUTES}
    assert registered - bodiless == matrix


@pytest.mark.parametrize(("route", "kind"), MATRIX)
async def test_bad_input_gets_a_clear_4xx(
    route: Route, kind: str, world: World, client_for: Any
) -> None:
    client = await client_for(route.service)
    if route.name == "submit_feedback":
        resp = await client.post(
            f"{PUBLIC}/{world.widget_id}/conversations", json={"user_id": "guest_1"}
        )
        world.conversation_id = (await resp.json())["conversation"]["id"]
    bad = cases(route, world)[kind]
    headers = dict(world.headers) if route.service == "management" else {}
    headers.update(bad.headers)
    skip = ()
    if bad.content_type is None:
        skip = ("Content-Type",)
    else:
        headers["Content-Type"] = bad.content_type
    resp = await client.request(
        route.method, route.path(world), data=bad.data, headers=headers, skip_auto_headers=skip
    )
    assert resp.content_type == "application/json"
    answer = await resp.json()
    assert resp.status == bad.status, answer
    if bad.status < 400:
        return
    assert set(answer) == {"detail"}
    if bad.status != 422:
        if bad.detail is not None:
            assert answer["detail"] == bad.detail
        else:
            assert isinstance(answer["detail"], str) and answer["detail"]
        return
    issues = answer["detail"]
    assert isinstance(issues, list) and issues
    for item in issues:
        assert set(item) == {"loc", "msg", "type"}
        assert item["loc"][0] == "body" and item["msg"]
    first = issues[0]
    if bad.loc is not None:
        assert first["loc"] == bad.loc
    if bad.type is not None:
        assert first["type"] == bad.type
    assert bad.msg_has in first["msg"]


SLOW_BODY_TIMEOUT = 0.3


async def raw_exchange(
    client: Any, head: bytes, parts: list[tuple[float, bytes]]
) -> tuple[int, dict[str, str], bytes, float]:
    """Send ``head``, then each part after its pause, on a raw connection; return the answer's
    status, headers (lower-case names), body, and the seconds from the head to the answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        started = time.monotonic()
        writer.write(head)
        for pause, part in parts:
            await asyncio.sleep(pause)
            writer.write(part)
        head_in = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = head_in.decode().split("\r\n")
        elapsed = time.monotonic() - started
        fields = (line.partition(": ") for line in lines if line)
        headers = {name.lower(): value for name, _, value in fields}
        body = await reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, body, elapsed
    finally:
        writer.close()


async def slow_body_request(
    route: Route, world: World, client_for: Any,
    parts: Callable[[bytes], list[tuple[float, bytes]]],
) -> tuple[int, dict[str, str], bytes, float]:
    client = await client_for(route.service, request_body_timeout=SLOW_BODY_TIMEOUT)
    if route.name == "submit_feedback":
        resp = await client.post(
            f"{PUBLIC}/{world.widget_id}/conversations", json={"user_id": "guest_1"}
        )
        world.conversation_id = (await resp.json())["conversation"]["id"]
    body = json.dumps(route.valid(world)).encode()
    headers = dict(world.headers) if route.service == "management" else {}
    head = f"{route.method} {route.path(world)} HTTP/1.1\r\nHost: test\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    ) + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return await raw_exchange(client, head.encode(), parts(body))


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
async def test_a_stalled_body_answers_408_once_the_body_timeout_passes(
    route: Route, world: World, client_for: Any
) -> None:
    # Half the body, then nothing: the client holds the handler until the timeout.
    status, headers, body, elapsed = await slow_body_request(
        route, world, client_for, lambda body: [(0, body[: len(body) // 2])]
    )
    assert status == 408, body
    assert json.loads(body) == {"detail": "The request body did not arrive in time"}
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff" and headers["x-request-id"]
    assert SLOW_BODY_TIMEOUT <= elapsed < SLOW_BODY_TIMEOUT + 2


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
async def test_a_body_sent_in_pieces_within_the_timeout_is_read_whole(
    route: Route, world: World, client_for: Any
) -> None:
    status, _, body, _ = await slow_body_request(
        route, world, client_for,
        lambda body: [(0, body[:5]), (0.1, body[5:-3]), (0.1, body[-3:])],
    )
    assert status == route.ok, body


LISTS = [
    pytest.param("management", lambda w: "/core/web-widgets", id="list_widgets"),
    pytest.param("runtime", lambda w: f"{PUBLIC}/{w.widget_id}/conversations",
                 id="list_conversations"),
]
BAD_QUERIES = [
    pytest.param("limit", "9" * 5000, id="limit_of_5000_digits"),
    pytest.param("limit", "9" * 30, id="limit_huge"),
    pytest.param("limit", "0", id="limit_zero"),
    pytest.param("limit", "1e2", id="limit_float"),
    pytest.param("limit", "²", id="limit_unicode_digit"),
    pytest.param("cursor", "%ff%fe", id="cursor_invalid_utf8"),
    pytest.param("cursor", "A" * 6000, id="cursor_long"),
]


@pytest.mark.parametrize(("service", "path"), LISTS)
@pytest.mark.parametrize(("name", "value"), BAD_QUERIES)
async def test_bad_list_query_is_422(
    service: str, path: Callable[[World], str], name: str, value: str, world: World,
    client_for: Any,
) -> None:
    client = await client_for(service)
    headers = world.headers if service == "management" else {}
    resp = await client.get(f"{path(world)}?{name}={value}", headers=headers)
    answer = await resp.json()
    assert resp.status == 422, answer
    (issue,) = answer["detail"]
    assert issue["loc"] == ["query", name] and issue["msg"]
