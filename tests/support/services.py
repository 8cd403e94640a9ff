"""Both services over one Redis, for tests that run on a single redis-server and on the
3-master cluster alike: a module defines a fixture parametrized by ``TOPOLOGIES`` that returns
``both_services(request)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from common.appkeys import KEYS
from common.lifecycle.lifecycle import Lifecycle
from common.redis_keys import RedisKeys
from management_service.appkeys import CREDENTIALS
from management_service.credentials import CredentialStore
from runtime_service.appkeys import LIFECYCLE

TOPOLOGIES = ["standalone", "cluster"]


@dataclass
class Services:
    management: Any  # aiohttp test clients
    runtime: Any
    headers: dict[str, str]  # an all-scopes `ak_` key of one organization
    redis: Any

    @property
    def lifecycle(self) -> Lifecycle:
        """The runtime's own lifecycle (its settings, keys and stats retention)."""
        return self.runtime.server.app[LIFECYCLE]

    @property
    def keys(self) -> RedisKeys:
        return self.runtime.server.app[KEYS]

    @property
    def credentials(self) -> CredentialStore:
        return self.management.server.app[CREDENTIALS]


def both_services(request: pytest.FixtureRequest) -> Services:
    """From a sync fixture (async fixtures are set up through getfixturevalue): the conftest's
    clients on a private redis-server, or its `stack` on the cluster. The standalone key comes
    from the ``org_headers`` fixture (tests/management/conftest.py)."""
    if request.param == "standalone":
        return Services(
            request.getfixturevalue("management_client"),
            request.getfixturevalue("runtime_client"),
            request.getfixturevalue("org_headers"), request.getfixturevalue("redis"),
        )
    management, runtime, headers = request.getfixturevalue("stack")
    return Services(management, runtime, headers, request.getfixturevalue("cluster"))
