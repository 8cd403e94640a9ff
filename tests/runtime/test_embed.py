"""The embed routes without a browser: the loader script, the iframe page and the bundled
assets: content types, the Content-Security-Policy (frame-ancestors from the widget's domains),
404 for unknown or unpublished widgets, ETag/304 and caching."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from common.settings import Settings
from runtime_service.app import create_app
from runtime_service.embed import assets as embed_assets
from runtime_service.embed.csp import frame_ancestors, livekit_sources
from tests.support.bundle import CSS_NAME, JS_NAME
from tests.support.seed import seed_widget

# The app reads the bundle at start-up: a stand-in one, before the client.
pytestmark = pytest.mark.usefixtures("bundle")

EMBED = "/public/embed"


def policy(resp: Any) -> dict[str, list[str]]:
    header = resp.headers["Content-Security-Policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {words[0]: words[1:] for words in directives}


async def revalidated(client: Any, path: str) -> tuple[str, Any]:
    """``path``'s ETag and the 304 a request sending it back gets."""
    etag = (await client.get(path)).headers["ETag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    return etag, again


def embed_policy(resp: Any) -> dict[str, list[str]]:
    """``policy(resp)``, after what the loader's and the frame's share: nothing by default and
    scripts only from the runtime itself."""
    csp = policy(resp)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    return csp


def loader_config(body: str) -> dict[str, Any]:
    match = re.search(r"var CONFIG = (\{.*?\});", body)
    assert match, "the loader carries its configuration"
    return json.loads(match.group(1))


# --- loader ----------------------------------------------------------------------------------


async def test_loader_is_javascript_with_the_widgets_domains_and_trigger(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    config = {"v1": {"trigger": {"position": "top-left", "size": 64}}}
    widget = await seed_widget(
        redis, keys, version, domains=["https://b.example", "https://a.example"], config=config
    )
    resp = await client.get(f"{EMBED}/{widget.id}")
    assert resp.status == 200
    assert resp.content_type == "application/javascript"
    assert resp.charset == "utf-8"
    assert resp.headers["Cache-Control"] == "public, max-age=30"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    body = await resp.text()
    assert loader_config(body) == {
        "widgetId": widget.id,
        "domains": ["https://a.example", "https://b.example"],
        "position": "top-left",
        "size": 64,
        "padding": 16,
        "base": "https://widgets.test",
    }
    # Small and self-contained: no imports, no other script fetched.
    assert len(body) < 8 * 1024
    assert "import " not in body and "<script" not in body


async def test_the_loader_stays_under_5_kb_gzipped(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    # Ten allowed domains: more than most widgets list. docs/embed.md reports the size.
    domains = [f"https://shop-{n}.example.com" for n in range(10)]
    widget = await seed_widget(redis, keys, version, domains=domains)
    body = await (await client.get(f"{EMBED}/{widget.id}")).read()
    assert len(gzip.compress(body, compresslevel=9)) < 5 * 1024


def test_the_built_bundle_holds_no_test_code() -> None:
    # axe-core and the stand-in Room are for the browser tests only (devDependencies).
    manifest = embed_assets.STATIC_DIR / "manifest.json"
    if not manifest.is_file():
        pytest.skip("the widget bundle is not built")
    names = json.loads(manifest.read_text())
    script = (embed_assets.STATIC_DIR / names["widget.js"]).read_text(encoding="utf-8")
    assert "axe-core" not in script and "axe.run" not in script
    assert "FakeRoom" not in script


async def test_loader_csp_is_strict(client: Any, widget: Any) -> None:
    resp = await client.get(f"{EMBED}/{widget.id}")
    embed_policy(resp)
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]


async def test_loader_defaults_when_config_has_no_trigger(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(redis, keys, version, config={})
    body = await (await client.get(f"{EMBED}/{widget.id}")).text()
    config = loader_config(body)
    assert (config["position"], config["size"], config["domains"]) == ("bottom-right", 56, [])
    assert config["padding"] == 16


async def test_loader_etag_revalidates_and_changes_with_the_widget(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(redis, keys, version, domains=["https://a.example"])
    etag, again = await revalidated(client, f"{EMBED}/{widget.id}")
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert await again.read() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=30"

    await seed_widget(
        redis, keys, version, widget_id=widget.id, domains=["https://other.example"]
    )
    for _ in range(200):
        resp = await client.get(f"{EMBED}/{widget.id}", headers={"If-None-Match": etag})
        if resp.status == 200:
            break
        await asyncio.sleep(0.01)
    assert resp.status == 200, "an updated widget gets a new loader"
    assert resp.headers["ETag"] != etag
    assert loader_config(await resp.text())["domains"] == ["https://other.example"]


@pytest.mark.parametrize("path", ["", "/frame"])
async def test_unknown_and_unpublished_widgets_are_404(
    client: Any, redis: Redis, keys: RedisKeys, version: Any, path: str
) -> None:
    unpublished = await seed_widget(redis, keys, version, published=False)
    for widget_id in (new_id(), unpublished.id, "not-a-uuid"):
        resp = await client.get(f"{EMBED}/{widget_id}{path}")
        assert resp.status == 404, widget_id
        assert await resp.json() == {"detail": "Widget not found"}


async def test_embed_routes_are_not_refused_by_the_origin_check(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    # The domain rule for embeds is the loader's check and the frame's frame-ancestors: the API's
    # Origin check (403) would only break a page that loads the script with crossorigin.
    widget = await seed_widget(redis, keys, version, domains=["https://a.example"])
    headers = {"Origin": "https://elsewhere.example"}
    assert (await client.get(f"{EMBED}/{widget.id}", headers=headers)).status == 200
    assert (await client.get(f"{EMBED}/{widget.id}/frame", headers=headers)).status == 200


# --- frame -----------------------------------------------------------------------------------


async def test_frame_is_html_linking_the_hashed_bundle_without_inline_code(
    client: Any, widget: Any
) -> None:
    resp = await client.get(f"{EMBED}/{widget.id}/frame?parentOrigin=https://a.example")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Cache-Control"] == "public, max-age=30"
    page = await resp.text()
    assert f'<script src="{EMBED}/assets/{JS_NAME}" defer></script>' in page
    assert f'<link rel="stylesheet" href="{EMBED}/assets/{CSS_NAME}">' in page
    assert f'data-widget-id="{widget.id}"' in page
    # Every script has a src, and there is no inline style or handler: the CSP forbids them.
    assert re.findall(r"<script[^>]*>", page) == [f'<script src="{EMBED}/assets/{JS_NAME}" defer>']
    assert "<style" not in page and " style=" not in page and " on" not in page.lower()


async def test_frame_csp_allows_only_self_and_livekit(client: Any, widget: Any) -> None:
    resp = await client.get(f"{EMBED}/{widget.id}/frame")
    csp = embed_policy(resp)
    assert csp["style-src"] == ["'self'"]
    # LIVEKIT_URL is wss://livekit.test in the test settings.
    assert csp["connect-src"] == ["'self'", "wss://livekit.test", "https://livekit.test"]
    assert csp["img-src"][:2] == ["'self'", "data:"]
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in resp.headers["Content-Security-Policy"]


async def test_frame_img_src_adds_only_an_https_avatars_origin(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    avatar = "https://CDN.example.com:8443/team/ada.png?v=2"
    widget = await seed_widget(redis, keys, version, config={"v1": {"agent_avatar": avatar}})
    csp = policy(await client.get(f"{EMBED}/{widget.id}/frame"))
    assert csp["img-src"] == ["'self'", "data:", "blob:", "https://cdn.example.com:8443"]
    inline = "data:image/png;base64,iVBORw0KGgo="
    widget = await seed_widget(redis, keys, version, config={"v1": {"agent_avatar": inline}})
    csp = policy(await client.get(f"{EMBED}/{widget.id}/frame"))
    assert csp["img-src"] == ["'self'", "data:", "blob:"]


async def test_frame_ancestors_are_the_widgets_domains(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    listed = await seed_widget(
        redis, keys, version, domains=["https://shop.example", "http://localhost:3000"]
    )
    anywhere = await seed_widget(redis, keys, version, domains=[])
    csp = policy(await client.get(f"{EMBED}/{listed.id}/frame"))
    assert csp["frame-ancestors"] == ["http://localhost:3000", "https://shop.example"]
    csp = policy(await client.get(f"{EMBED}/{anywhere.id}/frame"))
    assert csp["frame-ancestors"] == ["*"]


async def test_frame_etag_revalidates(
    client: Any, redis: Redis, keys: RedisKeys, version: Any
) -> None:
    widget = await seed_widget(redis, keys, version, domains=["https://a.example"])
    etag, again = await revalidated(client, f"{EMBED}/{widget.id}/frame")
    # A 304 carries the policy too (a cache refreshes its stored headers from it).
    assert policy(again)["frame-ancestors"] == ["https://a.example"]
    other = await seed_widget(redis, keys, version, domains=["https://b.example"])
    assert (await client.get(f"{EMBED}/{other.id}/frame")).headers["ETag"] != etag


async def test_frame_without_a_built_bundle_is_503(
    aiohttp_client: Any,
    runtime_settings: Settings,
    redis: Redis,
    keys: RedisKeys,
    version: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embed_assets, "STATIC_DIR", tmp_path / "missing")
    client = await aiohttp_client(create_app(runtime_settings))
    widget = await seed_widget(redis, keys, version)
    resp = await client.get(f"{EMBED}/{widget.id}/frame")
    assert resp.status == 503
    assert "make embed" in (await resp.json())["detail"]
    # The loader does not need the bundle.
    assert (await client.get(f"{EMBED}/{widget.id}")).status == 200


# --- assets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"), [(JS_NAME, "application/javascript"), (CSS_NAME, "text/css")]
)
async def test_assets_are_immutable_and_revalidate(
    client: Any, bundle: Path, name: str, content_type: str
) -> None:
    resp = await client.get(f"{EMBED}/assets/{name}")
    assert resp.status == 200
    assert resp.content_type == content_type
    assert await resp.read() == (bundle / name).read_bytes()
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = await client.get(
        f"{EMBED}/assets/{name}", headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert again.status == 304


async def test_assets_are_served_gzipped_to_clients_that_accept_it(
    client: Any, bundle: Path
) -> None:
    plain = await client.get(
        f"{EMBED}/assets/{JS_NAME}", headers={"Accept-Encoding": "identity"}, auto_decompress=False
    )
    packed = await client.get(
        f"{EMBED}/assets/{JS_NAME}", headers={"Accept-Encoding": "gzip, br"}, auto_decompress=False
    )
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await packed.read()) == await plain.read()
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    # Each encoding has its own validator.
    assert plain.headers["ETag"] != packed.headers["ETag"]
    again = await client.get(
        f"{EMBED}/assets/{JS_NAME}",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status == 304


@pytest.mark.parametrize(
    "name", ["manifest.json", "widget.js", "..%2Fmanifest.json", "evil.js", "passwd"]
)
async def test_only_bundled_files_are_served(client: Any, name: str) -> None:
    resp = await client.get(f"{EMBED}/assets/{name}")
    assert resp.status == 404


# --- policy helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sources"),
    [
        ("wss://lk.example.com", ["wss://lk.example.com", "https://lk.example.com"]),
        ("ws://127.0.0.1:7880", ["ws://127.0.0.1:7880", "http://127.0.0.1:7880"]),
        ("https://LK.example.com/path", ["https://lk.example.com", "wss://lk.example.com"]),
        ("ftp://lk.example.com", []),
        ("not a url", []),
    ],
)
def test_livekit_sources(url: str, sources: list[str]) -> None:
    assert livekit_sources(url) == sources


def test_frame_ancestors_empty_is_any() -> None:
    assert frame_ancestors([]) == "*"
    assert frame_ancestors(["https://b.test", "https://a.test"]) == "https://a.test https://b.test"


# --- the policy is built only from plain origins (issue 15 item 4) --------------------------

UNSAFE_STORED = [
    "http://[fe80::1%x;frame-src https: data:]",
    "http://[fe80::1%\r\nSet-Cookie: a=b]",
    "https://a.test, https://b.test",
    "https://a.test\n",
    "https://a.test https://evil.test",
    "https://a.test;",
]


@pytest.mark.parametrize("unsafe", UNSAFE_STORED)
def test_frame_ancestors_leave_out_what_is_not_an_origin(unsafe: str) -> None:
    assert frame_ancestors(["https://ok.test", unsafe]) == "https://ok.test"
    # Leaving entries out never widens the list to any site.
    assert frame_ancestors([unsafe]) == "'none'"


def test_livekit_sources_leave_out_what_is_not_an_origin() -> None:
    assert livekit_sources("wss://lk.test;script-src *") == []
    assert livekit_sources("wss://lk.test%0a") == []


async def test_frame_csp_from_a_bad_stored_widget_is_whole_and_safe(
    client: Any, redis: Redis, keys: RedisKeys, version: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Written straight to Redis, as data stored before zone ids were refused would be.
    widget = await seed_widget(
        redis, keys, version, domains=["https://shop.example", *UNSAFE_STORED]
    )
    resp = await client.get(f"{EMBED}/{widget.id}/frame")
    assert resp.status == 200
    header = resp.headers["Content-Security-Policy"]
    csp = policy(resp)
    assert csp["frame-ancestors"] == ["https://shop.example"]
    assert csp["default-src"] == ["'none'"]
    assert "frame-src" not in csp and "evil" not in header and "%" not in header
    assert "left out of a Content-Security-Policy" in caplog.text
    only_bad = await seed_widget(redis, keys, version, domains=UNSAFE_STORED[:2])
    resp = await client.get(f"{EMBED}/{only_bad.id}/frame")
    assert resp.status == 200
    assert policy(resp)["frame-ancestors"] == ["'none'"]
