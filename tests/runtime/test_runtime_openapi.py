"""The runtime's OpenAPI document: a valid OpenAPI 3.1 document that describes exactly the routes
the app registers."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from common.http import UNROUTED
from tests.support.openapi_checks import assert_errors_are_the_structs, references, served_document

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture
async def document(client: Any) -> dict[str, Any]:
    return await served_document(client)


def registered_routes(app: Any) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        # aiohttp adds a HEAD route beside every GET; the GET operation describes it. The
        # catch-all answers what no route does (404/405, preflights), described per path.
        if route.method == "HEAD" or route.resource.name == UNROUTED:
            continue
        routes.add((route.resource.canonical, route.method.lower()))
    return routes


async def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_paths_and_methods_equal_the_registered_routes(
    client: Any, document: dict[str, Any]
) -> None:
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == registered_routes(client.server.app)


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = references(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas


async def test_models_and_error_shape(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in [
        "Widget", "ConversationStart", "ConversationStarted", "ConversationSummary",
        "FeedbackSubmit", "OkStatus", "ErrorDetail", "Capabilities", "ConnectionDetails",
    ]:  # fmt: skip
        assert name in schemas, name
    assert schemas["Widget"]["required"] == [
        "id", "organization_id", "agent_id", "agent_version_id", "domains", "published",
        "config", "created_at", "updated_at",
    ]  # fmt: skip
    assert "custom_metadata" not in schemas["ConversationSummary"]["properties"]


async def test_error_schemas_are_generated_from_the_error_structs(
    document: dict[str, Any],
) -> None:
    assert_errors_are_the_structs(document)


async def test_operations_declare_the_contracts_statuses(document: dict[str, Any]) -> None:
    prefix = "/core/public/web-widgets/{id}"
    paths = document["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert {"200", "304", "403", "404"} <= statuses(prefix, "get")
    assert {"200", "403", "404", "409", "413", "415", "422", "503"} <= statuses(
        prefix + "/conversations", "post"
    )
    assert {"200", "400", "403", "404", "409", "413", "422"} <= statuses(
        prefix + "/conversations/{conversation_id}/feedback", "post"
    )
    listing = paths[prefix + "/conversations"]["get"]
    assert "X-Next-Cursor" in listing["responses"]["200"]["headers"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == {
        "user_id", "status", "created_after", "created_before", "channel", "limit", "cursor",
    }  # fmt: skip
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ConversationSummary"},
    }
    start = paths[prefix + "/conversations"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConversationStart"
    }


async def test_path_parameters_match_the_templates(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        templated = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == templated, (path, method)


async def test_every_public_operation_documents_the_credentials_refusal(
    document: dict[str, Any],
) -> None:
    # runtime_service.browser_credentials: 400 on every public route (issue 15 item 12).
    for path, operations in document["paths"].items():
        public = path.startswith(("/core/public/", "/public/"))
        for method, operation in operations.items():
            description = operation["responses"].get("400", {}).get("description", "")
            assert ("never belong in browser code" in description) == public, (path, method)
