"""The worker's Standard Webhooks signer, proved against the ``standardwebhooks`` package, its
request body and its retry schedule (the egress rule is tests/unit/test_webhook_egress.py's)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from common.models.webhooks import SigningSecret
from common.settings import Settings
from management_service.webhooks import signing
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
