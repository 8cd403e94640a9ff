"""The webhook ingestion row's inputs: pre-signed webhooks LiveKit's own verifier accepts, one
conversation each, and the check that every one of them was applied."""

from __future__ import annotations

import time

import jwt
from livekit.api import TokenVerifier, WebhookReceiver

from bench.webhooks import WebhookLines, not_applied, outcomes, room_of
from common.ids import new_id
from runtime_service.livekit_webhook import fact_of

KEY, SECRET = "bench-key", "bench-secret-0123456789abcdef0123456789"


def test_each_line_is_a_signed_visitor_join_of_its_conversation() -> None:
    lines = WebhookLines(KEY, SECRET)
    receiver = WebhookReceiver(TokenVerifier(KEY, SECRET))
    ids = [new_id(), new_id()]
    seen = set()
    for cid in ids:
        body, token = lines(cid).split("\t")
        assert "\n" not in body  # one line of the file wrk reads
        event = receiver.receive(body, token)
        found = fact_of(event, body.encode(), int(time.time()))
        assert found is not None
        conversation_id, fact = found
        assert (conversation_id, fact.kind, fact.who) == (cid, "participant_joined", "visitor")
        assert event.room.name == room_of(cid)
        seen.add(fact.event_id)
    assert len(seen) == 2  # distinct events, so none is a duplicate of another


def test_a_line_is_signed_once() -> None:
    lines, cid = WebhookLines(KEY, SECRET), new_id()
    assert lines(cid) == lines(cid)


def test_the_token_outlives_a_run() -> None:
    token = WebhookLines(KEY, SECRET)(new_id()).split("\t")[1]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["exp"] - time.time() > 30 * 60


METRICS = """# HELP livekit_webhooks_total LiveKit webhooks by outcome
# TYPE livekit_webhooks_total counter
livekit_webhooks_total{outcome="applied"} 6.0
livekit_webhooks_total{outcome="duplicate"} 2.0
http_requests_total{method="POST",route="/livekit/webhook",status="200"} 8.0
"""


def test_outcomes_are_read_from_the_metrics_text() -> None:
    assert outcomes(METRICS) == {"applied": 6, "duplicate": 2}


def test_not_applied_counts_other_outcomes_and_missing_applications() -> None:
    before = {"applied": 10}
    assert not_applied(before, {"applied": 110}, 100) == 0
    assert not_applied(before, {"applied": 120}, 100) == 0  # the warm-up's too
    assert not_applied(before, {"applied": 108, "duplicate": 2}, 100) == 4
    assert not_applied({}, {}, 5) == 5  # nothing read: nothing proven applied
