"""The worker's Standard Webhooks signer, proved against the ``standardwebhooks`` package, its
retry schedule and its egress policy."""

from __future__ import annotations

import ipaddress
import random
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from yarl import URL

from common.models.webhooks import SigningSecret
from common.settings import Settings
from management_service.branding.ssrf import BlockedError
from management_service.webhooks import signing
from management_service.webhooks.egress import webhook_policy
from management_service.webhooks.fanout import body_of
from management_service.webhooks.schedule import parse_schedule, retry_delay_ms
from tests.support.webhooks import new_secret


def test_the_signature_is_what_standardwebhooks_computes_and_verifies() -> None:
    secret = new_secret()
    body = b'{"type":"conversation.started","timestamp":"2026-01-01T00:00:00.000Z","data":{}}'
    now = int(time.time())
    headers = signing.headers([secret], "evt_1", now, body)
    library = standardwebhooks.Webhook(secret)
    expected = library.sign("evt_1", datetime.fromtimestamp(now, tz=UTC), body.decode())
    assert headers["webhook-signature"] == expected
    library.verify(body, headers)  # raises when wrong


def test_every_active_secret_signs_and_each_verifies_alone() -> None:
    old, new = new_secret(), new_secret()
    now_ms = int(time.time() * 1000)
    secrets = [SigningSecret(secret=new), SigningSecret(secret=old, expires_ms=now_ms + 1000)]
    active = signing.active_secrets(secrets, now_ms)
    assert active == [new, old]
    assert signing.active_secrets(secrets, now_ms + 1000) == [new]
    body = b"{}"
    headers = signing.headers(active, "evt_2", now_ms // 1000, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(body, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(body, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new).verify(b'{"x":1}', headers)  # a changed body


def test_the_body_is_type_timestamp_and_data_byte_for_byte() -> None:
    event = b'{"id":"evt_3","type":"feedback.submitted","timestamp":"T","data":{"b":1,"a":[2]}}'
    assert body_of(event) == b'{"type":"feedback.submitted","timestamp":"T","data":{"b":1,"a":[2]}}'


def test_the_retry_schedule_and_its_jitter() -> None:
    schedule = parse_schedule(Settings().webhook_retry_schedule)
    assert schedule == (5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000)
    assert sum(schedule) < 3 * 24 * 3600  # the last attempt within 3 days
    low, high = random.Random(), random.Random()
    low.random = lambda: 1.0  # type: ignore[method-assign]
    high.random = lambda: 0.0  # type: ignore[method-assign]
    assert retry_delay_ms(schedule, 1, high) == 5000
    assert retry_delay_ms(schedule, 1, low) == 4000
    assert retry_delay_ms(schedule, 2, high) == 300_000
    assert retry_delay_ms(schedule, len(schedule), high) == 36_000_000
    assert retry_delay_ms(schedule, len(schedule) + 1) is None


@pytest.mark.parametrize(
    ("url", "allow_private", "refused"),
    [
        ("https://hooks.example.com/x", False, False),
        ("https://hooks.example.com:8443/x", False, False),
        ("http://hooks.example.com/x", False, True),  # https only
        ("http://hooks.example.com/x", True, False),
        ("https://127.0.0.1/x", False, True),
        ("https://127.0.0.1/x", True, False),
        ("https://10.0.0.1/x", True, False),
        ("https://169.254.169.254/latest/meta-data", True, True),  # never
        ("https://[fe80::1]/x", True, True),
        ("https://[::ffff:169.254.169.254]/x", True, True),
        ("https://[fd00:ec2::254]/x", True, True),
        ("https://100.100.100.200/x", True, True),
        ("https://0.0.0.0/x", True, True),
        ("https://user:pw@hooks.example.com/x", False, True),
        ("ftp://hooks.example.com/x", True, True),
    ],
)
def test_the_egress_policy(url: str, allow_private: bool, refused: bool) -> None:
    policy = webhook_policy(Settings(webhook_allow_private=allow_private))
    if refused:
        with pytest.raises(BlockedError):
            policy.check_url(URL(url))
    else:
        policy.check_url(URL(url))


def test_resolved_addresses_follow_the_same_rules() -> None:
    strict = webhook_policy(Settings())
    relaxed = webhook_policy(Settings(webhook_allow_private=True))
    for address, public in (("93.184.216.34", True), ("10.1.2.3", False), ("127.0.0.1", False)):
        ip = ipaddress.ip_address(address)
        assert strict.allows_address(ip) is public
        assert relaxed.allows_address(ip)
    metadata = ipaddress.ip_address("169.254.169.254")
    assert not strict.allows_address(metadata) and not relaxed.allows_address(metadata)
