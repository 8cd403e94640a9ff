"""The runtime's OpenAPI 3.1 document, built once from the shared msgspec models."""

from __future__ import annotations

import copy
import functools
from typing import Any, get_args

import msgspec

from common.http import READ_JSON_ERRORS
from common.models.conversation import (
    ConversationStart,
    ConversationStarted,
    ConversationSummary,
    FeedbackSubmit,
    OkStatus,
    Status,
)
from common.models.widget import Widget
from common.pagination import DEFAULT_LIMIT, MAX_LIMIT
from runtime_service.embed.openapi import EMBED_PATHS
from runtime_service.paths import PUBLIC_PREFIX as PREFIX

# routes.py registers the same paths (it imports the handlers, hence no import from it here);
# tests/test_runtime_openapi.py checks that both agree.
_REF = "#/components/schemas/{name}"

_ERROR_DETAIL = {
    "title": "ErrorDetail",
    "type": "object",
    "properties": {
        "detail": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                        "required": ["loc", "msg", "type"],
                    },
                },
            ]
        }
    },
    "required": ["detail"],
}

_ERRORS = {
    **READ_JSON_ERRORS,
    "304": "Not modified: the `If-None-Match` ETag matches",
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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: dict[str, Any], codes: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"200": ok}
    for code in codes:
        key = str(code)
        if code == 304:
            out[key] = {"description": _ERRORS[key]}
            continue
        out[key] = {"description": _ERRORS[key], "content": _json(_ref("ErrorDetail"))}
        if code in (429, 503):
            out[key]["headers"] = _RETRY_AFTER
    return out


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "format": "uuid"},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_WIDGET_ID = _path_param("id", "The widget id")
_DATE = {"type": "string", "format": "date-time"}


def _paths() -> dict[str, Any]:
    widget_get = {
        "operationId": "getPublicWidget",
        "summary": "Get a published widget",
        "description": "Returns the same widget object as the management API, for published "
        "widgets only. Strong `ETag`; `If-None-Match` answers 304.",
        "parameters": [
            _WIDGET_ID,
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
        "responses": _responses(
            {
                "description": "The widget",
                "headers": {
                    "ETag": {"schema": {"type": "string"}},
                    "Cache-Control": {"schema": {"type": "string"}},
                },
                "content": _json(_ref("Widget")),
            },
            (304, 403, 404, 503),
        ),
    }
    start = {
        "operationId": "startConversation",
        "summary": "Start or resume a conversation",
        "description": "Starts a new WEBRTC conversation, or resumes one when `conversation_id` "
        "is set, in a fresh LiveKit room (the token joins only that room and dispatches the "
        "agent version's LiveKit agent). `custom_metadata`: at most 8 KiB as JSON, nested at "
        "most 5 deep, key `feedback_form` reserved; ignored on resume. 403: the resumed "
        "conversation belongs to another widget or another `user_id`. 409: the widget or its "
        "agent version is not published, or the resumed conversation has ended.",
        "parameters": [_WIDGET_ID],
        "requestBody": {"required": True, "content": _json(_ref("ConversationStart"))},
        "responses": _responses(
            {
                "description": "Conversation and connection details",
                "headers": _NO_STORE,
                "content": _json(_ref("ConversationStarted")),
                # For clients and fuzzers: the started conversation can be given feedback.
                "links": {"SubmitFeedback": {"operationId": "submitFeedback", "parameters": {
                    "id": "$request.path.id",
                    "conversation_id": "$response.body#/conversation/id",
                }}},
            },
            (403, 404, 408, 409, 413, 415, 422, 429, 503),
        ),
    }
    listing = {
        "operationId": "listConversations",
        "summary": "List the widget's conversations",
        "description": "Newest first, safe columns only. The next page's cursor is in the "
        "`X-Next-Cursor` header (absent on the last page). The widget's "
        "`config.v1.conversation_list` decides who may list: `visitor` (the default) requires "
        "`user_id` (422 without it) and lists only that visitor's conversations; `widget` "
        "lists every visitor's, every parameter optional. 404 for an unknown or unpublished "
        "widget, as its GET.",
        "parameters": [
            _WIDGET_ID,
            _query(
                "user_id", {"type": "string"},
                "Exact visitor id; required unless the widget's `conversation_list` is `widget`",
            ),
            _query("status", {"enum": sorted(get_args(Status))}, "Conversation status"),
            _query("created_after", _DATE, "Created at or after this instant"),
            _query("created_before", _DATE, "Created at or before this instant"),
            _query(
                "channel",
                {"enum": ["email", "telephone", "text", "webrtc"], "default": "webrtc"},
                "Widgets start only webrtc conversations; another channel lists nothing",
            ),
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "Page size",
            ),
            _query("cursor", {"type": "string"}, "`X-Next-Cursor` of the previous page"),
        ],
        "responses": _responses(
            {
                "description": "One page of conversations",
                "headers": {
                    **_NO_STORE,
                    "X-Next-Cursor": {
                        "schema": {"type": "string"},
                        "description": "Cursor of the next page",
                    },
                },
                "content": _json({"type": "array", "items": _ref("ConversationSummary")}),
            },
            (403, 404, 422, 429, 503),
        ),
    }
    feedback = {
        "operationId": "submitFeedback",
        "summary": "Submit post-conversation feedback",
        "description": "Only the widget's feedback form field ids are kept; at most 16 384 bytes "
        "of `data` as JSON; one submission per conversation (409 for a second one). Each kept "
        "value must fit its field (422 with `loc` `[\"body\", \"data\", <field id>]`, and the "
        "submission is not used up): a required field present and filled in; `rating` a whole "
        "number from 1 to 5; `number` a number; `email` an e-mail address (at most 254 "
        "characters); `select` one of its options; `checkbox` true or false; `text` one line "
        "of at most 500 characters, `textarea` at most 5000, `phone` at most 32 (digits, "
        "spaces, `+ - . / ( )`); no control characters. The widget need not be published: a "
        "call that ends as the owner unpublishes can still be rated (404 once it is deleted).",
        "parameters": [_WIDGET_ID, _path_param("conversation_id", "The conversation id")],
        "requestBody": {"required": True, "content": _json(_ref("FeedbackSubmit"))},
        "responses": _responses(
            {"description": "Stored", "headers": _NO_STORE, "content": _json(_ref("OkStatus"))},
            (400, 403, 404, 408, 409, 413, 415, 422, 429, 503),
        ),
    }
    status_ok = {
        "type": "object",
        "properties": {"status": {"const": "ok"}},
        "required": ["status"],
    }
    return {
        PREFIX + "/{id}": {"get": widget_get},
        PREFIX + "/{id}/conversations": {"post": start, "get": listing},
        PREFIX + "/{id}/conversations/{conversation_id}/feedback": {"post": feedback},
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process is up",
                "responses": {"200": {"description": "Alive", "content": _json(status_ok)}},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: Redis answers and cache invalidation is subscribed",
                "responses": _responses(
                    {"description": "Ready", "content": _json(status_ok)}, (503,)
                ),
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics of this process",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document",
                        "content": _json({"type": "object"}),
                    }
                },
            }
        },
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
        for operation in operations.values():
            responses = operation["responses"]
            if "400" in responses:
                described = responses["400"]["description"]
                responses["400"] = {
                    **responses["400"], "description": f"{described}; or: {_CREDENTIALS_SENT}"
                }
            else:
                responses["400"] = {
                    "description": _CREDENTIALS_SENT, "content": _json(_ref("ErrorDetail"))
                }
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
        ref_template=_REF,
    )
    components["ErrorDetail"] = _ERROR_DETAIL
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
