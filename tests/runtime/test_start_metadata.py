"""The start checks the visitor's ``custom_metadata`` against the widget: the pre-conversation
form's values (required fields, types, options; the feedback rules) and the host page's
``context`` (a JSON object, 4 KiB, 3 levels), each a 422 naming the place, storing nothing;
what passes is stored as sent."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from common.errors import ApiError
from common.ids import new_id
from common.models.widget_config import validate_config
from common.redis_keys import RedisKeys
from runtime_service.appkeys import STARTER
from tests.support.conversations import start
from tests.support.seed import seed_agent_version, seed_widget

FORM = {
    "id": "pre",
    "fields": [
        {"id": "name", "type": "text", "label": "Name", "required": True},
        {"id": "email", "type": "email", "label": "E-mail"},
        {"id": "plan", "type": "select", "label": "Plan", "options": ["free", "pro"]},
        {"id": "seats", "type": "number", "label": "Seats"},
        {"id": "terms", "type": "checkbox", "label": "Terms", "required": True},
    ],
}


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys) -> Any:
    version = await seed_agent_version(redis, keys, new_id(), agent_name="support-agent")
    return await seed_widget(
        redis, keys, version, config={"v1": {"pre_conversation_form": FORM}}
    )


@pytest.fixture
async def plain(redis: Redis, keys: RedisKeys) -> Any:
    version = await seed_agent_version(redis, keys, new_id(), agent_name="support-agent")
    return await seed_widget(redis, keys, version)


GOOD = {"name": "Ada", "email": "ada@example.com", "plan": "pro", "seats": 3, "terms": True}


async def test_valid_form_values_and_context_are_stored_as_sent(
    runtime_client: Any, widget: Any
) -> None:
    metadata = {**GOOD, "context": {"customer": {"name": "Ada", "tier": "gold"}, "order": 42}}
    resp = await start(runtime_client, widget.id, user_id="u1", custom_metadata=metadata)
    assert resp.status == 200, await resp.text()
    cid = (await resp.json())["conversation"]["id"]
    record = await runtime_client.app[STARTER].store.record(widget.id, cid)
    assert record is not None and record.custom_metadata == metadata


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({**GOOD, "name": ""}, "name"),
        ({k: v for k, v in GOOD.items() if k != "name"}, "name"),
        ({**GOOD, "terms": False}, "terms"),
        ({**GOOD, "email": "not-an-address"}, "email"),
        ({**GOOD, "plan": "enterprise"}, "plan"),
        ({**GOOD, "seats": "three"}, "seats"),
        ({**GOOD, "name": 5}, "name"),
    ],
)
async def test_form_values_breaking_the_definition_are_422(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys,
    metadata: dict[str, Any], field: str,
) -> None:  # fmt: skip
    resp = await start(runtime_client, widget.id, user_id="u1", custom_metadata=metadata)
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == ["body", "custom_metadata", field]
    assert await redis.zcard(keys.conversations_by_status(widget.id, "token_created")) == 0


@pytest.mark.parametrize(
    ("context", "msg"),
    [
        ("a string", "Expected `object`"),
        ([1, 2], "Expected `object`"),
        ({"a": {"b": {"c": {"d": 1}}}}, "Nesting deeper than 3 levels"),
        ({"blob": "x" * 4100}, "Larger than 4096 bytes as JSON"),
    ],
)
async def test_a_bad_context_is_422(
    runtime_client: Any, plain: Any, redis: Redis, keys: RedisKeys, context: Any, msg: str
) -> None:
    resp = await start(runtime_client, plain.id, user_id="u1", custom_metadata={"context": context})
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == ["body", "custom_metadata", "context"]
    assert issue["msg"] == msg
    assert await redis.zcard(keys.conversations_by_status(plain.id, "token_created")) == 0


async def test_a_widget_without_a_form_takes_any_metadata(runtime_client: Any, plain: Any) -> None:
    resp = await start(
        runtime_client, plain.id, user_id="u1",
        custom_metadata={"anything": [1, {"x": None}], "context": {"page": "/pricing"}},
    )  # fmt: skip
    assert resp.status == 200


def test_a_form_field_may_not_be_called_context() -> None:
    form = {"id": "pre", "fields": [{"id": "context", "type": "text", "label": "C"}]}
    with pytest.raises(ApiError) as info:
        validate_config({"v1": {"pre_conversation_form": form}}, ["config"])
    assert info.value.detail[0].loc == [  # type: ignore[union-attr]
        "config", "v1", "pre_conversation_form", "fields", 0, "id",
    ]  # fmt: skip
