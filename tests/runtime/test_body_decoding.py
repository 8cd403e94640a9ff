"""A body the client encoded badly (corrupt or cut-short gzip or deflate, broken chunked framing)
answers its clear JSON error, and is logged as what it is: the client's mistake, never an ERROR
(with a traceback) on the service's side."""

from __future__ import annotations

import asyncio
import gzip
import logging
import zlib
from typing import Any

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from common.logs import ClientMistakes, quiet_client_mistakes, setup_logging
from tests.support.seed import seed_agent_version, seed_widget

BODY = b'{"name": "Support", "user_id": "u1"}'
DECODE_FAILED = "The body could not be decoded per its Content-Encoding"
# Refused by read_json (the handler meets the decoding error): 415 with its JSON detail.
CORRUPT = {
    "gzip-corrupt": ("gzip", b"\x1f\x8b\x08\x00garbage-not-deflate" * 4),
    "gzip-not-gzip": ("gzip", BODY),
    "deflate-corrupt": ("deflate", b"\x78\x9c" + b"\xff" * 40),
}
# A stream that ends early. aiohttp hands on what a cut gzip stream decodes to (not JSON: 422);
# a cut deflate stream its parser refuses before any handler runs, with its own plain-text 400
# (which the services cannot shape, docs/security.md).
CUT_SHORT = {
    "gzip-truncated": ("gzip", gzip.compress(bytes(range(256)) * 64)[:200], 422),
    "deflate-truncated": ("deflate", zlib.compress(bytes(range(256)) * 64)[:200], 400),
}


@pytest.fixture(autouse=True)
def quiet() -> Any:
    """What setup_logging installs in the services (test_setup_logging_quiets_...)."""
    quiet_client_mistakes()
    yield
    server = logging.getLogger("aiohttp.server")
    for installed in [f for f in server.filters if isinstance(f, ClientMistakes)]:
        server.removeFilter(installed)


@pytest.fixture
async def target(
    request: pytest.FixtureRequest, management_client: Any, runtime_client: Any,
    org_with_key: Any, redis: Any, keys: Any,
) -> tuple[Any, str, dict[str, str]]:
    org_id, auth = await org_with_key()
    if request.param == "management":
        return management_client, "/core/agents", auth
    version = await seed_agent_version(redis, keys, org_id)
    widget = await seed_widget(redis, keys, version)
    return runtime_client, f"/core/public/web-widgets/{widget.id}/conversations", {}


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage()) for r in errors]


async def post_compressed(
    target: Any, coding: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> Any:
    """POSTs ``body`` as JSON in ``coding``, with every log captured; nothing is an error."""
    client, path, auth = target
    headers = {**auth, "Content-Type": "application/json", "Content-Encoding": coding}
    with caplog.at_level(logging.DEBUG):
        resp = await client.post(path, data=body, headers=headers)
        await asyncio.sleep(0.05)  # where aiohttp read the rest of the body after the response
    no_errors(caplog)
    return resp


@pytest.mark.parametrize("target", ["management", "runtime"], indirect=True)
@pytest.mark.parametrize("case", CORRUPT)
async def test_a_corrupt_compressed_body_is_415_and_no_error_log(
    target: Any, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await post_compressed(target, *CORRUPT[case], caplog)
    assert resp.status == 415, await resp.text()
    assert await resp.json() == {"detail": DECODE_FAILED}
    # The same connection's next request is not served from a parser in an unknown state.
    assert resp.headers["Connection"] == "close"


@pytest.mark.parametrize("target", ["management", "runtime"], indirect=True)
async def test_a_corrupt_body_refused_before_it_is_read_logs_no_error(
    target: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, path, _ = target
    coding, body = CORRUPT["gzip-corrupt"]
    headers = {"Content-Type": "application/json", "Content-Encoding": coding}
    with caplog.at_level(logging.DEBUG):
        # Management refuses it unauthenticated; the runtime for an unknown widget (a credential
        # there would be refused as browser code's mistake, before the widget is looked up).
        if "/public/" not in path:
            headers["Authorization"] = "Bearer ak_nope"
        resp = await client.post(path.replace("/web-widgets/", "/web-widgets/x"), data=body,
                                 headers=headers)
        assert resp.status in (401, 404), await resp.text()
        assert "detail" in await resp.json()
        await asyncio.sleep(0.05)
    no_errors(caplog)


@pytest.mark.parametrize("target", ["management", "runtime"], indirect=True)
@pytest.mark.parametrize("case", CUT_SHORT)
async def test_a_compressed_body_cut_short_is_refused_and_no_error_log(
    target: Any, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    coding, body, status = CUT_SHORT[case]
    resp = await post_compressed(target, coding, body, caplog)
    assert resp.status == status, await resp.text()
    if status == 422:
        assert (await resp.json())["detail"][0]["type"] == "json_invalid"
        return
    warned = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [r.levelname for r in warned] == ["WARNING"]  # still visible, without a traceback
    assert warned[0].exc_info is None


def test_setup_logging_quiets_client_mistakes(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    level = root.level
    server = logging.getLogger("aiohttp.server")
    monkeypatch.setattr(server, "filters", [])
    try:
        setup_logging("INFO")
    finally:
        root.setLevel(level)
    assert [type(f) for f in server.filters] == [ClientMistakes]


@pytest.mark.parametrize("target", ["management", "runtime"], indirect=True)
async def test_broken_chunked_framing_is_400_and_no_error_log(
    target: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, path, auth = target
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    head = "".join(f"{name}: {value}\r\n" for name, value in auth.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{head}"
        "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n".encode()
    )
    with caplog.at_level(logging.DEBUG):
        answer = await asyncio.wait_for(reader.read(), 5)
        await asyncio.sleep(0.05)
    writer.close()
    assert answer.split(b" ", 2)[1] == b"400", answer[:100]
    no_errors(caplog)
    assert [r.levelname for r in caplog.records if r.name == "aiohttp.server"] == ["WARNING"]


@pytest.mark.parametrize("target", ["management", "runtime"], indirect=True)
async def test_a_corrupt_body_a_route_never_reads_logs_no_error(
    target: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A GET answered without reading the body it was sent: aiohttp read it after the response.
    client, path, auth = target
    path = path.removesuffix("/conversations")  # the runtime's widget GET; management's list
    path = "/core/web-widgets" if path == "/core/agents" else path
    coding, body = CORRUPT["gzip-corrupt"]
    headers = {**auth, "Content-Type": "application/json", "Content-Encoding": coding}
    with caplog.at_level(logging.DEBUG):
        resp = await client.get(path, data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        await asyncio.sleep(0.05)
    no_errors(caplog)


def test_a_client_mistake_with_a_percent_sign_is_logged_whole() -> None:
    exc = BadHttpMessage("Invalid method encountered: b'G%sT'")
    record = logging.LogRecord(
        "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
        ("127.0.0.1",), (type(exc), exc, None),
    )
    assert ClientMistakes().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert record.getMessage().startswith("Error handling request from 127.0.0.1: ")
    assert "G%sT" in record.getMessage()
