"""The management OpenAPI document: valid OpenAPI 3.1, served without credentials, describing
exactly the routes the app registers, with every reference resolving, the contract's statuses on
each widget operation, and examples that match their schemas."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from common.errors import ErrorDetail, ValidationErrorDetail
from common.http import UNROUTED
from management_service.openapi import DOCUMENT
from tests.support.openapi_checks import (
    assert_errors_are_the_structs,
    decode_exactly,
    references,
    served_document,
)

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
WIDGETS = "/core/web-widgets"


@pytest.fixture
async def document(management_client: Any) -> dict[str, Any]:
    return await served_document(management_client)


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


async def test_served_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document == DOCUMENT
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_paths_and_methods_equal_the_registered_routes(
    management_client: Any, document: dict[str, Any]
) -> None:
    registered = {
        (route.resource.canonical, route.method.lower())
        for route in management_client.server.app.router.routes()
        # aiohttp adds a HEAD beside every GET; the GET operation describes it. The catch-all
        # answers JSON 404/405 for everything else.
        if route.method != "HEAD" and route.resource.name != UNROUTED
    }
    assert set(operations(document)) == registered


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = references(document)
    assert len(refs) > 20
    for ref in refs:
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][section], ref


async def test_widget_operations_declare_their_statuses(document: dict[str, Any]) -> None:
    ops = operations(document)

    def statuses(path: str, method: str) -> set[str]:
        return set(ops[(path, method)]["responses"])

    item = WIDGETS + "/{id}"
    assert statuses(WIDGETS, "get") == {"200", "401", "403", "422", "503"}
    assert {"201", "401", "403", "413", "415", "422", "503"} <= statuses(WIDGETS, "post")
    assert statuses(item, "get") == {"200", "401", "403", "404", "503"}
    assert {"200", "401", "403", "404", "409", "413", "415", "422"} <= statuses(item, "put")
    assert {"204", "401", "403", "404"} <= statuses(item, "delete")
    assert "content" not in ops[(item, "delete")]["responses"]["204"]
    assert {"200", "404", "422"} <= statuses(item + "/auto-brand", "post")

    listing = ops[(WIDGETS, "get")]
    ok = listing["responses"]["200"]
    assert "X-Next-Cursor" in ok["headers"]
    assert ok["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Widget"},
    }  # fmt: skip
    names = {param.get("name") for param in listing["parameters"]}
    assert {"limit", "cursor", "agent_id", "agent_version_id", "published"} <= names
    brand = ops[(item + "/auto-brand", "post")]
    assert brand["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Brand"
    }
    body = document["components"]["schemas"]["AutoBrandRequest"]
    assert body["required"] == ["domain"]


async def test_security(document: dict[str, Any], management_client: Any) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    org_header = {"$ref": "#/components/parameters/OrgHeader"}
    assert document["components"]["parameters"]["OrgHeader"]["name"] == "X-Anyreach-Org"
    for (path, _), operation in operations(document).items():
        public = path in ("/healthz", "/readyz", "/metrics", "/openapi.json")
        assert (operation.get("security") == []) is public, path
        assert (org_header in operation.get("parameters", [])) is not public, path
        if not public:
            assert {"401", "403"} <= set(operation["responses"]), path


async def test_schemas_follow_the_models(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Widget"]["required"] == [
        "id", "organization_id", "agent_id", "agent_version_id", "domains", "published",
        "config", "created_at", "updated_at",
    ]  # fmt: skip
    assert schemas["WidgetCreate"]["required"] == ["agent_id", "agent_version_id"]
    assert schemas["WidgetUpdate"]["required"] == []
    for name in ("WidgetCreate", "WidgetUpdate"):
        assert schemas[name]["additionalProperties"] is False
        assert schemas[name]["properties"]["id"]["readOnly"] is True
    theme = schemas["ConfigV1"]["properties"]["theme"]
    assert set(theme["enum"]) == {"system", "light", "dark"}


async def test_error_schemas_are_generated_from_the_error_structs(
    document: dict[str, Any],
) -> None:
    assert_errors_are_the_structs(document)


async def test_error_answers_are_exactly_the_error_structs(
    management_client: Any, org_with_key: Any
) -> None:
    unauthenticated = await management_client.get(WIDGETS)
    assert unauthenticated.status == 401
    decode_exactly(await unauthenticated.read(), ErrorDetail)
    _, headers = await org_with_key()
    invalid = await management_client.get(WIDGETS, params={"limit": "0"}, headers=headers)
    assert invalid.status == 422
    issues = decode_exactly(await invalid.read(), ValidationErrorDetail).detail
    assert issues[0].loc == ["query", "limit"]


async def test_examples_match_their_schemas(document: dict[str, Any]) -> None:
    def check(media: dict[str, Any]) -> int:
        if "example" not in media:
            return 0
        # The components ride along in the root schema so "#/components/..." resolves.
        schema = {**media["schema"], "components": document["components"]}
        OAS31Validator(schema).validate(media["example"])
        return 1

    checked = 0
    for operation in operations(document).values():
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        checked += check(body) if body else 0
        for response in operation["responses"].values():
            media = response.get("content", {}).get("application/json")
            checked += check(media) if media else 0
    assert checked >= 4
