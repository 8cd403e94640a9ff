"""What the runtime's tests share: the app client, a stand-in widget bundle and a published
agent version in the test's Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.redis_keys import RedisKeys
from runtime_service.embed import assets as embed_assets
from tests.support.bundle import write_stand_in_bundle
from tests.support.seed import seed_agent_version, seed_widget


@pytest.fixture
def client(runtime_client: Any) -> Any:
    return runtime_client


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in bundle, so these tests do not need npm. Request it before the client (e.g.
    ``pytestmark = pytest.mark.usefixtures("bundle")``): the app reads it at start-up."""
    monkeypatch.setattr(embed_assets, "STATIC_DIR", write_stand_in_bundle(tmp_path))
    return tmp_path


@pytest.fixture
async def version(redis: Redis, keys: RedisKeys) -> Any:
    """A published agent version of a new organization."""
    return await seed_agent_version(redis, keys, new_id())


@pytest.fixture
async def widget(redis: Redis, keys: RedisKeys, version: Any) -> Any:
    """A published widget of ``version``."""
    return await seed_widget(redis, keys, version)
