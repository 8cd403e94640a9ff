"""What the management API's tests share: the app client and an organization with an ``ak_``
key holding every scope, and an
agent version of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.services import TOPOLOGIES, Services, both_services
from tests.support.settings import OrgFactory
from tests.support.widget_helpers import make_version


@pytest.fixture
def client(management_client: Any) -> Any:
    return management_client


@pytest.fixture
async def org(org_with_key: OrgFactory) -> tuple[str, dict[str, str]]:
    """``(org_id, auth_headers)``."""
    return await org_with_key()


@pytest.fixture
async def pair(client: Any, org: tuple[str, dict[str, str]]) -> tuple[str, str]:
    """``(agent_id, version_id)``: an (unpublished) version of a new agent of ``org``."""
    return await make_version(client, org[1])


@pytest.fixture
async def org_headers(org_with_key: OrgFactory) -> dict[str, str]:
    """A new organization's key, for ``apps`` on a standalone server."""
    headers: dict[str, str] = (await org_with_key())[1]
    return headers


@pytest.fixture(params=TOPOLOGIES)
def apps(request: pytest.FixtureRequest) -> Services:
    """Both services, on a private redis-server and on the 3-master cluster."""
    return both_services(request)
