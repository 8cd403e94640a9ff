"""What the runtime's tests share: the app client and a stand-in widget bundle (the published
agent version and widget fixtures are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime_service.embed import assets as embed_assets
from tests.support.bundle import write_stand_in_bundle


@pytest.fixture
def client(runtime_client: Any) -> Any:
    return runtime_client


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in bundle, so these tests do not need npm. Request it before the client (e.g.
    ``pytestmark = pytest.mark.usefixtures("bundle")``): the app reads it at start-up."""
    monkeypatch.setattr(embed_assets, "STATIC_DIR", write_stand_in_bundle(tmp_path))
    return tmp_path
