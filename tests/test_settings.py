"""Settings come only from environment variables, coerced and validated once."""

from __future__ import annotations

import pytest

from common.settings import Settings


def test_defaults_differ_per_service() -> None:
    assert Settings.from_env("management", {}).port == 8080
    assert Settings.from_env("runtime", {}).port == 8081


def test_environment_values_are_coerced() -> None:
    settings = Settings.from_env(
        "runtime", {"PORT": "9000", "REDIS_TIMEOUT": "0.5", "REDIS_KEY_PREFIX": "x"}
    )
    assert (settings.port, settings.redis_timeout, settings.redis_key_prefix) == (9000, 0.5, "x")


def test_invalid_value_stops_start_up_with_a_message() -> None:
    with pytest.raises(SystemExit, match="invalid configuration"):
        Settings.from_env("management", {"PORT": "eighty"})
