"""Post-conversation feedback through the public runtime API, on a real redis-server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.conversation import ConversationSummary
from common.redis_batch import RedisBatch
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms
from runtime_service import conversations
from runtime_service.conversations import ConversationStore
from tests.support.seed import FEEDBACK_CONFIG, seed_widget

PREFIX = "/core/public/web-widgets"


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    return await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)


async def conversation(client: Any, widget_id: str) -> str:
    resp = await client.post(f"{PREFIX}/{widget_id}/conversations", json={"user_id": "u1"})
    assert resp.status == 200
    return (await resp.json())["conversation"]["id"]


def url(widget_id: str, conversation_id: str) -> str:
    return f"{PREFIX}/{widget_id}/conversations/{conversation_id}/feedback"


async def stored(redis: Redis, keys: RedisKeys, widget_id: str, cid: str) -> Any:
    raw = await redis.hget(keys.conversation(widget_id, cid), "feedback")
    return None if raw is None else json.loads(raw)


async def test_feedback_keeps_configured_fields_once(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    cid = await conversation(runtime_client, widget.id)
    data = {"rating": 5, "comment": "great", "injected": "<script>"}
    resp = await runtime_client.post(url(widget.id, cid), json={"data": data})
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert await resp.json() == {"status": "ok"}
    record = await stored(redis, keys, widget.id, cid)
    assert record["data"] == {"rating": 5, "comment": "great"}
    assert record["submitted_at"].endswith("Z")
    second = await runtime_client.post(url(widget.id, cid), json={"data": {"rating": 1}})
    assert second.status == 409
    assert (await stored(redis, keys, widget.id, cid))["data"]["rating"] == 5


async def test_feedback_record_keeps_the_conversations_retention(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    cid = await conversation(runtime_client, widget.id)
    await runtime_client.post(url(widget.id, cid), json={"data": {"rating": 4}})
    assert await redis.ttl(keys.conversation(widget.id, cid)) > 0


async def test_no_feedback_form_is_400(
    runtime_client: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    disabled = {"v1": {"post_conversation_feedback": {
        **FEEDBACK_CONFIG["v1"]["post_conversation_feedback"], "enabled": False}}}
    for config in ({}, disabled):
        plain = await seed_widget(redis, keys, version, config=config)
        cid = await conversation(runtime_client, plain.id)
        resp = await runtime_client.post(url(plain.id, cid), json={"data": {"rating": 5}})
        assert resp.status == 400
        assert await stored(redis, keys, plain.id, cid) is None


async def test_no_valid_field_is_400_and_does_not_use_up_the_submission(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    cid = await conversation(runtime_client, widget.id)
    for data in ({}, {"unknown": 1}):
        resp = await runtime_client.post(url(widget.id, cid), json={"data": data})
        assert resp.status == 400
    resp = await runtime_client.post(url(widget.id, cid), json={"data": {"rating": 3}})
    assert resp.status == 200


async def test_data_over_16_kb_is_413_and_at_the_limit_is_accepted(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    cid = await conversation(runtime_client, widget.id)
    over = {"comment": "x" * (16 * 1024 - len('{"comment":""}') + 1)}
    resp = await runtime_client.post(url(widget.id, cid), json={"data": over})
    assert resp.status == 413
    assert await stored(redis, keys, widget.id, cid) is None
    # Dropped fields count too: the limit is on what was submitted.
    padded = {"rating": 5, "junk": "x" * 17000}
    assert (await runtime_client.post(url(widget.id, cid), json={"data": padded})).status == 413
    # The comment's own cap is 5000 characters: the rest of the exact size is dropped keys.
    rest = 16 * 1024 - 5000 - len('{"comment":"","junk":""}')
    exact = {"comment": "x" * 5000, "junk": "x" * rest}
    resp = await runtime_client.post(url(widget.id, cid), json={"data": exact})
    assert resp.status == 200


async def test_a_huge_body_is_cut_off_with_413(runtime_client: Any, widget: Any) -> None:
    cid = await conversation(runtime_client, widget.id)

    async def chunks() -> Any:
        yield b'{"data": {"comment": "'
        for _ in range(1024):  # 64 MiB if it were all read
            yield b"x" * 65536

    resp = await runtime_client.post(
        url(widget.id, cid), data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    assert "detail" in await resp.json()


async def test_unknown_and_foreign_conversations(
    runtime_client: Any, widget: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    other = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    foreign = await conversation(runtime_client, other.id)
    body = {"data": {"rating": 5}}
    assert (await runtime_client.post(url(widget.id, foreign), json=body)).status == 403
    assert (await runtime_client.post(url(widget.id, new_id()), json=body)).status == 404
    assert (await runtime_client.post(url(widget.id, "nope"), json=body)).status == 404
    assert (await runtime_client.post(url(new_id(), foreign), json=body)).status == 404
    assert await stored(redis, keys, other.id, foreign) is None


@pytest.mark.parametrize("body", [{}, {"data": []}, {"data": {"rating": 1}, "extra": 1}])
async def test_invalid_bodies_are_422(runtime_client: Any, widget: Any, body: Any) -> None:
    cid = await conversation(runtime_client, widget.id)
    assert (await runtime_client.post(url(widget.id, cid), json=body)).status == 422


async def test_accepted_feedback_is_the_records_custom_metadata_feedback_form(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys
) -> None:
    resp = await runtime_client.post(
        f"{PREFIX}/{widget.id}/conversations",
        json={"user_id": "u1", "custom_metadata": {"plan": "pro"}},
    )
    cid = (await resp.json())["conversation"]["id"]
    store = ConversationStore(RedisBatch(redis), keys, retention=3600)
    before = await store.record(widget.id, cid)
    assert before is not None and before.custom_metadata == {"plan": "pro"}
    await runtime_client.post(url(widget.id, cid), json={"data": {"rating": 4, "x": 1}})
    after = await store.record(widget.id, cid)
    assert after is not None
    feedback = after.custom_metadata.pop("feedback_form")
    assert after.custom_metadata == {"plan": "pro"}
    assert feedback["data"] == {"rating": 4}
    assert feedback["submitted_at"].endswith("Z")
    assert after.id == cid and after.web_widget_id == widget.id
    assert await store.record(widget.id, new_id()) is None


async def test_data_nested_too_deeply_to_decode_is_422(runtime_client: Any, widget: Any) -> None:
    cid = await conversation(runtime_client, widget.id)
    depth = 5000  # 10 KB of brackets: within the body limit, beyond what a decoder recurses
    body = b'{"data": {"rating": ' + b"[" * depth + b"]" * depth + b"}}"
    resp = await runtime_client.post(
        url(widget.id, cid), data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == ["body"] and issue["type"] == "json_invalid"


async def test_a_retried_submission_is_ok_and_another_one_a_duplicate(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys, monkeypatch: Any
) -> None:
    """The client library re-sends a call whose connection broke after Redis ran it: the same
    submission id then answers ok, while any other submission stays a duplicate."""
    cid = await conversation(runtime_client, widget.id)
    store = ConversationStore(RedisBatch(redis), keys, retention=3600)
    monkeypatch.setattr(conversations.secrets, "token_hex", lambda _: "same-call")
    record = b'{"data":{"rating":5},"submitted_at":"2026-01-01T00:00:00.000Z"}'
    assert await store.submit_feedback(widget.id, cid, record, 12, 16384) == "ok"
    assert await store.submit_feedback(widget.id, cid, record, 12, 16384) == "ok"
    monkeypatch.setattr(conversations.secrets, "token_hex", lambda _: "another-call")
    assert await store.submit_feedback(widget.id, cid, record, 12, 16384) == "duplicate"
    stored = await store.record(widget.id, cid)
    assert stored is not None and stored.custom_metadata["feedback_form"]["data"] == {"rating": 5}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rating": "five"}, "rating"),
        ({"rating": {"stars": 5}}, "rating"),
        ({"rating": 9}, "rating"),
        ({"rating": 4, "comment": ["not", "text"]}, "comment"),
    ],
)
async def test_values_that_do_not_fit_the_form_are_422_and_not_stored(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys, data: Any, field: str
) -> None:
    cid = await conversation(runtime_client, widget.id)
    resp = await runtime_client.post(url(widget.id, cid), json={"data": data})
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == ["body", "data", field]
    assert await stored(redis, keys, widget.id, cid) is None


async def test_a_missing_required_field_is_422_and_does_not_use_up_the_submission(
    runtime_client: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    fields = [
        {"id": "stars", "type": "rating", "label": "Stars", "required": True},
        {"id": "mail", "type": "email", "label": "E-mail"},
        {"id": "plan", "type": "select", "label": "Plan", "options": ["free", "pro"]},
        {"id": "ok", "type": "checkbox", "label": "May we call?"},
    ]
    config = {"v1": {"post_conversation_feedback": {
        "enabled": True, "form": {"fields": fields}}}}
    required = await seed_widget(redis, keys, version, config=config)
    cid = await conversation(runtime_client, required.id)
    refused = await runtime_client.post(
        url(required.id, cid), json={"data": {"mail": "a@example.com", "plan": "gold"}}
    )
    assert refused.status == 422
    assert [issue["loc"] for issue in (await refused.json())["detail"]] == [
        ["body", "data", "stars"], ["body", "data", "plan"]
    ]
    assert await stored(redis, keys, required.id, cid) is None
    data = {"stars": 4, "mail": "a@example.com", "plan": "pro", "ok": False, "x": 1}
    accepted = await runtime_client.post(url(required.id, cid), json={"data": data})
    assert accepted.status == 200
    record = await stored(redis, keys, required.id, cid)
    assert record["data"] == {"stars": 4, "mail": "a@example.com", "plan": "pro", "ok": False}


async def test_feedback_is_accepted_after_the_owner_unpublishes_and_404_once_deleted(
    runtime_client: Any, version: Any, redis: Redis, keys: RedisKeys
) -> None:
    """A visitor whose call ends while the owner unpublishes keeps their feedback; a deleted
    widget takes its conversations' feedback with it. (Conversations are written straight to
    the store, so no pod has cached the widget as it was before.)"""
    store = ConversationStore(RedisBatch(redis), keys, retention=3600)

    async def started(widget: Any) -> str:
        ms = now_ms()
        conversation = ConversationSummary(
            id=new_id(), organization_id=widget.organization_id, direction="inbound",
            channel="webrtc", status="completed", user_id="u1", agent_id=widget.agent_id,
            agent_version_id=widget.agent_version_id, web_widget_id=widget.id, duration=None,
            user_turn_count=None, created_at=iso_from_ms(ms), updated_at=iso_from_ms(ms),
        )
        await store.create(conversation, ms, b"{}")
        return conversation.id

    hidden = await seed_widget(redis, keys, version, published=False, config=FEEDBACK_CONFIG)
    cid = await started(hidden)
    assert (await runtime_client.get(f"{PREFIX}/{hidden.id}")).status == 404
    resp = await runtime_client.post(url(hidden.id, cid), json={"data": {"rating": 5}})
    assert resp.status == 200
    assert (await stored(redis, keys, hidden.id, cid))["data"] == {"rating": 5}

    gone = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    other = await started(gone)
    await redis.delete(keys.widget(gone.id))
    resp = await runtime_client.post(url(gone.id, other), json={"data": {"rating": 5}})
    assert resp.status == 404
    assert (await resp.json())["detail"] == "Widget not found"
    assert await stored(redis, keys, gone.id, other) is None
