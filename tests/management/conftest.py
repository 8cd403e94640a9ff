"""What the management API's tests share: the app client and an organization with an ``ak_``
key holding every scope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.settings import OrgFactory


@pytest.fixture
def client(management_client: Any) -> Any:
    return management_client


@pytest.fixture
async def org(org_with_key: OrgFactory) -> tuple[str, dict[str, str]]:
    """``(org_id, auth_headers)``."""
    return await org_with_key()
