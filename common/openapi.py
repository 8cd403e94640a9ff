"""What both services' OpenAPI 3.1 documents are built with: references, parameters, operations,
and the error responses, whose schemas are generated from the Structs the HTTP edge encodes errors
as (common.errors), so the documents cannot drift from what is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from common.errors import ErrorDetail, ValidationErrorDetail

REF = "#/components/schemas/{name}"
UUID = {"type": "string", "format": "uuid"}
STATUS_OK = {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
NOT_MODIFIED = {"description": "Not modified: the `If-None-Match` ETag matches"}
IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
}
METRICS_OK = {"200": {
    "description": "Prometheus text exposition format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}}

# What read_json's own refusals mean, as both services' documents describe them.
READ_JSON_ERRORS = {
    "408": "The request body did not arrive in full within `REQUEST_BODY_TIMEOUT` seconds; "
    "the connection is closed",
    "415": "Content-Type is not application/json, or a Content-Encoding other than gzip, "
    "deflate, br or zstd (or a body it cannot decode)",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def json_content(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def path_param(name: str, description: str, schema: dict[str, Any] = UUID) -> dict[str, Any]:
    return {
        "name": name, "in": "path", "required": True, "description": description,
        "schema": schema,
    }


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name, "in": "query", "required": False, "schema": schema,
        "description": description,
    }


def error_schemas() -> dict[str, Any]:
    """The error bodies' component schemas (``ErrorDetail``, ``ValidationErrorDetail`` and the
    ``ValidationIssue`` it lists), from the Structs themselves."""
    _, schemas = msgspec.json.schema_components(
        [ErrorDetail, ValidationErrorDetail], ref_template=REF
    )
    return schemas


def error_response(
    status: int, description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A documented error status: a 422 lists issues, any other status has a string detail."""
    body = ValidationErrorDetail if status == 422 else ErrorDetail
    response: dict[str, Any] = {
        "description": description, "content": json_content(ref(body.__name__)),
    }
    if headers:
        response["headers"] = headers
    return response


def responses(
    ok: dict[str, Any],
    codes: Iterable[int],
    descriptions: Mapping[str, str],
    headers: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``ok`` (keyed by status) followed by ``codes``: 304 as not modified, the others as errors
    described by ``descriptions`` and carrying ``headers`` per status."""
    out = dict(ok)
    for code in codes:
        key = str(code)
        if code == 304:
            out[key] = NOT_MODIFIED
        else:
            out[key] = error_response(code, descriptions[key], (headers or {}).get(code))
    return out


def operation(
    op_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    tags: list[str] | None = None,
    description: str = "",
    security: list[Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
    body_example: Any = None,
) -> dict[str, Any]:
    """An operation object; ``body`` names the component schema of a required JSON body."""
    out: dict[str, Any] = {"operationId": op_id}
    if tags:
        out["tags"] = tags
    out["summary"] = summary
    if description:
        out["description"] = description
    if security is not None:
        out["security"] = security
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = {"required": True, "content": json_content(ref(body), body_example)}
    out["responses"] = responses
    return out
