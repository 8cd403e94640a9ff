"""Auto-brand end to end: the management API reads a real site served on loopback (allowed only
through AUTO_BRAND_ALLOW_PRIVATE, off by default), caches outcomes in a real redis-server, and
returns a brand whose `config_v1` a widget accepts in one PUT."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from aiohttp import web

from common.settings import Settings
from management_service.app import create_app
from tests.support.widget_helpers import create_widget, expect, make_version

PAGE = """<!doctype html><html><head>
<title>Acme Shoes - Home</title>
<meta property="og:site_name" content="Acme Shoes">
<meta name="theme-color" content="#1A73E8">
<meta name="theme-color" media="(prefers-color-scheme: dark)" content="rgb(10, 20, 30)">
<link rel="manifest" href="/site.webmanifest">
<link rel="apple-touch-icon" sizes="180x180" href="/apple.png">
<link rel="mask-icon" href="/mask.svg" color="#ff0000">
<meta property="og:image" content="https://cdn.example/og.jpg">
</head><body>hi</body></html>"""
MANIFEST = {
    "name": "Acme Shoes",
    "theme_color": "#1a73e8",
    "background_color": "white",
    "icons": [{"src": "/icon-512.png", "sizes": "512x512", "type": "image/png"}],
}


class Site:
    """A small website with request counting."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = web.Application()
        self.app.router.add_get("/{tail:.*}", self.handle)
        self.pages: dict[str, Any] = {"/": PAGE, "/site.webmanifest": MANIFEST}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        page = self.pages.get(request.path)
        if callable(page):
            return await page(request)
        if isinstance(page, dict):
            return web.json_response(page, content_type="application/manifest+json")
        if isinstance(page, str):
            return web.Response(text=page, content_type="text/html")
        raise web.HTTPNotFound()


@pytest.fixture
async def site(aiohttp_server: Any) -> Any:
    site = Site()
    site.server = await aiohttp_server(site.app, host="127.0.0.1")
    site.domain = f"127.0.0.1:{site.server.port}"
    return site


@pytest.fixture
async def make_client(aiohttp_client: Any, settings_factory: Any, site: Any) -> Any:
    async def factory(**overrides: Any) -> Any:
        values = {
            "auto_brand_allow_private": "true",
            "auto_brand_ports": f"80,443,{site.server.port}",
            "auto_brand_timeout": "3",
            **overrides,
        }
        settings: Settings = settings_factory("management", **values)
        return await aiohttp_client(create_app(settings))

    return factory


@pytest.fixture
async def client(make_client: Any) -> Any:
    return await make_client()


@pytest.fixture
async def widget(client: Any, org_with_key: Any) -> tuple[str, dict[str, str]]:
    _, headers = await org_with_key()
    pair = await make_version(client, headers, published=True)
    widget = await create_widget(client, headers, pair)
    return widget["id"], headers


async def auto_brand(client: Any, widget: Any, domain: str) -> Any:
    widget_id, headers = widget
    return await client.post(
        f"/core/web-widgets/{widget_id}/auto-brand", json={"domain": domain}, headers=headers
    )


async def test_brand_from_page_and_manifest(client: Any, widget: Any, site: Any) -> None:
    brand = await expect(await auto_brand(client, widget, f"http://{site.domain}/"), 200)
    assert brand["domain"] == site.domain
    assert brand["name"] == "Acme Shoes"
    colors = brand["colors"]
    assert colors["primary"]["color"] == "#1a73e8"
    assert colors["dark"]["color"] == "#0a141e"
    assert colors["background"]["color"] == "#ffffff"
    for entry in filter(None, colors.values()):
        assert entry["text"] in ("#ffffff", "#000000")
    urls = {logo["url"] for logo in brand["logos"]}
    assert f"http://{site.domain}/icon-512.png" in urls
    assert f"http://{site.domain}/apple.png" in urls
    assert "https://cdn.example/og.jpg" in urls
    assert brand["config_v1"]["trigger"]["background_color"] == "#1a73e8"
    assert {"manifest", "theme-color"} <= set(brand["sources"])


async def test_config_v1_fragment_is_accepted_by_a_put(
    client: Any, widget: Any, site: Any
) -> None:
    brand = await expect(await auto_brand(client, widget, site.domain), 200)
    widget_id, headers = widget
    resp = await client.put(
        f"/core/web-widgets/{widget_id}", json={"config": {"v1": brand["config_v1"]}},
        headers=headers,
    )
    stored = await expect(resp, 200)
    assert stored["config"]["v1"] == brand["config_v1"]


async def test_results_are_cached_per_domain(client: Any, widget: Any, site: Any) -> None:
    first = await expect(await auto_brand(client, widget, site.domain), 200)
    again = await expect(await auto_brand(client, widget, f"https://www.{site.domain}/"), 200)
    assert again == first
    assert site.hits["/"] == 1 and site.hits["/site.webmanifest"] == 1


async def test_nothing_usable_is_404_and_negatively_cached(
    client: Any, widget: Any, site: Any
) -> None:
    site.pages = {"/": "<html><head></head><body>plain</body></html>"}
    for _ in range(2):
        resp = await auto_brand(client, widget, site.domain)
        assert resp.status == 404, await resp.text()
    assert site.hits["/"] == 1


async def test_redirect_loops_and_wrong_types_are_502(
    client: Any, widget: Any, site: Any
) -> None:
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    site.pages = {"/": loop}
    assert (await auto_brand(client, widget, site.domain)).status == 502
    assert site.hits["/"] == 6  # the first request and AUTO_BRAND_MAX_REDIRECTS (5) more


async def test_binary_home_page_is_502(make_client: Any, org_with_key: Any, site: Any) -> None:
    async def binary(request: web.Request) -> web.Response:
        return web.Response(body=b"\0" * 10, content_type="application/octet-stream")

    site.pages = {"/": binary}
    client = await make_client()
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), site.domain)
    assert resp.status == 502


async def test_slow_site_is_504(make_client: Any, org_with_key: Any, site: Any) -> None:
    import asyncio

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text=PAGE, content_type="text/html")

    site.pages = {"/": slow}
    client = await make_client(auto_brand_timeout="0.5")
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), site.domain)
    assert resp.status == 504


async def test_huge_page_stops_reading_at_the_cap(
    make_client: Any, org_with_key: Any, site: Any
) -> None:
    sent = []

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        await resp.write(b"<html><head><title>Endless</title>")  # the head never ends
        try:
            for _ in range(4096):
                await resp.write(b'<meta name="filler" content="' + b"x" * 4096 + b'">')
                sent.append(1)
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    site.pages = {"/": huge}
    client = await make_client(auto_brand_max_bytes=str(64 * 1024))
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), site.domain)
    assert resp.status == 502
    assert "larger than" in (await resp.json())["detail"]
    assert len(sent) < 4096  # the transfer was cut off, not read to the end


async def test_loopback_is_refused_unless_explicitly_allowed(
    make_client: Any, org_with_key: Any, site: Any
) -> None:
    client = await make_client(auto_brand_allow_private="false")
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    for domain in (site.domain, "localhost", "[::1]", "http://127.1/", "169.254.169.254"):
        resp = await auto_brand(client, (widget_id, headers), domain)
        assert resp.status in (422, 502), (domain, resp.status)
    assert not site.hits


@pytest.mark.parametrize(
    "domain", ["", "ftp://example.com", "user@example.com", "example.com:22", "exa mple.com"]
)
async def test_bad_domains_are_422(client: Any, widget: Any, domain: str) -> None:
    resp = await auto_brand(client, widget, domain)
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["body", "domain"]


async def test_widget_of_another_org_is_404_and_scopes_apply(
    client: Any, widget: Any, org_with_key: Any, site: Any
) -> None:
    widget_id, _ = widget
    _, stranger = await org_with_key()
    assert (await auto_brand(client, (widget_id, stranger), site.domain)).status == 404
    _, reader = await org_with_key(["web_widgets:read"])
    assert (await auto_brand(client, (widget_id, reader), site.domain)).status == 403
    resp = await client.post(f"/core/web-widgets/{widget_id}/auto-brand", json={"domain": "x"})
    assert resp.status == 401
    assert not site.hits


async def test_brand_object_is_json_serializable_and_stable(
    client: Any, widget: Any, site: Any
) -> None:
    resp = await auto_brand(client, widget, site.domain)
    assert resp.headers["Cache-Control"] == "no-store"
    json.dumps(await resp.json())


@pytest.fixture
def resolves(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes the app's resolver answer names from a table (unknown names: no addresses)."""
    from management_service.branding import session
    from tests.support.resolver import FakeResolver

    def use(answers: dict[str, list[str]]) -> None:
        monkeypatch.setattr(session, "DefaultResolver", lambda: FakeResolver(answers))

    return use


async def test_a_domain_that_does_not_exist_is_404(
    make_client: Any, org_with_key: Any, resolves: Any
) -> None:
    resolves({})
    client = await make_client()
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), "no-such-shop.example")
    assert resp.status == 404, await resp.text()
    assert "does not exist" in (await resp.json())["detail"]


async def test_www_existing_is_enough_for_a_domain_to_exist(
    make_client: Any, org_with_key: Any, resolves: Any, site: Any
) -> None:
    # The bare name has no addresses, www. has one where nothing listens: a failing site (502).
    resolves({"www.shop.example": ["127.0.0.1"]})
    client = await make_client(auto_brand_ports="80,443,9")
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), "shop.example:9")
    assert resp.status == 502, await resp.text()


async def test_a_domain_resolving_only_to_private_addresses_is_422(
    make_client: Any, org_with_key: Any, resolves: Any
) -> None:
    resolves({"intranet.example": ["10.0.0.7", "127.0.0.1"], "www.intranet.example": []})
    client = await make_client(auto_brand_allow_private="false")
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), "intranet.example")
    assert resp.status == 422, await resp.text()
    issue = (await resp.json())["detail"][0]
    assert issue["loc"] == ["body", "domain"]
    assert "not public" in issue["msg"]


async def test_a_site_that_refuses_connections_is_502(
    make_client: Any, org_with_key: Any, unused_tcp_port: int
) -> None:
    client = await make_client(auto_brand_ports=f"80,443,{unused_tcp_port}")
    _, headers = await org_with_key()
    widget_id = (await create_widget(client, headers, await make_version(client, headers)))["id"]
    resp = await auto_brand(client, (widget_id, headers), f"127.0.0.1:{unused_tcp_port}")
    assert resp.status == 502, await resp.text()
    assert "could not be reached" in (await resp.json())["detail"]
