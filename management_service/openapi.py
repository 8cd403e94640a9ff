"""The management API's OpenAPI 3.1 document, built once at import from the shared msgspec models.

Components come from the models; paths are written by hand and mirror ``routes.py`` (which imports
the handlers, hence no import from it here); tests/management/test_management_openapi.py checks
both agree.
"""

from __future__ import annotations

from typing import Any

import msgspec

from common.models.agent import (
    Agent,
    AgentCreate,
    AgentVersion,
    AgentVersionCreate,
    AgentVersionUpdate,
)
from common.models.conversation import INDEXED_STATUSES, ConversationSummary, OwnerConversation
from common.models.webhooks import EVENT_TYPES, TEST_EVENT, WebhookDelivery, WebhookEndpoint
from common.models.widget import Widget, WidgetCreate, WidgetUpdate
from common.models.widget_config import ConfigV1
from common.openapi import (
    METRICS_OK,
    READ_JSON_ERRORS,
    REF,
    STATUS_OK,
    UUID,
    error_schemas,
    json_content,
    operation,
    path_param,
    query_param,
    ref,
    responses,
)
from common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from common.query_params import CHANNELS
from management_service.auth import ORG_HEADER
from management_service.branding.models import AutoBrandRequest, Brand
from management_service.conversation_erasure import ConversationErase, ConversationsErased
from management_service.conversation_query import (
    DIRECTIONS,
    MAX_METADATA_FILTER,
    MAX_USER_ID_FILTER,
    STATUSES,
)
from management_service.conversation_reports import ConversationEnded, ConversationReport
from management_service.idempotency import KEY_PATTERN
from management_service.listener_tokens import ListenerToken
from management_service.webhook_egress import MAX_URL_LENGTH
from management_service.webhook_models import (
    DELIVERY_ID_PATTERN,
    WebhookCreate,
    WebhookSendAccepted,
    WebhookUpdate,
    WebhookWithSecret,
)
from management_service.webhook_store import MAX_ENDPOINTS, MAX_SECRETS
from management_service.widget_stats import MAX_DAYS, StatsCounts, StatsDay, WidgetStats

WIDGETS = "/core/web-widgets"
AGENTS = "/core/agents"
WEBHOOKS = "/core/webhooks"

_WIDGET_CONFIG = {
    "title": "WidgetConfig",
    "type": "object",
    "description": "The widget's configuration, stored as sent, at most 64 KiB as JSON. Known "
    "keys under `v1` are validated; unknown keys (at any level) are kept.",
    "properties": {"v1": ref("ConfigV1")},
    "additionalProperties": True,
}

_ERRORS = {
    **READ_JSON_ERRORS,
    "400": "The request cannot be fulfilled (see the operation's description)",
    "401": "Missing, invalid or expired credential, or a `pat_` token without `X-Anyreach-Org`",
    "403": "The credential lacks the required scope, or its user is not a member of the "
    "organization",
    "404": "Not found (also for malformed ids and other organizations' resources)",
    "409": "Concurrent modification or state conflict (or a request with the same "
    "`Idempotency-Key` still in progress); retry",
    "413": "Request body too large (256 KiB after decompression)",
    "422": "Invalid path, query or body; `detail` lists each problem with its location",
    "502": "The looked-up site exists but could not be reached (refused, TLS), redirected to a "
    "destination the SSRF controls refuse, or answered unusably",
    "503": "A dependency (Redis) is unavailable; retry after `Retry-After` seconds",
    "504": "The looked-up site did not answer in time",
}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    503: {"Retry-After": {"schema": {"type": "integer"}}},
}

_EXAMPLE_AGENT_ID = "6f1c2a9e-5b1d-4c8e-9a57-3d2f0e8b7c14"
_EXAMPLE_VERSION_ID = "0b6f0d0e-8c36-4f5e-b2a1-9e47c2d5a3f8"
_EXAMPLE_CREATE = {
    "agent_id": _EXAMPLE_AGENT_ID,
    "agent_version_id": _EXAMPLE_VERSION_ID,
    "domains": ["yourdomain.com", "http://localhost:3000"],
    "published": True,
    "config": {"v1": {"theme": "dark", "default_mode": "voice"}},
}
_EXAMPLE_WIDGET = {
    "id": "3e9a7c1b-2d4f-4a6b-8c0d-1f2e3a4b5c6d",
    "organization_id": "a1b2c3d4-e5f6-4789-9abc-def012345678",
    "agent_id": _EXAMPLE_AGENT_ID,
    "agent_version_id": _EXAMPLE_VERSION_ID,
    "domains": ["https://yourdomain.com", "http://localhost:3000"],
    "published": True,
    "config": {"v1": {"theme": "dark", "default_mode": "voice"}},
    "created_at": "2025-01-15T09:30:00.000Z",
    "updated_at": "2025-01-15T09:30:00.000Z",
}


def _ok(
    status: int, description: str, schema: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, **extra}
    if schema is not None:
        response["content"] = json_content(schema, response.pop("example", None))
    return {str(status): response}


def _operation(
    op_id: str, summary: str, ok: dict[str, Any], errors: tuple[int, ...], *,
    params: list[dict[str, Any]] | None = None, body: str | None = None, description: str = "",
    public: bool = False, body_example: Any = None,
) -> dict[str, Any]:
    """Public operations need no credential; the others take the organization header."""
    parameters = list(params or [])
    if not public:
        parameters.append({"$ref": "#/components/parameters/OrgHeader"})
    return operation(
        op_id, summary, responses(ok, errors, _ERRORS, _ERROR_HEADERS),
        description=description, security=[] if public else None, parameters=parameters,
        body=body, body_example=body_example,
    )


_WIDGET_ID = path_param("id", "The widget id")
_AGENT_ID = path_param("id", "The agent id")
_VERSION = path_param("version", "The version's number, `latest`, or the version id",
                      {"type": "string"})
_READ = (401, 403, 404, 503)


def _links(params: dict[str, str], *op_ids: str) -> dict[str, Any]:
    """OpenAPI links from a created object to the operations on it (for clients and fuzzers)."""
    return {op_id[0].upper() + op_id[1:]: {"operationId": op_id, "parameters": params}
            for op_id in op_ids}


_WIDGET_LINKS = _links({"id": "$response.body#/id"}, "getWidget", "updateWidget", "deleteWidget")
_AGENT_LINKS = _links({"id": "$response.body#/id"}, "getAgent", "createAgentVersion")
_VERSION_LINKS = {
    **_links(
        {"id": "$response.body#/agent_id", "version": "$response.body#/version"},
        "getAgentVersion", "updateAgentVersion", "publishAgentVersion",
    ),
    # A widget on the new version: with the widget's own links, the way from an agent to a
    # widget that can be changed and deleted.
    "CreateWidget": {"operationId": "createWidget", "requestBody": {
        "agent_id": "$response.body#/agent_id", "agent_version_id": "$response.body#/id",
    }},
}
_WRITE = (401, 403, 404, 408, 409, 413, 415, 422, 503)
# Creating POSTs take an Idempotency-Key (management_service/idempotency.py).
_IDEMPOTENCY_KEY = {"$ref": "#/components/parameters/IdempotencyKey"}
_REPLAYED = {"Idempotent-Replayed": {
    "schema": {"const": "true"},
    "description": "Present on a repeated request's answer: the first response, replayed",
}}
_IDEMPOTENT = (
    " With an `Idempotency-Key`, a repeat of the request (same key, route and body) within "
    "24 hours answers the first 2xx response again (`Idempotent-Replayed: true`) instead of "
    "creating a second resource; the key with another body or route is 422, a repeat while "
    "the first is still running 409."
)


def _widget_paths() -> dict[str, Any]:
    widget = _ok(200, "The widget", ref("Widget"), example=_EXAMPLE_WIDGET)
    listing = _operation(
        "listWidgets", "List widgets", _ok(
            200, "One page of widgets, newest first",
            {"type": "array", "items": ref("Widget")},
            headers={"X-Next-Cursor": {
                "schema": {"type": "string"},
                "description": "Cursor of the next page; absent on the last page",
            }},
        ), (401, 403, 422, 503),
        params=[
            query_param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                  "default": DEFAULT_LIMIT}, "Page size"),
            query_param("cursor", {"type": "string"}, "`X-Next-Cursor` of the previous page (a "
                        "Base64-encoded `created_at` is accepted too)"),
            query_param("agent_id", UUID, "Only widgets serving this agent"),
            query_param("agent_version_id", UUID, "Only widgets pinned to this agent version"),
            query_param("published", {"type": "boolean"}, "Only published (`true`) or "
                        "unpublished (`false`) widgets"),
        ],
        description="Scope `web_widgets:read` or `web_widgets:manage`.",
    )
    create = _operation(
        "createWidget", "Create a widget",
        _ok(201, "The created widget", ref("Widget"), example=_EXAMPLE_WIDGET,
            links=_WIDGET_LINKS, headers=_REPLAYED),
        (401, 403, 408, 409, 413, 415, 422, 503), body="WidgetCreate", body_example=_EXAMPLE_CREATE,
        params=[_IDEMPOTENCY_KEY],
        description="Scope `web_widgets:manage`. The agent must exist in the organization and "
        "the version must be one of its versions (422 otherwise); an unpublished version is "
        "allowed. `domains` are normalized to origins. `organization_id` comes from the "
        "credential; read-only fields in the body are ignored." + _IDEMPOTENT,
    )
    get = _operation("getWidget", "Get a widget", widget, _READ, params=[_WIDGET_ID],
                     description="Scope `web_widgets:read` or `web_widgets:manage`.")
    update = _operation(
        "updateWidget", "Update a widget", widget, _WRITE, params=[_WIDGET_ID],
        body="WidgetUpdate", body_example={"published": False},
        description="Scope `web_widgets:manage`. Only the fields present replace the stored "
        "values (`config` is replaced whole, not merged; `null` is invalid). A changed agent "
        "or version is validated as on create. A body with nothing to change writes nothing.",
    )
    delete = _operation(
        "deleteWidget", "Delete a widget", {"204": {"description": "Deleted"}},
        (401, 403, 404, 409, 503), params=[_WIDGET_ID],
        description="Scope `web_widgets:manage`. The widget's conversations are erased too, "
        "in the background (within `WIDGET_ERASER_INTERVAL` seconds, a few steps for a large "
        "widget; once more `WIDGET_ERASER_RECHECK` seconds later for a conversation a runtime "
        "pod started from its cached copy meanwhile).",
    )
    auto_brand = _operation(
        "autoBrand", "Fetch brand data for a domain",
        _ok(200, "The resolved brand", ref("Brand")),
        (401, 403, 404, 408, 413, 415, 422, 502, 503, 504),
        params=[_WIDGET_ID], body="AutoBrandRequest", body_example={"domain": "example.com"},
        description="Scope `web_widgets:manage`. The widget must exist. Returns the brand so "
        "the caller can pre-fill the widget's styling (deep-merge `config_v1` into the widget's "
        "`config.v1` and PUT it); nothing is written. 404 when the widget is not found, no "
        "brand is found for the domain, or the domain does not exist (no name of it resolves); "
        "422 for a domain that cannot be looked up (not http(s), a port outside "
        "`AUTO_BRAND_PORTS`, a non-public address, or a name that resolves only to addresses "
        "auto-brand will not fetch); 502 when the site exists but cannot be reached, redirects "
        "to a destination the SSRF controls refuse (e.g. a private address) or answers "
        "unusably; 504 when it does not answer within `AUTO_BRAND_TIMEOUT`. Outcomes "
        "are cached per domain (`AUTO_BRAND_CACHE_TTL`, failures `AUTO_BRAND_NEGATIVE_TTL`).",
    )
    return {
        WIDGETS: {"get": listing, "post": create},
        WIDGETS + "/{id}": {"get": get, "put": update, "delete": delete},
        WIDGETS + "/{id}/auto-brand": {"post": auto_brand},
        WIDGETS + "/{id}/stats": {"get": _stats_operation()},
    }


def _stats_operation() -> dict[str, Any]:
    day = {"type": "string", "format": "date"}
    return _operation(
        "getWidgetStats", "A widget's daily conversation and feedback stats",
        _ok(200, "One bucket per UTC day of the range, oldest first, and the range's totals",
            ref("WidgetStats")),
        (401, 403, 404, 422, 503), params=[
            _WIDGET_ID,
            query_param("from", day, "First UTC day of the range, inclusive (`YYYY-MM-DD`). "
                        "Default: 29 days before `to`"),
            query_param("to", day, "Last UTC day of the range, inclusive (`YYYY-MM-DD`). "
                        "Default: today, or 29 days after `from` when only `from` is given "
                        "(never past today then)"),
        ],
        description="Scope `web_widgets:read` or `web_widgets:manage`. Per UTC day: "
        "conversations `started`, that reached `in_progress`, that ended `completed`, "
        "`failed` or `cancelled` (each counted on the day the change happened), "
        "`duration_total` and `duration_count` (seconds and number of ended conversations "
        "the visitor joined; `duration_average` is their quotient, null without any), "
        "`feedback` submissions, and `ratings`: per rating field of the feedback form, how "
        "many submissions gave each value `\"1\"` to `\"5\"` (the current form's rating "
        "fields always, older fields when counted in the range). Counters are kept as the "
        "events happen (never computed from conversations), for `STATS_RETENTION` (default "
        f"400 days); erasing a conversation does not change them. At most {MAX_DAYS} days "
        "per request; `from` after `to`, a longer range or a malformed date is 422.",
    )


def _agent_paths() -> dict[str, Any]:
    agent = _ok(200, "The agent", ref("Agent"))
    version = _ok(200, "The version", ref("AgentVersion"))
    return {
        AGENTS: {"post": _operation(
            "createAgent", "Create an agent",
            _ok(201, "The created agent", ref("Agent"), links=_AGENT_LINKS, headers=_REPLAYED),
            (401, 403, 408, 409, 413, 415, 422, 503), body="AgentCreate",
            params=[_IDEMPOTENCY_KEY], description="Scope `agents:manage`." + _IDEMPOTENT,
        )},
        AGENTS + "/{id}": {"get": _operation(
            "getAgent", "Get an agent", agent, _READ, params=[_AGENT_ID],
            description="Scope `agents:read` or `agents:manage`.",
        )},
        AGENTS + "/{id}/versions": {"post": _operation(
            "createAgentVersion", "Create an agent version",
            _ok(201, "The created (unpublished) version", ref("AgentVersion"),
                links=_VERSION_LINKS, headers=_REPLAYED),
            (401, 403, 404, 408, 409, 413, 415, 422, 503), params=[_AGENT_ID, _IDEMPOTENCY_KEY],
            body="AgentVersionCreate",
            description="Scope `agents:manage`. Versions are numbered 1, 2, ... per agent."
            + _IDEMPOTENT,
        )},
        AGENTS + "/{id}/versions/{version}": {
            "get": _operation(
                "getAgentVersion", "Get an agent version", version, _READ,
                params=[_AGENT_ID, _VERSION],
                description="Scope `agents:read` or `agents:manage`.",
            ),
            "put": _operation(
                "updateAgentVersion", "Replace an unpublished version's config", version,
                (400, *_WRITE), params=[_AGENT_ID, _VERSION], body="AgentVersionUpdate",
                description="Scope `agents:manage`. 400: a published version is immutable.",
            ),
        },
        AGENTS + "/{id}/versions/{version}/publish": {"post": _operation(
            "publishAgentVersion", "Publish an agent version", version,
            (401, 403, 404, 409, 503), params=[_AGENT_ID, _VERSION],
            description="Scope `agents:manage`. Publishing is idempotent; any body is ignored.",
        )},
    }


_DATE = {"type": "string", "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0, "maximum": 9_999_999_999}
_OWNER_READ = (
    "Scope `conversations:read`, `conversations:read_sensitive` or `conversations:manage`. "
    "Every conversation has the safe columns (`ConversationSummary`); only a credential "
    "holding `conversations:read_sensitive` also gets `custom_metadata` (the pre-conversation "
    "form's values, and `feedback_form` once feedback is submitted), `summary` and "
    "`transcript` (`OwnerConversation`). Answers carry `Cache-Control: no-store`."
)
# Either shape: which one depends on the credential's scopes (described on each operation).
_OWNER_CONVERSATION = {"anyOf": [ref("OwnerConversation"), ref("ConversationSummary")]}
_NO_STORE = {"Cache-Control": {"schema": {"const": "no-store"}}}


def _owner_list() -> dict[str, Any]:
    walked = " Evaluated on each conversation while the index is walked."
    return _operation(
        "listConversations", "List the organization's conversations", _ok(
            200, "One page of conversations, newest first",
            {"type": "array", "items": _OWNER_CONVERSATION},
            headers={**_NO_STORE, "X-Next-Cursor": {
                "schema": {"type": "string"},
                "description": "Cursor of the next page; absent on the last page. A page may "
                "hold fewer than `limit` conversations and still have a next page (see above)",
            }},
        ), (401, 403, 422, 503),
        params=[
            query_param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                  "default": DEFAULT_LIMIT}, "Page size"),
            query_param("cursor", {"type": "string"}, "`X-Next-Cursor` of the previous page (a "
                        "Base64-encoded `created_at` is accepted too: the conversations created "
                        "strictly before it)"),
            query_param("web_widget_id", UUID, "Only this widget's conversations. Indexed "
                        "(another organization's or an unknown widget lists nothing)"),
            query_param("status", {"enum": sorted(STATUSES)}, "Exact status. Indexed: with "
                        "`web_widget_id` the widget's status index, without it the status "
                        "indexes of all the organization's widgets, merged. Conversations take "
                        f"only {', '.join(INDEXED_STATUSES)}: the others list nothing"),
            query_param("created_after", _DATE, "Created at or after this instant. Bounds "
                        "the walked index"),
            query_param("created_before", _DATE, "Created at or before this instant. Bounds "
                        "the walked index"),
            query_param("direction", {"enum": sorted(DIRECTIONS)}, "Exact." + walked),
            query_param("channel", {"enum": sorted(CHANNELS)}, "Exact; widgets start only "
                        "`webrtc` conversations, so another channel lists nothing"),
            query_param("user_id", {"type": "string", "minLength": 1,
                                    "maxLength": MAX_USER_ID_FILTER},
                        "Case-insensitive substring of the visitor's id." + walked),
            query_param("agent_id", UUID, "Exact." + walked),
            query_param("agent_version_id", UUID, "Exact." + walked),
            query_param("duration_above", _COUNT, "Duration (s) at least this; a conversation "
                        "without a duration never matches." + walked),
            query_param("duration_below", _COUNT, "Duration (s) at most this; a conversation "
                        "without a duration never matches." + walked),
            query_param("user_turn_count_above", _COUNT, "User turns at least this; none "
                        "reported never matches." + walked),
            query_param("user_turn_count_below", _COUNT, "User turns at most this; none "
                        "reported never matches." + walked),
            query_param("custom_metadata", {"type": "string", "maxLength": MAX_METADATA_FILTER},
                        "A JSON object, e.g. `{\"order_id\":\"123\"}`: conversations whose "
                        "`custom_metadata` contains it (as PostgreSQL's `@>`: nested objects "
                        "contained recursively, arrays contain the listed elements). Anything "
                        "but a JSON object is 422; needs `conversations:read_sensitive` (403 "
                        "otherwise), since matches would reveal the values." + walked),
        ],
        description=_OWNER_READ + " Index choice: `web_widget_id` (with `status`) walks that "
        "widget's index; `status` alone merges the status indexes of the organization's "
        "widgets; otherwise the organization's own time index. The other filters are "
        "evaluated per conversation within a budget of index entries per page "
        "(5000): a page can come back short, even empty, with an `X-Next-Cursor` to continue; "
        "keep following the cursor until it is absent. The cursor never skips or repeats a "
        "conversation, also among equal `created_at`. Unknown parameters are ignored.",
    )


def _conversation_paths() -> dict[str, Any]:
    # Named apart from the widgets' and agents' `{id}`: the stateful fuzzing links ids by name.
    conversation_id = path_param("conversation_id", "The conversation id")
    get = _operation(
        "getConversation", "Get a conversation",
        _ok(200, "The conversation", _OWNER_CONVERSATION, headers=_NO_STORE),
        _READ, params=[conversation_id],
        description=_OWNER_READ + " 404 for an unknown id, a malformed one, or another "
        "organization's conversation.",
    )
    report = _operation(
        "reportConversation", "Report on a conversation (the agent's worker)",
        _ok(200, "The conversation's safe columns after the report", ref("ConversationSummary")),
        (401, 403, 404, 408, 409, 413, 415, 422, 503), params=[conversation_id],
        body="ConversationReport",
        body_example={"user_turn_count": 3, "summary": "Asked about pricing", "transcript": [
            {"role": "user", "text": "How much is it?", "at": "2026-01-01T10:00:05Z"}]},
        description="Scope `conversations:manage`. Any of: `user_turn_count` (kept only when "
        "it grows), `summary` (replaces), `transcript` items (at most 50 per report, appended; "
        "the stored transcript holds at most 1000 items and 256 KiB as JSON: 413 past either), "
        "`ended_reason`. 409 "
        "once the conversation has ended, except that a body with only `summary` is still "
        "accepted for `REPORT_GRACE` seconds (default 600) after the end. 404 for another "
        "organization's conversation.",
    )
    end = _operation(
        "endConversation", "End a conversation",
        _ok(200, "The conversation's final state", ref("ConversationEnded")),
        (401, 403, 404, 503), params=[conversation_id],
        description="Scope `conversations:manage`. Sets `completed` (duration: the visitor's "
        "time in the rooms so far) and publishes `conversation.ended`. Idempotent: an "
        "already-ended conversation is answered as it is, unchanged. With `LIVEKIT_API_URL` "
        "set, the conversation's room is also removed from LiveKit (a failure there is logged "
        "and does not undo the end).",
    )
    listener = _operation(
        "createListenerToken", "A token to listen to a conversation in progress",
        _ok(200, "LiveKit connection details for a hidden, subscribe-only participant",
            ref("ListenerToken"), headers={"Cache-Control": {
                "schema": {"const": "no-store"}, "description": "It carries a credential"}}),
        (401, 403, 404, 409, 503), params=[conversation_id],
        description="Scope `conversations:read_sensitive`. Join `room` at `url` with `token` "
        "(a LiveKit access token, e.g. with the LiveKit client SDKs) to hear and see the "
        "conversation live: the participant is hidden from the visitor and the agent, can "
        "subscribe but never publish audio, video or data, can join only this room, and the "
        "token can be used for `LISTENER_TOKEN_TTL` seconds (default 300; once connected, "
        "LiveKit keeps the session). Identity `listener-<random>`. 409 unless the "
        "conversation is `in_progress`; after a resume, ask again for the new room. Creates "
        "nothing stored, so it takes no `Idempotency-Key`: a retry mints another token; any "
        "body is ignored.",
    )
    return {
        "/core/conversations": {"get": _owner_list()},
        "/core/conversations/{conversation_id}": {"get": get},
        "/core/conversations/{conversation_id}/report": {"post": report},
        "/core/conversations/{conversation_id}/end": {"post": end},
        "/core/conversations/{conversation_id}/listener-token": {"post": listener},
    }


_EXAMPLE_WEBHOOK = {
    "id": "5d0c8f3a-7e21-4b9c-a6d4-2f1e0b9c8a73",
    "organization_id": "a1b2c3d4-e5f6-4789-9abc-def012345678",
    "url": "https://hooks.example.com/anyreach",
    "events": ["conversation.ended", "feedback.submitted"],
    "description": "CRM sync",
    "enabled": True,
    "disabled_reason": None,
    "created_at": "2025-01-15T09:30:00.000Z",
    "updated_at": "2025-01-15T09:30:00.000Z",
}
_EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_EXAMPLE_DELIVERY = {
    "id": "dlv_0f5a2c7e9b1d4e8fa3c6b9d2e5f8a1c4",
    "endpoint_id": _EXAMPLE_WEBHOOK["id"],
    "event_id": "evt_8b7e6d5c4b3a29180f1e2d3c4b5a6978",
    "event_type": "conversation.ended",
    "status": "failed",
    "attempts": 3,
    "last_status_code": 500,
    "last_error": "HTTP 500",
    "latency_ms": 412,
    "next_attempt_at": "2025-01-15T09:45:00.000Z",
    "created_at": "2025-01-15T09:30:00.000Z",
    "updated_at": "2025-01-15T09:35:00.000Z",
}
_WEBHOOK_SCOPE = "Scope `webhooks:manage`. "
_URL_RULES = (
    "`url` must be absolute, `https` (plain `http` only with `WEBHOOK_ALLOW_PRIVATE=true`), "
    f"without `user:password@`, at most {MAX_URL_LENGTH} characters. Its host is resolved now "
    "and refused (422, saying why) when any address it resolves to is link-local or a cloud "
    "metadata address (always), or loopback or private (unless `WEBHOOK_ALLOW_PRIVATE=true`), "
    "or when it does not resolve; the worker checks again at every delivery. `events`: a subset "
    f"of {', '.join(f'`{e}`' for e in EVENT_TYPES)} (empty or absent: all of them; an unknown "
    "type is 422). `description`: at most 500 characters."
)


def _webhook_paths() -> dict[str, Any]:
    webhook_id = path_param("id", "The webhook endpoint id")
    delivery_id = path_param("delivery_id", "The delivery id (from the deliveries list)",
                             {"type": "string", "pattern": DELIVERY_ID_PATTERN})
    endpoint = _ok(200, "The endpoint (never its secret)", ref("WebhookEndpoint"),
                   example=_EXAMPLE_WEBHOOK)
    with_secret = {**_EXAMPLE_WEBHOOK, "secret": _EXAMPLE_SECRET}
    links = _links({"id": "$response.body#/id"}, "getWebhook", "updateWebhook",
                   "deleteWebhook", "rotateWebhookSecret", "testWebhook", "listWebhookDeliveries")
    next_cursor = {"X-Next-Cursor": {
        "schema": {"type": "string"},
        "description": "Cursor of the next page; absent on the last page",
    }}
    paging = [
        query_param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                              "default": DEFAULT_LIMIT}, "Page size"),
        query_param("cursor", {"type": "string"}, "`X-Next-Cursor` of the previous page"),
    ]
    accepted = _ok(202, "Queued on the events stream; a worker delivers it (see the "
                   "deliveries list)", ref("WebhookSendAccepted"))
    return {
        WEBHOOKS: {
            "get": _operation(
                "listWebhooks", "List webhook endpoints", _ok(
                    200, "One page of endpoints, newest first",
                    {"type": "array", "items": ref("WebhookEndpoint")}, headers=next_cursor,
                ), (401, 403, 422, 503), params=paging,
                description=_WEBHOOK_SCOPE + "Secrets are never listed.",
            ),
            "post": _operation(
                "createWebhook", "Register a webhook endpoint",
                _ok(201, "The endpoint and its signing secret, shown this once",
                    ref("WebhookWithSecret"), example=with_secret, links=links,
                    headers=_REPLAYED),
                (401, 403, 408, 409, 413, 415, 422, 503), body="WebhookCreate",
                body_example={"url": _EXAMPLE_WEBHOOK["url"],
                              "events": _EXAMPLE_WEBHOOK["events"], "description": "CRM sync"},
                params=[_IDEMPOTENCY_KEY],
                description=_WEBHOOK_SCOPE + "Deliveries are signed per the Standard Webhooks "
                "specification with `secret` (`whsec_` + Base64 of 24 random bytes), which is "
                "in this answer only: store it now (rotate-secret makes a new one). " + _URL_RULES
                + f" An organization has at most {MAX_ENDPOINTS} endpoints: one more is 409."
                + _IDEMPOTENT,
            ),
        },
        WEBHOOKS + "/{id}": {
            "get": _operation("getWebhook", "Get a webhook endpoint", endpoint, _READ,
                              params=[webhook_id], description=_WEBHOOK_SCOPE.strip()),
            "put": _operation(
                "updateWebhook", "Update a webhook endpoint", endpoint,
                (401, 403, 404, 408, 409, 413, 415, 422, 503), params=[webhook_id],
                body="WebhookUpdate", body_example={"enabled": True},
                description=_WEBHOOK_SCOPE + "Only the fields present replace the stored "
                "values (`null` is invalid); a body with nothing to change writes nothing. "
                "`enabled: true` re-enables an endpoint the worker disabled and clears "
                "`disabled_reason`. A new `url` is checked as on create. " + _URL_RULES,
            ),
            "delete": _operation(
                "deleteWebhook", "Delete a webhook endpoint", {"204": {"description": "Deleted"}},
                (401, 403, 404, 503), params=[webhook_id],
                description=_WEBHOOK_SCOPE + "Removes the endpoint and its deliveries list; "
                "deliveries still pending are dropped by the worker.",
            ),
        },
        WEBHOOKS + "/{id}/rotate-secret": {"post": _operation(
            "rotateWebhookSecret", "Rotate the signing secret",
            _ok(200, "The endpoint and its new signing secret, shown this once",
                ref("WebhookWithSecret"), example=with_secret),
            (401, 403, 404, 409, 503), params=[webhook_id],
            description=_WEBHOOK_SCOPE + "Makes a new secret and returns it once. The previous "
            "one keeps signing alongside it for 24 hours (each delivery carries one signature "
            "per live secret), so receivers can switch without losing deliveries. At most "
            f"{MAX_SECRETS} secrets are live: rotating more often drops the oldest early. "
            "Any body is ignored.",
        )},
        WEBHOOKS + "/{id}/test": {"post": _operation(
            "testWebhook", "Send a test event", accepted, (401, 403, 404, 409, 503),
            params=[webhook_id],
            description=_WEBHOOK_SCOPE + f"Queues a `{TEST_EVENT}` event (a fresh event id; "
            "`data`: `{endpoint_id, organization_id}`) for this endpoint only, whatever its "
            "`events`. 409 when the endpoint is disabled. Any body is ignored.",
        )},
        WEBHOOKS + "/{id}/deliveries": {"get": _operation(
            "listWebhookDeliveries", "List an endpoint's deliveries", _ok(
                200, "One page of deliveries, newest first",
                {"type": "array", "items": ref("WebhookDelivery")}, headers=next_cursor,
                example=[_EXAMPLE_DELIVERY],
            ), (401, 403, 404, 422, 503), params=[webhook_id, *paging],
            description=_WEBHOOK_SCOPE + "Each delivery: the event's id (the `webhook-id` "
            "header) and type, status (`pending`, `succeeded`, `failed`, `dropped`), attempts, "
            "the last attempt's status code, error and latency, and the next attempt's time.",
        )},
        WEBHOOKS + "/{id}/deliveries/{delivery_id}/retry": {"post": _operation(
            "retryWebhookDelivery", "Send a delivery again", accepted,
            (401, 403, 404, 409, 503), params=[webhook_id, delivery_id],
            description=_WEBHOOK_SCOPE + "Queues the delivery's original event again for this "
            "endpoint, with the same event id (receivers that deduplicate by `webhook-id` "
            "see a repeat); the answer names it (`retry_of`: the delivery). It shows in the "
            "deliveries list as a new delivery. 404 for an unknown delivery; 409 when the "
            "endpoint is disabled. Any body is ignored.",
        )},
    }


def _erasure_paths() -> dict[str, Any]:
    delete = _operation(
        "deleteConversation", "Erase a conversation", {"204": {"description": "Erased"}},
        (401, 403, 404, 503), params=[path_param("conversation_id", "The conversation id")],
        description="Scope `conversations:manage`. Erases the conversation for good: its "
        "record (safe columns, `custom_metadata`, feedback, summary, transcript) and every "
        "index entry of it (the widget's public list, the organization's lists), and marks it "
        "erased first, so that no pending webhook delivery of its events is sent after this "
        "answer. Safe to repeat after a failure (503): a repeat finishes what the first call "
        "left; once erased, the conversation is 404 like any unknown id. Events already on the "
        "events stream age out with `EVENTS_RETENTION`. 404 for another organization's "
        "conversation.",
    )
    erase = _operation(
        "eraseConversations", "Erase one visitor's conversations",
        _ok(200, "What this call erased, and whether more remain", ref("ConversationsErased"),
            example={"erased": 100, "remaining": True}),
        (401, 403, 404, 408, 413, 415, 422, 503), body="ConversationErase",
        body_example={"user_id": "guest_3f9c2a7e5b1d4c8e9a573d2f0e8b7c14"},
        description="Scope `conversations:manage`. Erases the conversations of one exact "
        "`user_id` (as the widget sent it), across the organization or, with `web_widget_id`, "
        "of one widget (404 when that widget is not the organization's), each as "
        "`DELETE /core/conversations/{id}` does. The work per call is bounded: at most "
        "`CONVERSATION_ERASE_BATCH` conversations (default 100); repeat the call until "
        "`remaining` is false. Repeating it is harmless (nothing left: `{\"erased\": 0, "
        "\"remaining\": false}`), so it takes no `Idempotency-Key`.",
    )
    return {
        "/core/conversations/{conversation_id}": {"delete": delete},
        "/core/conversations/erase": {"post": erase},
    }


def _merged(*groups: dict[str, Any]) -> dict[str, Any]:
    """Path groups joined per path: two groups may document other methods of one path."""
    paths: dict[str, Any] = {}
    for group in groups:
        for path, item in group.items():
            paths[path] = {**paths.get(path, {}), **item}
    return paths


def _probe_paths() -> dict[str, Any]:
    return {
        "/metrics": {"get": _operation(
            "metrics", "Prometheus metrics of this process", METRICS_OK, (), public=True,
        )},
        "/healthz": {"get": _operation(
            "healthz", "Liveness: the process is up", _ok(200, "Alive", STATUS_OK), (),
            public=True,
        )},
        "/readyz": {"get": _operation(
            "readyz", "Readiness: Redis answers", _ok(200, "Ready", STATUS_OK), (503,),
            public=True,
        )},
        "/openapi.json": {"get": _operation(
            "openapi", "This document", _ok(200, "OpenAPI 3.1 document", {"type": "object"}),
            (), public=True,
        )},
    }


def _sensitive_fields(schemas: dict[str, Any]) -> None:
    """Say which scope each owner's field needs; the transcript is stored JSON passed through
    (msgspec.Raw), described here as what the agent's reports write."""
    owner = schemas["OwnerConversation"]
    owner["description"] = (
        "A conversation as a credential with `conversations:read_sensitive` reads it: the safe "
        "columns plus the sensitive fields (those without the scope get `ConversationSummary`)."
    )
    properties = owner["properties"]
    properties["custom_metadata"]["description"] = (
        "Needs `conversations:read_sensitive`. The pre-conversation form's values as the "
        "visitor's start sent them, and `feedback_form` (`{data, submitted_at}`) once feedback "
        "was submitted"
    )
    properties["summary"]["description"] = (
        "Needs `conversations:read_sensitive`. The agent's latest reported summary, or null"
    )
    properties["transcript"] = {
        "anyOf": [{"type": "array", "items": ref("TranscriptItem")}, {"type": "null"}],
        "description": "Needs `conversations:read_sensitive`. The reported transcript, oldest "
        "line first, or null when none was reported",
    }
    schemas["ConversationSummary"]["description"] = (
        "The safe columns: what any conversations scope reads (`conversations:read`, "
        "`conversations:read_sensitive`, `conversations:manage`)."
    )


def _webhook_schemas(schemas: dict[str, Any]) -> None:
    events = {"type": "array", "maxItems": 32, "items": {"enum": list(EVENT_TYPES)},
              "description": "Event types delivered; empty: every type"}
    url = {"type": "string", "format": "uri", "maxLength": MAX_URL_LENGTH}
    for name in ("WebhookCreate", "WebhookUpdate"):
        properties = schemas[name]["properties"]
        properties["events"] = {**events, **({"default": []} if name == "WebhookCreate" else {})}
        properties["url"] = {**url, "description": properties["url"].get("description", "")}
        for field in ("id", "organization_id", "disabled_reason", "created_at", "updated_at"):
            properties[field] = {"readOnly": True, "description": "Ignored if sent"}
    for name in ("WebhookEndpoint", "WebhookWithSecret"):
        properties = schemas[name]["properties"]
        properties["events"] = {**events, "description": "Event types delivered; empty: all"}
        for field in ("id", "organization_id"):
            properties[field] = {"type": "string", "format": "uuid"}
        for field in ("created_at", "updated_at"):
            properties[field] = {"type": "string", "format": "date-time"}
        properties["disabled_reason"]["description"] = (
            "Why the delivery worker disabled the endpoint (410 Gone, persistent failure); "
            "null otherwise. Cleared when a PUT sets `enabled: true`"
        )


def _components() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components(
        [Widget, WidgetCreate, WidgetUpdate, ConfigV1, Agent, AgentCreate, AgentVersion,
         AgentVersionCreate, AgentVersionUpdate, Brand, AutoBrandRequest, ConversationReport,
         ConversationEnded, ConversationSummary, OwnerConversation, WidgetStats, StatsCounts,
         StatsDay, ListenerToken, WebhookEndpoint, WebhookWithSecret, WebhookCreate,
         WebhookUpdate, WebhookDelivery, WebhookSendAccepted, ConversationErase,
         ConversationsErased],
        ref_template=REF,
    )
    _sensitive_fields(schemas)
    for name in ("Widget", "WidgetCreate", "WidgetUpdate"):
        properties = schemas[name]["properties"]
        config = ref("WidgetConfig")
        if "default" in properties["config"]:
            config["default"] = properties["config"]["default"]
        properties["config"] = config
        for field in ("id", "organization_id", "created_at", "updated_at"):
            if name == "Widget":
                fmt = "uuid" if field.endswith("id") else "date-time"
                properties[field] = {"type": "string", "format": fmt}
            else:
                properties[field] = {"readOnly": True, "description": "Ignored if sent"}
    _webhook_schemas(schemas)
    schemas.update(WidgetConfig=_WIDGET_CONFIG, **error_schemas())
    return {
        "schemas": schemas,
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An organization API key (`ak_...`) or a personal access token "
            f"(`pat_...`, which also needs the `{ORG_HEADER}` header).",
        }},
        "parameters": {"OrgHeader": {
            "name": ORG_HEADER, "in": "header", "required": False,
            "schema": {"type": "string", "format": "uuid"},
            "description": "The organization to act in: required with a `pat_` token; with an "
            "`ak_` key it may only name the key's own organization.",
        }, "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "pattern": KEY_PATTERN.pattern},
            "description": "Makes a retry safe: a unique value per intended creation (a UUID v4 "
            "is a good one), kept per organization for 24 hours. Only 2xx answers are "
            "remembered: a 4xx releases the key; after a 5xx a retry with the same key and body "
            "creates at most one resource.",
        }},
    }


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Web widgets management API",
            "version": "1.0.0",
            "description": "Authenticated endpoints to create and configure web widgets (and "
            "the agents they serve). Errors are `{\"detail\": ...}`. Browser dashboards on the "
            "origins in `MANAGEMENT_CORS_ORIGINS` may call it: their preflights (OPTIONS) are "
            "answered and every answer carries CORS headers, never credentials (off by default).",
        },
        "security": [{"bearerAuth": []}],
        "paths": _merged(
            _widget_paths(), _agent_paths(), _conversation_paths(), _erasure_paths(),
            _webhook_paths(), _probe_paths(),
        ),
        "components": _components(),
    }


DOCUMENT = build_document()
DOCUMENT_JSON = msgspec.json.encode(DOCUMENT)
