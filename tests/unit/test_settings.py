"""Settings come only from environment variables, coerced and validated once."""

from __future__ import annotations

import re

import pytest

from common.settings import Settings
from tests.support.paths import ROOT


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


def test_every_setting_is_in_the_readme_table_and_nothing_else_is() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| Variable | Default | Meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {
        name
        for row in table.splitlines()[2:]
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }
    fields = {name.upper() for name in Settings.__struct_fields__} - {"SERVICE"}
    assert documented == fields
