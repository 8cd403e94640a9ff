"""The runtime's OpenAPI 3.1 document, built once from the shared msgspec models."""

from __future__ import annotations

import copy
import functools
from typing import Any, get_args

import msgspec

from common.models.conversation import (
    ConversationStart,
    ConversationStarted,
    ConversationSummary,
    FeedbackSubmit,
    OkStatus,
    Status,
)
from common.models.widget import Widget
from common.openapi import (
    IF_NONE_MATCH,
    METRICS_OK,
    READ_JSON_ERRORS,
    REF,
    STATUS_OK,
    error_response,
    error_schemas,
    json_content,
    operation,
    path_param,
    query_param,
    ref,
    responses,
)
from common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from runtime_service.embed.openapi import EMBED_PATHS
from runtime_service.paths import PUBLIC_PREFIX as PREFIX

# routes.py registers the same paths (it imports the handlers, hence no import from it here);
# tests/runtime/test_runtime_openapi.py checks that both agree.

_ERRORS = {
    **READ_JSON_ERRORS,
    "400": "The widget collects no feedback, or no submitted field is one of its form fields",
    "403": "The request's `Origin` is not one of the widget's allowed domains, or the "
    "conversation belongs to another widget or visitor",
    "404": "Unknown widget (the widget GET and the list: or not published), or unknown "
    "conversation",
    "409": "State conflict (see the operation's description)",
    "413": "Request body (64 KiB after decompression) or feedback data too large",
    "422": "Invalid path, query or body; `detail` lists each problem",
    "429": "Rate limited; retry after `Retry-After` seconds",
    "503": "A dependency (Redis) is unavailable; retry after `Retry-After` seconds",
}
_NO_STORE = {"Cache-Control": {"schema": {"const": "no-store"}}}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}}
_ERROR_HEADERS = {429: _RETRY_AFTER, 503: _RETRY_AFTER}


def _responses(ok: dict[str, Any], codes: tuple[int, ...]) -> dict[str, Any]:
    return responses({"200": ok}, codes, _ERRORS, _ERROR_HEADERS)


def _ok(
    description: str, headers: dict[str, Any], schema: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {"description": description, "headers": headers, "content": json_content(schema),
            **extra}


_WIDGET_ID = path_param("id", "The widget id")
_DATE = {"type": "string", "format": "date-time"}
_CACHED = {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}}


def _livekit_webhook() -> dict[str, Any]:
    hook = operation(
        "livekitWebhook", "LiveKit's room and participant events (from the LiveKit server)",
        {
            "200": {"description": "Received (also events not used and rooms that are not "
                    "conversations)", "content": json_content(STATUS_OK)},
            "400": error_response(400, "A signed body that is not a LiveKit webhook event"),
            "401": error_response(401, "Missing or invalid signature, body hash mismatch or "
                                  "expired token: nothing was written"),
            "413": error_response(413, "Body larger than 64 KiB"),
            "503": error_response(503, "Redis is unavailable; LiveKit retries"),
        },
        tags=["LiveKit"],
        description="Not a browser route (no CORS, no per-address rate limit). `Authorization` "
        "is the JWT LiveKit signs with the API key and secret of the room tokens (with or "
        "without `Bearer `); its `sha256` claim is the body's hash. The room's name "
        "(`ww-<conversation id>-<8 hex>`) names the conversation (docs/lifecycle.md).",
    )
    hook["requestBody"] = {"required": True, "content": {
        "application/webhook+json": {"schema": {"type": "object"}},
        "application/json": {"schema": {"type": "object"}},
    }}
    return hook


def _paths() -> dict[str, Any]:
    widget_get = operation(
        "getPublicWidget", "Get a published widget",
        _responses(_ok("The widget", _CACHED, ref("Widget")), (304, 403, 404, 503)),
        description="Returns the same widget object as the management API, for published "
        "widgets only. Strong `ETag`; `If-None-Match` answers 304.",
        parameters=[_WIDGET_ID, IF_NONE_MATCH],
    )
    start = operation(
        "startConversation", "Start or resume a conversation",
        _responses(
            _ok(
                "Conversation and connection details", _NO_STORE, ref("ConversationStarted"),
                # For clients and fuzzers: the started conversation can be given feedback.
                links={"SubmitFeedback": {"operationId": "submitFeedback", "parameters": {
                    "id": "$request.path.id",
                    "conversation_id": "$response.body#/conversation/id",
                }}},
            ),
            (403, 404, 408, 409, 413, 415, 422, 429, 503),
        ),
        description="Starts a new WEBRTC conversation, or resumes one when `conversation_id` "
        "is set, in a fresh LiveKit room (the token joins only that room and dispatches the "
        "agent version's LiveKit agent). `custom_metadata`: at most 8 KiB as JSON, nested at "
        "most 5 deep, key `feedback_form` reserved; ignored on resume. When the widget has a "
        "pre-conversation form its fields are checked against it (422 at "
        "`custom_metadata.<field id>`); `custom_metadata.context` (the host page's context) "
        "must be an object of at most 4 KiB, 3 deep. `locale` reaches the agent in the "
        "dispatch metadata. 403: the resumed "
        "conversation belongs to another widget or another `user_id`. 409: the widget or its "
        "agent version is not published, or the resumed conversation has ended.",
        parameters=[_WIDGET_ID],
        body="ConversationStart",
    )
    listing = operation(
        "listConversations", "List the widget's conversations",
        _responses(
            _ok(
                "One page of conversations",
                {**_NO_STORE, "X-Next-Cursor": {
                    "schema": {"type": "string"}, "description": "Cursor of the next page",
                }},
                {"type": "array", "items": ref("ConversationSummary")},
            ),
            (403, 404, 422, 429, 503),
        ),
        description="Newest first, safe columns only. The next page's cursor is in the "
        "`X-Next-Cursor` header (absent on the last page). The widget's "
        "`config.v1.conversation_list` decides who may list: `visitor` (the default) requires "
        "`user_id` (422 without it) and lists only that visitor's conversations; `widget` "
        "lists every visitor's, every parameter optional. 404 for an unknown or unpublished "
        "widget, as its GET.",
        parameters=[
            _WIDGET_ID,
            query_param(
                "user_id", {"type": "string"},
                "Exact visitor id; required unless the widget's `conversation_list` is `widget`",
            ),
            query_param("status", {"enum": sorted(get_args(Status))}, "Conversation status"),
            query_param("created_after", _DATE, "Created at or after this instant"),
            query_param("created_before", _DATE, "Created at or before this instant"),
            query_param(
                "channel",
                {"enum": ["email", "telephone", "text", "webrtc"], "default": "webrtc"},
                "Widgets start only webrtc conversations; another channel lists nothing",
            ),
            query_param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "Page size",
            ),
            query_param("cursor", {"type": "string"}, "`X-Next-Cursor` of the previous page"),
        ],
    )
    feedback = operation(
        "submitFeedback", "Submit post-conversation feedback",
        _responses(
            _ok("Stored", _NO_STORE, ref("OkStatus")),
            (400, 403, 404, 408, 409, 413, 415, 422, 429, 503),
        ),
        description="Only the widget's feedback form field ids are kept; at most 16 384 bytes "
        "of `data` as JSON; one submission per conversation (409 for a second one). Each kept "
        "value must fit its field (422 with `loc` `[\"body\", \"data\", <field id>]`, and the "
        "submission is not used up): a required field present and filled in; `rating` a whole "
        "number from 1 to 5; `number` a number; `email` an e-mail address (at most 254 "
        "characters); `select` one of its options; `checkbox` true or false; `text` one line "
        "of at most 500 characters, `textarea` at most 5000, `phone` at most 32 (digits, "
        "spaces, `+ - . / ( )`); no control characters. The widget need not be published: a "
        "call that ends as the owner unpublishes can still be rated (404 once it is deleted).",
        parameters=[_WIDGET_ID, path_param("conversation_id", "The conversation id")],
        body="FeedbackSubmit",
    )
    return {
        PREFIX + "/{id}": {"get": widget_get},
        PREFIX + "/{id}/conversations": {"post": start, "get": listing},
        PREFIX + "/{id}/conversations/{conversation_id}/feedback": {"post": feedback},
        "/livekit/webhook": {"post": _livekit_webhook()},
        "/healthz": {"get": operation(
            "healthz", "Liveness: the process is up",
            {"200": {"description": "Alive", "content": json_content(STATUS_OK)}},
        )},
        "/readyz": {"get": operation(
            "readyz", "Readiness: Redis answers and cache invalidation is subscribed",
            _responses({"description": "Ready", "content": json_content(STATUS_OK)}, (503,)),
        )},
        "/metrics": {"get": operation(
            "metrics", "Prometheus metrics of this process", METRICS_OK,
        )},
        "/openapi.json": {"get": operation(
            "openapi", "This document",
            {"200": {"description": "OpenAPI 3.1 document", "content": json_content(
                {"type": "object"}
            )}},
        )},
    }


_CREDENTIALS_SENT = (
    "A management credential was sent: an `ak_`/`pat_` credential in `Authorization` (with or "
    "without `Bearer`) or an `X-Anyreach-Org` header (also a preflight announcing those headers). "
    "Credentials never belong in browser code: remove it and rotate it (a WARNING in the logs "
    "names its id)"
)


def _with_credentials_refusal(paths: dict[str, Any]) -> dict[str, Any]:
    """Every public operation's 400 (runtime_service.browser_credentials)."""
    paths = copy.deepcopy(paths)  # EMBED_PATHS is shared
    for path, operations in paths.items():
        if not path.startswith((PREFIX, "/public/")):
            continue
        for item in operations.values():
            answers = item["responses"]
            if "400" in answers:
                described = answers["400"]["description"]
                answers["400"] = {
                    **answers["400"], "description": f"{described}; or: {_CREDENTIALS_SENT}"
                }
            else:
                answers["400"] = error_response(400, _CREDENTIALS_SENT)
    return paths


@functools.cache
def openapi_document() -> bytes:
    _, components = msgspec.json.schema_components(
        [
            Widget,
            ConversationStart,
            ConversationStarted,
            ConversationSummary,
            FeedbackSubmit,
            OkStatus,
        ],
        ref_template=REF,
    )
    components.update(error_schemas())
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Web widgets runtime API",
            "version": "1.0.0",
            "description": "Public, unauthenticated endpoints the embedded widget calls from the "
            "browser. A widget with a non-empty `domains` list refuses other origins (403).",
        },
        "paths": _with_credentials_refusal({**_paths(), **EMBED_PATHS}),
        "components": {"schemas": components},
    }
    return msgspec.json.encode(document)
