"""Auto-brand's wire objects: the request, the brand it returns, and the cached outcome.

The brand's ``config_v1`` has the shape of the widget's own ``config.v1`` (only colour keys, only
those that were found), so a client deep-merges it into the widget's config and sends one PUT.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Hex = Annotated[str, Meta(pattern=r"^#[0-9a-f]{6}$(?!\n)", description="Colour as `#rrggbb`")]
Outcome = Literal[
    "found", "not_found", "no_such_domain", "blocked", "redirect_blocked", "unreachable",
    "unusable", "timeout",
]


class AutoBrandRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    domain: Annotated[
        str,
        Meta(
            max_length=2048,
            description="Domain to look up. Protocol, `www.`, a trailing slash and any path, "
            "query or fragment are stripped; a port is kept.",
            examples=["example.com"],
        ),
    ]


class BrandColor(msgspec.Struct, kw_only=True):
    """A declared brand colour with the text colour to use on it (contrast >= 4.5:1)."""

    color: Hex
    text: Annotated[Hex, Meta(description="`#ffffff` if it reaches 4.5:1, else `#000000`")]
    source: Annotated[
        str,
        Meta(description="Where the colour was declared, e.g. `manifest.theme_color`"),
    ]


class BrandColors(msgspec.Struct, kw_only=True):
    primary: Annotated[
        BrandColor | None,
        Meta(description="The main brand colour (first chromatic colour the site declares)"),
    ] = None
    accent: Annotated[BrandColor | None, Meta(description="A second, different brand colour")] = (
        None
    )
    background: Annotated[
        BrandColor | None, Meta(description="The manifest's `background_color`")
    ] = None
    light: Annotated[
        BrandColor | None,
        Meta(description="`theme-color` declared for `(prefers-color-scheme: light)`"),
    ] = None
    dark: Annotated[
        BrandColor | None,
        Meta(description="`theme-color` declared for `(prefers-color-scheme: dark)`"),
    ] = None


class Logo(msgspec.Struct, kw_only=True):
    type: Annotated[
        Literal["logo", "icon", "image"],
        Meta(
            description="`logo` (declared as the organization's logo), `icon` (favicon, "
            "touch, mask or manifest icon) or `image` (Open Graph / Twitter card image)"
        ),
    ]
    url: str
    source: Annotated[
        str,
        Meta(
            description="e.g. `manifest`, `apple-touch-icon`, `icon`, `mask-icon`, "
            "`og:image`, `twitter:image`, `json-ld`, `favicon.ico`"
        ),
    ]
    format: Annotated[
        str | None, Meta(description="`svg`, `png`, `ico`, `jpeg`, `webp`, `gif` or `avif`")
    ] = None
    width: int | None = None
    height: int | None = None
    purpose: Annotated[
        str | None, Meta(description="Manifest icon purpose (`any`, `maskable`, `monochrome`)")
    ] = None
    color_scheme: Annotated[
        Literal["light", "dark"] | None,
        Meta(description="Set when the icon is declared for one colour scheme only"),
    ] = None


class BrandColorTokens(msgspec.Struct, kw_only=True):
    user_message: Hex
    controls_button: Hex


class BrandChatMode(msgspec.Struct, kw_only=True):
    background_color: BrandColorTokens
    text_color: BrandColorTokens


class BrandChat(msgspec.Struct, kw_only=True, omit_defaults=True):
    light_mode: BrandChatMode | None = None
    dark_mode: BrandChatMode | None = None


class BrandTrigger(msgspec.Struct, kw_only=True):
    background_color: Hex
    icon_color: Hex


class BrandConfigV1(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A fragment of `config.v1`: deep-merge it into the widget's `config.v1`. A mode is left
    out when the brand colour would not stand out on that mode's chat surface."""

    chat: BrandChat | None = None
    trigger: Annotated[
        BrandTrigger | None,
        Meta(description="Launcher colours (extension keys under `config.v1.trigger`)"),
    ] = None


class Brand(msgspec.Struct, kw_only=True):
    """Brand data resolved for a domain from what its home page and web app manifest declare."""

    domain: Annotated[str, Meta(description="The normalized domain that was looked up")]
    url: Annotated[str, Meta(description="The page the brand was read from, after redirects")]
    name: Annotated[str, Meta(description="Site name (manifest, Open Graph, title, or domain)")]
    colors: BrandColors
    logos: Annotated[list[Logo], Meta(description="Best first: logos, icons, then images")]
    config_v1: BrandConfigV1
    sources: Annotated[
        list[str],
        Meta(
            description="Which sources contributed: `manifest`, `theme-color`, `icons`, "
            "`open-graph`, `twitter`, `json-ld`, `title`, `favicon`"
        ),
    ]
    fetched_at: Annotated[str, Meta(description="When the site was read (ISO 8601 UTC)")]


class Lookup(msgspec.Struct, kw_only=True):
    """One lookup's outcome as cached in Redis (failures too, for the negative TTL)."""

    outcome: Outcome
    brand: Brand | None = None
    detail: str = ""
