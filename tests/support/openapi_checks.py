"""Checks both services' OpenAPI document tests share."""

from __future__ import annotations

from typing import Any

import msgspec

from common.errors import ErrorDetail, ValidationErrorDetail

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


async def served_document(client: Any) -> dict[str, Any]:
    """The document the service serves at ``/openapi.json``, as JSON."""
    resp = await client.get("/openapi.json")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    document: dict[str, Any] = await resp.json()
    return document


def assert_errors_are_the_structs(document: dict[str, Any]) -> None:
    """The error schemas equal msgspec's schemas of the Structs, and every documented error
    points at the right one: a 422 lists issues, every other status has a string detail."""
    _, generated = msgspec.json.schema_components(
        [ErrorDetail, ValidationErrorDetail], ref_template="#/components/schemas/{name}"
    )
    assert set(generated) == {"ErrorDetail", "ValidationErrorDetail", "ValidationIssue"}
    schemas = document["components"]["schemas"]
    assert {name: schemas.get(name) for name in generated} == generated
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                name = "ValidationErrorDetail" if status == "422" else "ErrorDetail"
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{name}"}, (path, method, status)
                checked += 1
    assert checked > 10


def decode_exactly(body: bytes, struct: type[Any]) -> Any:
    """``body`` as ``struct``, failing on a missing, mistyped or extra field."""
    decoded = msgspec.json.decode(body, type=struct)
    assert msgspec.to_builtins(decoded) == msgspec.json.decode(body)
    return decoded


def references(node: Any) -> list[str]:
    """Every ``$ref`` in ``node``, depth first."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []
