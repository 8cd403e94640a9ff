"""config.v1's header keys: ``agent_name`` (up to 60 characters) and ``agent_avatar`` (an https
URL or a small data:image URL), validated with a 422 naming the key, and described in the
management OpenAPI document through the model."""

from __future__ import annotations

import pytest

from common.errors import ApiError
from common.models.widget_config import AVATAR_MAX_CHARS, validate_config
from management_service.openapi import build_document

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


@pytest.mark.parametrize(
    "avatar",
    ["", "https://cdn.example.com/a.png", "https://x.io", "https://x.io:8443/p?q=1#f", PNG,
     "data:image/jpeg;base64,/9j/4AAQ", "data:image/webp;base64,UklGR==",
     "data:image/gif;base64,R0lGOD"],
)  # fmt: skip
def test_avatars_accepted(avatar: str) -> None:
    assert validate_config({"v1": {"agent_avatar": avatar}}, ["config"]).agent_avatar == avatar


@pytest.mark.parametrize(
    "avatar",
    ["http://x.io/a.png", "javascript:alert(1)", "data:image/svg+xml;base64,PHN2Zz4=",
     "data:text/html;base64,PGI+", "data:image/png,rawbytes", "https://x.io/a b",
     'https://x.io/"onerror', "https://user@x.io/a.png", "https://x.io/a.png\n", "//x.io/a.png",
     "data:image/png;base64," + "A" * AVATAR_MAX_CHARS],
)  # fmt: skip
def test_avatars_refused_with_a_422_on_the_key(avatar: str) -> None:
    with pytest.raises(ApiError) as info:
        validate_config({"v1": {"agent_avatar": avatar}}, ["config"])
    assert info.value.status == 422
    assert info.value.detail[0].loc == ["config", "v1", "agent_avatar"]  # type: ignore[union-attr]


def test_agent_name_is_at_most_60_characters() -> None:
    assert validate_config({"v1": {"agent_name": "é" * 60}}, ["c"]).agent_name == "é" * 60
    with pytest.raises(ApiError) as info:
        validate_config({"v1": {"agent_name": "x" * 61}}, ["c"])
    assert info.value.detail[0].loc == ["c", "v1", "agent_name"]  # type: ignore[union-attr]


def test_the_management_openapi_document_describes_them() -> None:
    schema = build_document()["components"]["schemas"]["ConfigV1"]["properties"]
    assert schema["agent_name"]["maxLength"] == 60
    assert schema["agent_avatar"]["maxLength"] == AVATAR_MAX_CHARS
    assert "https" in schema["agent_avatar"]["pattern"]
