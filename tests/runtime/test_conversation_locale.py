"""The widget's language on start and resume: an optional BCP 47 ``locale`` in the body,
validated (422), handed to the agent as ``locale`` in the dispatch metadata, never stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from tests.support.conversations import VERIFIER, start
from tests.support.seed import seed_agent_version, seed_widget


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys) -> Any:
    version = await seed_agent_version(redis, keys, new_id(), agent_name="support-agent")
    return await seed_widget(redis, keys, version)


LOCALES = ["en", "pt-BR", "ar", "zh-Hant-TW", "de-CH-1996", "es-419", "ja"]


def dispatched(body: dict[str, Any]) -> dict[str, Any]:
    config = VERIFIER.verify(body["connection_details"]["token"]).room_config
    assert config is not None
    (dispatch,) = config.agents
    metadata: dict[str, Any] = json.loads(dispatch.metadata)
    return metadata


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_locale_reaches_the_agent(runtime_client: Any, widget: Any, locale: str) -> None:
    resp = await start(runtime_client, widget.id, user_id="u1", locale=locale)
    assert resp.status == 200
    assert dispatched(await resp.json())["locale"] == locale


async def test_without_a_locale_the_metadata_has_none(runtime_client: Any, widget: Any) -> None:
    body = await (await start(runtime_client, widget.id, user_id="u1")).json()
    assert "locale" not in dispatched(body)


async def test_a_resume_carries_its_own_locale(runtime_client: Any, widget: Any) -> None:
    first = await (await start(runtime_client, widget.id, user_id="u1", locale="en")).json()
    cid = first["conversation"]["id"]
    resp = await start(runtime_client, widget.id, user_id="u1", conversation_id=cid, locale="fr")
    assert resp.status == 200
    assert dispatched(await resp.json())["locale"] == "fr"


@pytest.mark.parametrize(
    "locale", ["", "e", "english", "en_US", "en-", "-en", "en US", "en\n", "x" * 36, 7, None]
)
async def test_a_bad_locale_is_422_and_stores_nothing(
    runtime_client: Any, widget: Any, redis: Redis, keys: RedisKeys, locale: Any
) -> None:
    resp = await start(runtime_client, widget.id, user_id="u1", locale=locale)
    if locale is None:  # null is "not given"
        assert resp.status == 200
        return
    assert resp.status == 422
    (issue,) = (await resp.json())["detail"]
    assert issue["loc"] == ["body", "locale"]
    assert await redis.zcard(keys.conversations_by_status(widget.id, "token_created")) == 0


async def test_the_locale_is_not_stored(runtime_client: Any, widget: Any, redis: Redis) -> None:
    await start(runtime_client, widget.id, user_id="u1", locale="ja")
    for key in await redis.keys("*"):
        if await redis.type(key) == b"hash":
            values = (await redis.hgetall(key)).values()
            assert all(b'"ja"' not in value for value in values if isinstance(value, bytes))
