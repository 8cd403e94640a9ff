"""The demo page's webhook receiver (make run): deliveries verified with the standardwebhooks
package as a customer's backend would, listed newest first, a bad signature refused."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from runtime_service.embed.demo import DemoServer

SECRET = "whsec_" + base64.b64encode(b"demo-secret-demo-secret-1").decode()


def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def signed(msg_id: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "Content-Type": "application/json",
    }


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    server = DemoServer("http://127.0.0.1:1", "w").start()
    server.inbox.secret = SECRET
    yield server
    server.stop()


def test_verified_deliveries_are_listed_newest_first(demo: DemoServer) -> None:
    for n, kind in enumerate(("conversation.started", "conversation.ended")):
        body = json.dumps({"type": kind, "timestamp": "2026-12-04T00:00:00Z", "data": {}}).encode()
        assert post(demo.port, body, signed(f"evt_{n}", body)) == 204
    with urllib.request.urlopen(f"http://127.0.0.1:{demo.port}/webhooks.json") as resp:
        items = json.loads(resp.read())
    assert [(i["webhook_id"], i["type"], i["verified"]) for i in items] == [
        ("evt_1", "conversation.ended", True), ("evt_0", "conversation.started", True),
    ]


def test_a_bad_signature_is_refused_and_shown_unverified(demo: DemoServer) -> None:
    body = b'{"type": "conversation.started"}'
    other = "whsec_" + base64.b64encode(b"another-secret-entirely!!").decode()
    assert post(demo.port, body, signed("evt_x", body, other)) == 401
    assert demo.inbox.items()[0]["verified"] is False
