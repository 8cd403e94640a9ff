"""Management credentials sent to the public runtime API are refused with 400 on every public
route, preflights and the catch-all included, and a WARNING names the credential's id (never its
secret) so the owner can rotate it (issue 15 item 12)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from runtime_service.browser_credentials import DETAIL
from tests.support.seed import seed_widget

PREFIX = "/core/public/web-widgets"
KEY_ID, PAT_ID = secrets.token_hex(16), secrets.token_hex(16)
SECRET = secrets.token_urlsafe(32)
ORG = new_id()

# (header name, value, what the log line names)
SENT = [
    ("Authorization", f"Bearer ak_{KEY_ID}.{SECRET}", f"ak_{KEY_ID}"),
    ("Authorization", f"ak_{KEY_ID}.{SECRET}", f"ak_{KEY_ID}"),
    ("Authorization", f"bearer  pat_{PAT_ID}.{SECRET}", f"pat_{PAT_ID}"),
    ("Authorization", f"pat_{PAT_ID}.{SECRET}", f"pat_{PAT_ID}"),
    # Malformed past the id: still named by its id, still no secret.
    ("Authorization", f"Bearer ak_{KEY_ID}:{SECRET}", f"ak_{KEY_ID}"),
    ("X-Anyreach-Org", ORG, "X-Anyreach-Org"),
]


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    return await seed_widget(redis, keys, version, domains=["https://shop.example"])


def routes(widget_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    conversation = new_id()
    return [
        ("GET", f"{PREFIX}/{widget_id}", {}),
        ("POST", f"{PREFIX}/{widget_id}/conversations", {"json": {"user_id": "guest_1"}}),
        ("GET", f"{PREFIX}/{widget_id}/conversations?user_id=guest_1", {}),
        (
            "POST", f"{PREFIX}/{widget_id}/conversations/{conversation}/feedback",
            {"json": {"data": {"rating": 5}}},
        ),
        ("GET", f"/public/embed/{widget_id}", {}),
        ("GET", f"/public/embed/{widget_id}/frame", {}),
        ("GET", "/public/embed/assets/widget-x.js", {}),
        # The catch-all: an unknown path under the prefix, and anywhere else.
        ("GET", f"{PREFIX}/{widget_id}/nothing-here", {}),
        ("DELETE", f"{PREFIX}/{widget_id}", {}),
        ("GET", "/anything", {}),
    ]


def check_log(caplog: pytest.LogCaptureFixture, named: str) -> None:
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                and r.name == "runtime_service.browser_credentials"]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    message = warnings[0].getMessage()
    assert named in message and "rotate" in message
    for record in caplog.records:
        assert SECRET not in record.getMessage()


@pytest.mark.parametrize(("header", "value", "named"), SENT, ids=[s[2][:8] for s in SENT])
@pytest.mark.parametrize("origin", [None, "https://shop.example", "https://elsewhere.example"])
async def test_every_public_route_refuses_credentials(
    runtime_client: Any, widget: Any, caplog: pytest.LogCaptureFixture,
    header: str, value: str, named: str, origin: str | None,
) -> None:
    for method, path, extra in routes(widget.id):
        caplog.clear()
        headers = {header: value, **({"Origin": origin} if origin else {})}
        with caplog.at_level(logging.INFO):
            resp = await runtime_client.request(method, path, headers=headers, **extra)
            assert resp.status == 400, (method, path, await resp.text())
            assert await resp.json() == {"detail": DETAIL}
        check_log(caplog, named)
        if origin:  # the page can read why
            assert resp.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(("header", "value", "named"), SENT, ids=[s[2][:8] for s in SENT])
async def test_a_preflight_carrying_credentials_is_refused(
    runtime_client: Any, widget: Any, caplog: pytest.LogCaptureFixture,
    header: str, value: str, named: str,
) -> None:
    with caplog.at_level(logging.INFO):
        resp = await runtime_client.options(
            f"{PREFIX}/{widget.id}/conversations",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                     header: value},
        )
        assert resp.status == 400
        assert await resp.json() == {"detail": DETAIL}
    check_log(caplog, named)


@pytest.mark.parametrize("announced", ["authorization", "Content-Type, X-Anyreach-Org"])
async def test_a_preflight_announcing_credentials_is_refused(
    runtime_client: Any, widget: Any, caplog: pytest.LogCaptureFixture, announced: str
) -> None:
    # What a browser sends before a request with those headers: no credential to name yet.
    with caplog.at_level(logging.INFO):
        resp = await runtime_client.options(
            f"{PREFIX}/{widget.id}/conversations",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": announced},
        )
        assert resp.status == 400
        assert await resp.json() == {"detail": DETAIL}
    check_log(caplog, "preflight announcing")


async def test_requests_without_credentials_are_untouched(
    runtime_client: Any, widget: Any
) -> None:
    resp = await runtime_client.get(f"{PREFIX}/{widget.id}")
    assert resp.status == 200
    resp = await runtime_client.get(
        f"{PREFIX}/{widget.id}", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert resp.status == 200
    resp = await runtime_client.options(
        f"{PREFIX}/{widget.id}/conversations",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type, x-request-id"},
    )
    assert resp.status == 204


async def test_probes_are_not_public_routes(runtime_client: Any) -> None:
    headers = {"Authorization": f"Bearer ak_{KEY_ID}.{SECRET}"}
    assert (await runtime_client.get("/healthz", headers=headers)).status == 200
