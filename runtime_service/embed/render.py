"""The loader script and the iframe page, rendered from templates beside this module."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any

import msgspec

from common.bodies import strong_etag
from common.errors import ApiError
from common.models.widget_config import ConfigV1, validate_config
from runtime_service.embed.assets import EmbedAssets
from runtime_service.public_widget import PublicWidget

_HERE = Path(__file__).resolve().parent
LOADER_TEMPLATE = (_HERE / "loader.js").read_text(encoding="utf-8")
FRAME_TEMPLATE = (_HERE / "frame.html").read_text(encoding="utf-8")
_PLACEHOLDER = "/*@CONFIG@*/ null"
assert _PLACEHOLDER in LOADER_TEMPLATE
# Part of every ETag: a new release changes the templates, and cached copies must not survive.
TEMPLATES_HASH = hashlib.sha256((LOADER_TEMPLATE + FRAME_TEMPLATE).encode()).hexdigest()


class _Stored(msgspec.Struct):
    config: dict[str, Any] = {}


_STORED = msgspec.json.Decoder(_Stored)


def config_v1(widget: PublicWidget) -> ConfigV1:
    """The widget's parsed ``config.v1``; defaults if a stored config no longer validates."""
    try:
        return validate_config(_STORED.decode(widget.body).config, ["config"])
    except ApiError:
        return ConfigV1()


def etag_of(*parts: str) -> str:
    return strong_etag("\n".join(parts).encode())


def loader_etag(widget: PublicWidget, base: str) -> str:
    return etag_of(TEMPLATES_HASH, widget.etag, base)


def render_loader(widget: PublicWidget, base: str) -> bytes:
    trigger = config_v1(widget).trigger
    config = {
        "widgetId": widget.id,
        "domains": sorted(widget.domains),
        "position": trigger.position,
        "size": trigger.size,
        # The launcher's distance from the page's edges (the iframe's corner).
        "padding": 16 if trigger.padding is None else trigger.padding,
        "base": base,
    }
    # JSON is valid JavaScript; "<" is escaped so the text is inert even if misread as HTML.
    data = msgspec.json.encode(config).decode().replace("<", "\\u003c")
    return LOADER_TEMPLATE.replace(_PLACEHOLDER, data, 1).encode()


def frame_etag(widget: PublicWidget, assets: EmbedAssets, policy: str) -> str:
    names = ",".join(f"{k}={v}" for k, v in sorted(assets.names.items()))
    return etag_of(TEMPLATES_HASH, widget.id, names, policy)


def render_frame(widget: PublicWidget, assets: EmbedAssets) -> bytes:
    page = (
        FRAME_TEMPLATE.replace("@CSS@", html.escape(assets.url("widget.css")))
        .replace("@JS@", html.escape(assets.url("widget.js")))
        .replace("@WIDGET_ID@", html.escape(widget.id))
    )
    return page.encode()
