"""Every anchored pattern refuses a trailing newline (Python's ``$`` matches before a final "\\n"),
is the same regular expression in ECMA-262 (the OpenAPI documents hand the patterns to JSON Schema
tools and to the fuzz tests), and a value plus "\\n" is a 422 through the API (issue 15 item 5)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import msgspec
import pytest

from common.errors import ApiError
from common.ids import new_id
from common.models.agent import AgentName
from common.models.conversation import UserId
from common.models.types import UUID_MESSAGE, Color, FieldId, Locale, UUIDStr
from common.models.widget_config import AgentAvatar
from common.validation import convert
from management_service.branding.models import Hex
from management_service.conversation_reports import TranscriptTime
from management_service.idempotency import IdempotencyKey
from management_service.openapi import build_document
from management_service.webhook_models import DeliveryId, SecretText
from runtime_service.openapi import openapi_document
from tests.support.paths import ROOT
from tests.support.settings import make_settings
from tests.support.widget_helpers import create_widget, expect, issue, make_version

UUID = "0b6c6a4e-6f1e-4c1a-9d2b-3f4e5a6b7c8d"

# One row per pattern type of the models: a value it accepts.
MODEL_PATTERNS: list[tuple[str, Any, str]] = [
    ("uuid", UUIDStr, UUID),
    ("colour", Color, "#a1b2c3"),
    ("colour-short", Color, "#fff"),
    ("colour-empty", Color, ""),
    ("field-id", FieldId, "a"),
    ("agent-name", AgentName, "support-agent"),
    ("user-id", UserId, "guest_1"),
    ("brand-hex", Hex, "#a1b2c3"),
    ("idempotency-key", IdempotencyKey, "a4f7c1e2-retry:1"),
    ("avatar", AgentAvatar, "https://cdn.example.com/a.png"),
    ("locale", Locale, "pt-BR"),
    ("transcript-at", TranscriptTime, "2026-01-01T10:00:00.250+01:00"),
    ("delivery-id", DeliveryId, "dlv_0f5a2c7e9b1d4e8f"),
    ("webhook-secret", SecretText, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
]


def _pattern_of(type_: Any) -> str:
    (meta,) = [m for m in type_.__metadata__ if isinstance(m, msgspec.Meta)]
    return meta.pattern


@pytest.mark.parametrize(
    ("name", "type_", "value"), MODEL_PATTERNS, ids=[row[0] for row in MODEL_PATTERNS]
)
def test_model_pattern_refuses_a_trailing_newline(name: str, type_: Any, value: str) -> None:
    assert msgspec.convert(value, type_) == value
    for bad in (value + "\n", value + "\r\n", "\n" + value):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, type_)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limit_start", "10/60"),
        ("rate_limit_list", "off"),
        ("auto_brand_ports", "80,443"),
        ("redis_sentinels", "s1:26379,s2:26379"),
    ],
)
def test_settings_pattern_refuses_a_trailing_newline(name: str, value: str) -> None:
    assert getattr(make_settings("runtime", "redis://x", **{name: value}), name) == value
    with pytest.raises(SystemExit, match=f"invalid configuration: .* at `\\$.{name}`"):
        make_settings("runtime", "redis://x", **{name: value + "\n"})


def _document_patterns() -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(build_document())
    walk(json.loads(openapi_document()))
    return found


def test_every_documented_pattern_is_covered_here_and_has_no_python_only_anchor() -> None:
    documented = _document_patterns()
    assert documented, "the documents carry patterns"
    for pattern in documented:
        assert "\\Z" not in pattern and "\\A" not in pattern, pattern
    # A new pattern in a document needs its row in MODEL_PATTERNS.
    assert documented <= {_pattern_of(type_) for _, type_, _ in MODEL_PATTERNS}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_every_pattern_is_the_same_ecma_262_regex() -> None:
    """Compiled by node (with and without the ``u`` flag JSON Schema tools may use): a valid
    value matches, the value plus "\\n" does not, in JavaScript as in Python."""
    cases = [[_pattern_of(type_), value] for _, type_, value in MODEL_PATTERNS]
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const out = cases.map(([p, v]) => ['', 'u'].map(f => {const r = new RegExp(p, f);"
        " return [r.test(v), r.test(v + '\\n'), r.test(v + '\\r\\n')];}));"
        "process.stdout.write(JSON.stringify(out));"
    )
    result = subprocess.run(
        ["node", "-e", script], input=json.dumps(cases), capture_output=True, text=True,
        timeout=30, check=True,
    )
    for (pattern, value), flags in zip(cases, json.loads(result.stdout), strict=True):
        assert flags == [[True, False, False]] * 2, (pattern, value)
        assert re.search(pattern, value) and not re.search(pattern, value + "\n")


def test_no_regex_in_the_code_anchors_with_a_bare_dollar() -> None:
    """The sources' regular expressions end ``$(?!\\n)`` (or use fullmatch), never a bare ``$``."""
    offenders = []
    for package in ("common", "management_service", "runtime_service"):
        for path in (ROOT / package).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"r[\"'][^\"']*\$[\"']", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


# --- through the APIs -------------------------------------------------------------------------

PREFIX = "/core/public/web-widgets"


async def test_start_refuses_a_user_id_with_a_trailing_newline(
    runtime_client: Any, widget: Any
) -> None:
    url = f"{PREFIX}/{widget.id}/conversations"
    resp = await runtime_client.post(url, json={"user_id": "guest_1\n"})
    assert issue(await expect(resp, 422))["loc"] == ["body", "user_id"]
    resp = await runtime_client.get(url, params={"user_id": "guest_1\n"})
    assert issue(await expect(resp, 422))["loc"] == ["query", "user_id"]
    for name in ("created_after", "created_before"):
        params = {"user_id": "guest_1", name: "2026-01-01T00:00:00Z\n"}
        resp = await runtime_client.get(url, params=params)
        assert issue(await expect(resp, 422))["loc"] == ["query", name]


async def test_resume_id_with_a_trailing_newline_is_422_saying_what_an_id_is(
    runtime_client: Any, widget: Any
) -> None:
    url = f"{PREFIX}/{widget.id}/conversations"
    started = await expect(await runtime_client.post(url, json={"user_id": "guest_1"}), 200)
    conversation_id = started["conversation"]["id"]
    body = {"user_id": "guest_1", "conversation_id": conversation_id + "\n"}
    problem = issue(await expect(await runtime_client.post(url, json=body), 422))
    assert problem == {
        "loc": ["body", "conversation_id"], "msg": UUID_MESSAGE, "type": "value_error"
    }


async def test_path_ids_with_a_trailing_newline_are_404(runtime_client: Any, widget: Any) -> None:
    # DESIGN.md: a path id that is not a UUID answers 404, like an unknown one.
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}%0A")
    await expect(resp, 404)
    url = f"{PREFIX}/{widget.id}/conversations/{new_id()}%0A/feedback"
    await expect(await runtime_client.post(url, json={"data": {}}), 404)


@pytest.fixture
async def org(org_with_key: Any) -> tuple[str, dict[str, str]]:
    return await org_with_key(["web_widgets:manage", "agents:manage"])


async def test_management_refuses_values_with_a_trailing_newline(
    management_client: Any, org: Any
) -> None:
    headers = org[1]
    agent_id, version_id = await make_version(management_client, headers)
    resp = await management_client.post(
        f"/core/agents/{agent_id}/versions",
        json={"config": {"livekit_agent_name": "support-agent\n"}}, headers=headers,
    )
    assert issue(await expect(resp, 422))["loc"][-1] == "livekit_agent_name"
    for config in (
        {"v1": {"chat": {"light_mode": {"text_color": {"user_message": "#fff\n"}}}}},
        {"v1": {"pre_conversation_form": {"fields": [
            {"id": "a", "type": "text", "label": "A"},
            {"id": "a\n", "type": "text", "label": "A again"},
        ]}}},
    ):
        body = {"agent_id": agent_id, "agent_version_id": version_id, "config": config}
        resp = await management_client.post("/core/web-widgets", json=body, headers=headers)
        await expect(resp, 422)
    body = {"agent_id": agent_id + "\n", "agent_version_id": version_id}
    resp = await management_client.post("/core/web-widgets", json=body, headers=headers)
    assert issue(await expect(resp, 422)) == {
        "loc": ["body", "agent_id"], "msg": UUID_MESSAGE, "type": "value_error"
    }
    resp = await management_client.get(
        "/core/web-widgets", params={"agent_id": agent_id + "\n"}, headers=headers
    )
    assert issue(await expect(resp, 422))["msg"] == UUID_MESSAGE
    widget = await create_widget(management_client, headers, (agent_id, version_id))
    await expect(
        await management_client.get(f"/core/web-widgets/{widget['id']}%0A", headers=headers), 404
    )


@pytest.mark.parametrize(
    ("type_", "value"),
    [(row[1], row[2]) for row in MODEL_PATTERNS
     if row[0] not in {"brand-hex", "idempotency-key", "delivery-id", "webhook-secret"}],
)
def test_a_refusal_says_what_is_expected_not_the_regex(type_: Any, value: str) -> None:
    # The brand's Hex and the webhook secret are only ever answers, the Idempotency-Key header
    # has its own message (tests/management/test_idempotency.py), and a delivery id is a path
    # segment (anything else is a 404); every other pattern checks client input.
    with pytest.raises(ApiError) as caught:
        convert(value + "\n", type_, ["body"])
    (problem,) = caught.value.detail
    assert problem.msg.startswith("Expected ") and "regex" not in problem.msg


def _compiled() -> list[tuple[str, re.Pattern[str], str]]:
    from common import domains, http, pagination
    from common.credential_tokens import TOKEN
    from management_service.branding import colors, parse, target
    from runtime_service import conversation_query
    from runtime_service.embed import csp

    return [
        ("member", pagination._MEMBER, f"1790000000000:{UUID}"),
        ("request-id", http._REQUEST_ID_OK, "abc-123"),
        ("domain-label", domains._LABEL, "example"),
        ("token", TOKEN, "ak_" + "a" * 32 + "." + "s" * 40),
        ("list-user-id", conversation_query._USER_ID, "guest_1"),
        ("csp-source", csp._SAFE_SOURCE, "https://shop.example"),
        ("brand-hex", colors._HEX, "#fff"),
        ("brand-function", colors._FUNC, "rgb(1, 2, 3)"),
        ("brand-number", colors._NUMBER, "12.5%"),
        ("icon-size", parse._SIZE, "32x32"),
        ("brand-label", target._LABEL, "example"),
    ]


@pytest.mark.parametrize(
    ("name", "compiled", "value"), _compiled(), ids=[row[0] for row in _compiled()]
)
def test_compiled_pattern_refuses_a_trailing_newline(
    name: str, compiled: re.Pattern[str], value: str
) -> None:
    # Called with .match: a bare "$" would accept value + "\n".
    assert compiled.match(value)
    assert not compiled.match(value + "\n")
