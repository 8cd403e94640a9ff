"""config.v1's language keys (``locale``, BCP 47; ``strings``, known keys of bounded length)
and header keys: ``agent_name`` (up to 60 characters) and ``agent_avatar`` (an https
URL or a small data:image URL), validated with a 422 naming the key, and described in the
management OpenAPI document through the model."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from common.errors import ApiError
from common.models.widget_config import (
    AVATAR_MAX_CHARS,
    MAX_STRING_CHARS,
    STRING_KEYS,
    validate_config,
)
from management_service.openapi import build_document
from tests.support.paths import ROOT

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


@pytest.mark.parametrize("locale", ["en", "pt-BR", "ar", "zh-Hant-TW", "es-419"])
def test_locales_accepted(locale: str) -> None:
    assert validate_config({"v1": {"locale": locale}}, ["c"]).locale == locale


@pytest.mark.parametrize("locale", ["", "english", "en_US", "en-", "x" * 36, 5])
def test_bad_locales_are_refused(locale: object) -> None:
    with pytest.raises(ApiError) as info:
        validate_config({"v1": {"locale": locale}}, ["c"])
    assert info.value.detail[0].loc == ["c", "v1", "locale"]  # type: ignore[union-attr]


def test_string_overrides_are_known_keys_of_bounded_length() -> None:
    v1 = validate_config({"v1": {"strings": {"start": "Let's talk", "title": "Help"}}}, ["c"])
    assert v1.strings == {"start": "Let's talk", "title": "Help"}
    for strings, loc in [
        ({"startt": "x"}, ["c", "v1", "strings", "startt"]),
        # msgspec locates a bad dict value at the dict itself.
        ({"start": ""}, ["c", "v1", "strings"]),
        ({"start": "x" * (MAX_STRING_CHARS + 1)}, ["c", "v1", "strings"]),
        ({"start": 3}, ["c", "v1", "strings"]),
        ([], ["c", "v1", "strings"]),
    ]:
        with pytest.raises(ApiError) as info:
            validate_config({"v1": {"strings": strings}}, ["c"])
        assert info.value.detail[0].loc == loc, strings  # type: ignore[union-attr]


NODE = shutil.which("node")
STRINGS_JS = ROOT / "runtime_service/embed/web/src/strings.js"


@pytest.mark.skipif(NODE is None, reason="no node executable")
def test_the_string_keys_are_the_widgets() -> None:
    script = f"import {{ STRING_KEYS }} from '{STRINGS_JS}';"
    script += "console.log(JSON.stringify(STRING_KEYS))"
    out = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script], check=True, capture_output=True, text=True
    )
    assert json.loads(out.stdout) == list(STRING_KEYS)


LOCALES_JS = STRINGS_JS.with_name("locales.js")


@pytest.mark.skipif(NODE is None, reason="no node executable")
def test_every_built_in_language_translates_every_string() -> None:
    script = f"import {{ TABLES }} from '{LOCALES_JS}';"
    script += "console.log(JSON.stringify(Object.fromEntries("
    script += "Object.entries(TABLES).map(([k, v]) => [k, Object.keys(v)]))))"
    out = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script], check=True, capture_output=True, text=True
    )
    tables = json.loads(out.stdout)
    assert sorted(tables) == ["ar", "de", "es", "fr", "it", "ja", "pt"]
    for language, keys in tables.items():
        assert sorted(keys) == sorted(STRING_KEYS), language
