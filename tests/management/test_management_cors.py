"""CORS on the management API for the dashboards in MANAGEMENT_CORS_ORIGINS: preflights from a
listed origin are answered, other origins get no CORS headers (a refused preflight is a JSON
403), actual answers (errors too) carry the allow/expose headers but never credentials, the
default (none) sends no CORS headers at all, and a bad setting stops the start."""

from __future__ import annotations

from typing import Any

import pytest

from common.domains import origin_list
from common.settings import Settings
from management_service.app import create_app
from tests.support.settings import OrgFactory

DASHBOARD = "https://dashboard.example"
LOCAL = "http://localhost:3000"
OTHER = "https://evil.example"
WIDGET = "/core/web-widgets/0190a7c4-4b7e-7c3e-9f00-000000000001"


def preflight(origin: str, method: str = "PUT", headers: str = "authorization") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def cors_headers(resp: Any) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def assert_edge_headers(resp: Any) -> None:
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Request-ID"]


@pytest.fixture
async def client(aiohttp_client: Any, settings_factory: Any) -> Any:
    # Written loosely on purpose: normalized at start to the exact origins browsers send.
    settings = settings_factory(management_cors_origins=f" https://Dashboard.Example:443/ ,{LOCAL}")
    return await aiohttp_client(create_app(settings))


async def test_preflight_from_a_listed_origin_is_answered(client: Any) -> None:
    resp = await client.options(WIDGET, headers=preflight(DASHBOARD))
    assert resp.status == 204
    assert cors_headers(resp) == {
        "Access-Control-Allow-Origin": DASHBOARD,
        "Access-Control-Allow-Methods": "DELETE, GET, PUT",
        "Access-Control-Allow-Headers": (
            "Authorization, Content-Type, Idempotency-Key, X-Anyreach-Org, X-Request-ID"
        ),
        "Access-Control-Max-Age": "600",
        "Access-Control-Expose-Headers": "X-Next-Cursor, X-Request-ID, Retry-After",
    }
    assert resp.headers["Vary"] == "Origin"
    assert_edge_headers(resp)
    other = await client.options("/core/web-widgets", headers=preflight(LOCAL, "POST"))
    assert other.status == 204
    assert other.headers["Access-Control-Allow-Origin"] == LOCAL
    assert other.headers["Access-Control-Allow-Methods"] == "GET, POST"


async def test_preflight_to_an_unknown_path_is_a_json_404_the_page_can_read(client: Any) -> None:
    resp = await client.options("/core/nothing-here", headers=preflight(DASHBOARD))
    assert resp.status == 404
    assert await resp.json() == {"detail": "Not found"}
    assert resp.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert_edge_headers(resp)


@pytest.mark.parametrize("origin", [OTHER, "https://dashboard.example:8443", "null"])
async def test_preflight_from_another_origin_is_a_json_403_without_cors_headers(
    client: Any, origin: str
) -> None:
    resp = await client.options(WIDGET, headers=preflight(origin))
    assert resp.status == 403
    assert await resp.json() == {"detail": "Origin not allowed"}
    assert cors_headers(resp) == {}
    assert resp.headers["Vary"] == "Origin"
    assert_edge_headers(resp)


async def test_actual_requests_from_a_listed_origin_carry_cors_headers(
    client: Any, org_with_key: OrgFactory
) -> None:
    _, auth = await org_with_key()
    for resp in (
        await client.get("/core/web-widgets", headers={**auth, "Origin": DASHBOARD}),
        # Errors too: without the headers the page sees only an opaque network failure.
        await client.get("/core/web-widgets", headers={"Origin": DASHBOARD}),
        await client.delete("/core/web-widgets", headers={**auth, "Origin": DASHBOARD}),
    ):
        assert resp.status in (200, 401, 405)
        assert cors_headers(resp) == {
            "Access-Control-Allow-Origin": DASHBOARD,
            "Access-Control-Expose-Headers": "X-Next-Cursor, X-Request-ID, Retry-After",
        }
        assert resp.headers["Vary"] == "Origin"
        assert resp.headers["Content-Type"] == "application/json"
        assert_edge_headers(resp)


async def test_actual_requests_from_another_origin_get_no_cors_headers(
    client: Any, org_with_key: OrgFactory
) -> None:
    _, auth = await org_with_key()
    resp = await client.get("/core/web-widgets", headers={**auth, "Origin": OTHER})
    assert resp.status == 200  # answered as without CORS; the browser keeps it from the page
    assert cors_headers(resp) == {}
    assert resp.headers["Vary"] == "Origin"


async def test_requests_without_origin_are_untouched(client: Any) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert cors_headers(resp) == {}
    assert "Vary" not in resp.headers
    resp = await client.options(WIDGET)
    assert resp.status == 405


async def test_default_is_no_cors_at_all(
    management_client: Any, management_settings: Settings, org_with_key: OrgFactory
) -> None:
    assert management_settings.management_cors_origins == ""
    _, auth = await org_with_key()
    resp = await management_client.get("/core/web-widgets", headers={**auth, "Origin": DASHBOARD})
    assert resp.status == 200
    assert cors_headers(resp) == {}
    assert "Vary" not in resp.headers
    resp = await management_client.options(WIDGET, headers=preflight(DASHBOARD))
    assert resp.status == 405  # no OPTIONS route, as without the setting
    assert cors_headers(resp) == {}
    assert (await resp.json())["detail"] == "Method Not Allowed"


async def test_the_runtime_ignores_the_setting(aiohttp_client: Any, settings_factory: Any) -> None:
    from runtime_service.app import create_app as create_runtime

    settings = settings_factory("runtime", management_cors_origins=DASHBOARD)
    client = await aiohttp_client(create_runtime(settings))
    resp = await client.get("/healthz", headers={"Origin": DASHBOARD})
    assert resp.status == 200
    assert cors_headers(resp) == {}


@pytest.mark.parametrize(
    "value",
    [
        "dashboard.example",  # no scheme: an origin must be written in full
        "https://dashboard.example/app",  # a path
        "https://dashboard.example?x=1",
        "*",
        "https://*.example",
        "null",
        "ftp://dashboard.example",
        "https://user@dashboard.example",
        "https://dashboard.example:99999",
        f"{DASHBOARD},not an origin",
    ],
)
def test_an_invalid_setting_stops_the_start(value: str) -> None:
    with pytest.raises(SystemExit, match="MANAGEMENT_CORS_ORIGINS"):
        Settings.from_env("management", {"MANAGEMENT_CORS_ORIGINS": value})


def test_the_setting_is_normalized_to_the_origins_browsers_send() -> None:
    value = f" https://Dashboard.Example:443/ , {LOCAL}/ ,{DASHBOARD},"
    Settings.from_env("management", {"MANAGEMENT_CORS_ORIGINS": value})  # accepted
    assert origin_list(value) == (DASHBOARD, LOCAL)
    assert origin_list("") == ()
