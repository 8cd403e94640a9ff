"""Settings for the services under test, and the credentials the tests issue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from common.settings import Settings

RATE_LIMITED = ("START", "LIST", "FEEDBACK", "FEEDBACK_PER_CONVERSATION")
LIVEKIT_KEY = "test-livekit-key"
LIVEKIT_SECRET = "test-livekit-secret-0123456789abcdef0123456789"

# What a module sets as REDIS_ARGS is passed to its redis-server, e.g. DURABLE.
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")

ALL_SCOPES = [
    "web_widgets:read", "web_widgets:manage", "agents:read", "agents:manage",
    "conversations:read",
    "conversations:read_sensitive",
    "conversations:manage",
    "webhooks:manage",
]

# The ``org_with_key`` fixture: ``await org_with_key(scopes)`` is ``(org_id, auth_headers)``.
OrgFactory = Callable[..., Awaitable[tuple[str, dict[str, str]]]]


def make_settings(service: str, redis_url: str, **overrides: Any) -> Settings:
    env = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": "test",
        "LIVEKIT_URL": "wss://livekit.test",
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
        "PUBLIC_ORIGIN": "https://widgets.test",
        # Functional tests send bursts from one address; tests of the limits turn them on.
        **{f"RATE_LIMIT_{name}": "off" for name in RATE_LIMITED},
    }
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return Settings.from_env(service, env)
