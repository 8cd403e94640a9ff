"""Turn what a site declares into a Brand: pick colours and logos, and build the ``config.v1``
fragment.

Colour sources, best first: the manifest's ``theme_color``, ``<meta name="theme-color">``
(unscoped, then light), the Safari ``mask-icon`` colour, ``msapplication-TileColor``, then a dark
``theme-color``. The primary colour is the first one with a visible hue (white, black and greys
make poor accents), else the first one at all. A site that declares no colour and no icon or
logo has no usable brand (``None``): a name or a share image alone cannot style a widget.
"""

from __future__ import annotations

from typing import Literal

from yarl import URL

from management_service.branding.colors import contrast_ratio, is_chromatic, readable_text
from management_service.branding.models import (
    Brand,
    BrandChat,
    BrandChatMode,
    BrandColor,
    BrandColors,
    BrandColorTokens,
    BrandConfigV1,
    BrandTrigger,
    Logo,
)
from management_service.branding.parse import ImageRef, Manifest, PageInfo

# The chat window's own surfaces: a bubble colour must stand out on them to be used for a mode.
LIGHT_SURFACE = "#ffffff"
DARK_SURFACE = "#121212"
MIN_SURFACE_CONTRAST = 1.25
MAX_LOGOS = 20
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"})
_TITLE_SEPARATORS = (" | ", " \u2013 ", " \u2014 ", " - ", " \u00b7 ", " :: ", " : ")

Candidate = tuple[str, str]  # (#rrggbb, source)


def build_brand(
    domain: str,
    page_url: URL,
    info: PageInfo,
    manifest: Manifest | None,
    favicon: ImageRef | None,
    fetched_at: str,
) -> Brand | None:
    candidates = _color_candidates(info, manifest)
    logos = _logos(info, manifest, favicon)
    if not candidates and not any(logo.type != "image" for logo in logos):
        return None
    colors = _colors(candidates, info, manifest)
    return Brand(
        domain=domain,
        url=str(page_url),
        name=_name(info, manifest, domain),
        colors=colors,
        logos=logos,
        config_v1=config_fragment(colors, candidates),
        sources=_sources(info, manifest, favicon),
        fetched_at=fetched_at,
    )


def _color_candidates(info: PageInfo, manifest: Manifest | None) -> list[Candidate]:
    found: list[Candidate] = []
    if manifest is not None and manifest.theme_color:
        found.append((manifest.theme_color, "manifest.theme_color"))
    found += [(t.color, "theme-color") for t in info.theme_colors if t.scheme is None]
    found += [(t.color, "theme-color (light)") for t in info.theme_colors if t.scheme == "light"]
    if info.mask_icon_color:
        found.append((info.mask_icon_color, "mask-icon"))
    if info.tile_color:
        found.append((info.tile_color, "msapplication-TileColor"))
    found += [(t.color, "theme-color (dark)") for t in info.theme_colors if t.scheme == "dark"]
    return found


def _brand_color(candidate: Candidate | None) -> BrandColor | None:
    if candidate is None:
        return None
    color, source = candidate
    return BrandColor(color=color, text=readable_text(color), source=source)


def _distinct(a: str, b: str) -> bool:
    return sum(abs(int(a[i : i + 2], 16) - int(b[i : i + 2], 16)) for i in (1, 3, 5)) > 48


def _colors(candidates: list[Candidate], info: PageInfo, manifest: Manifest | None) -> BrandColors:
    chromatic = [c for c in candidates if is_chromatic(c[0])]
    primary = chromatic[0] if chromatic else (candidates[0] if candidates else None)
    accent = next(
        (c for c in chromatic if primary is not None and _distinct(c[0], primary[0])), None
    )
    background = None
    if manifest is not None and manifest.background_color:
        background = (manifest.background_color, "manifest.background_color")
    light = next((t for t in info.theme_colors if t.scheme == "light"), None)
    dark = next((t for t in info.theme_colors if t.scheme == "dark"), None)
    return BrandColors(
        primary=_brand_color(primary),
        accent=_brand_color(accent),
        background=_brand_color(background),
        light=_brand_color((light.color, "theme-color (light)") if light else None),
        dark=_brand_color((dark.color, "theme-color (dark)") if dark else None),
    )


def _stands_out(color: str, surface: str) -> bool:
    return contrast_ratio(color, surface) >= MIN_SURFACE_CONTRAST


def _mode(
    order: list[BrandColor | None], accent: BrandColor | None, surface: str, rest: list[Candidate]
) -> BrandChatMode | None:
    colors = [c.color for c in order if c is not None] + [c for c, _ in rest]
    bubble = next((c for c in colors if _stands_out(c, surface)), None)
    if bubble is None:
        return None
    controls = accent.color if accent and _stands_out(accent.color, surface) else bubble
    return BrandChatMode(
        background_color=BrandColorTokens(user_message=bubble, controls_button=controls),
        text_color=BrandColorTokens(
            user_message=readable_text(bubble), controls_button=readable_text(controls)
        ),
    )


def config_fragment(colors: BrandColors, candidates: list[Candidate]) -> BrandConfigV1:
    """Chat colours per mode (the mode's declared variant first, then the primary, accent and
    the other candidates), each only if it stands out on that mode's surface; launcher colours
    from the light-mode bubble (the launcher sits on the host page), else the primary."""
    primary = colors.primary
    if primary is None:
        return BrandConfigV1()
    light = _mode([colors.light, primary, colors.accent], colors.accent, LIGHT_SURFACE, candidates)
    dark = _mode([colors.dark, primary, colors.accent], colors.accent, DARK_SURFACE, candidates)
    launcher = light.background_color.user_message if light else primary.color
    return BrandConfigV1(
        chat=BrandChat(light_mode=light, dark_mode=dark) if light or dark else None,
        trigger=BrandTrigger(background_color=launcher, icon_color=readable_text(launcher)),
    )


def _logo(ref: ImageRef, type_: Literal["logo", "icon", "image"]) -> Logo:
    return Logo(
        type=type_,
        url=ref.url,
        source=ref.source,
        format=ref.format,
        width=ref.width,
        height=ref.height,
        purpose=ref.purpose,
        color_scheme=ref.scheme,
    )


def _icon_rank(ref: ImageRef) -> tuple[int, int]:
    """Full-colour icons before mask/monochrome ones; SVG (scales) first, then the largest."""
    silhouette = ref.source == "mask-icon" or (ref.purpose or "") == "monochrome"
    area = (ref.width or 0) * (ref.height or 0)
    return (2 if silhouette else 0 if ref.format == "svg" else 1, -area)


def _logos(info: PageInfo, manifest: Manifest | None, favicon: ImageRef | None) -> list[Logo]:
    icons = list(info.icons) + (manifest.icons if manifest else []) + ([favicon] if favicon else [])
    ordered = (
        [_logo(ref, "logo") for ref in info.logos]
        + [_logo(ref, "icon") for ref in sorted(icons, key=_icon_rank)]
        + [_logo(ref, "image") for ref in info.images]
    )
    seen: set[str] = set()
    unique = []
    for logo in ordered:
        if logo.url not in seen:
            seen.add(logo.url)
            unique.append(logo)
    return unique[:MAX_LOGOS]


def _name(info: PageInfo, manifest: Manifest | None, domain: str) -> str:
    names = info.site_names
    for candidate in (
        manifest.name if manifest else None,
        manifest.short_name if manifest else None,
        names.get("og:site_name"),
        names.get("application-name"),
        names.get("apple-mobile-web-app-title"),
        info.organization_name,
        _name_from_title(info.title, domain),
    ):
        if candidate:
            return candidate
    return domain


def _name_from_title(title: str | None, domain: str) -> str | None:
    """The part of ``Home | Acme`` that names the site: the one containing the domain's main
    label, else the first."""
    if not title:
        return None
    parts = [title]
    for separator in _TITLE_SEPARATORS:
        parts = [piece.strip() for part in parts for piece in part.split(separator)]
    parts = [p for p in parts if p]
    labels = domain.rsplit(":", 1)[0].split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL:
        labels = labels[:-1]  # bbc.co.uk -> bbc
    label = labels[-2].replace("-", "") if len(labels) >= 2 else ""
    match = None
    if label.isalpha():
        match = next((p for p in parts if label in p.lower().replace(" ", "")), None)
    return match or (parts[0] if parts else None)


def _sources(info: PageInfo, manifest: Manifest | None, favicon: ImageRef | None) -> list[str]:
    used = {
        "manifest": manifest is not None,
        "theme-color": bool(info.theme_colors or info.tile_color),
        "icons": bool(info.icons),
        "open-graph": any(r.source.startswith("og:") for r in info.images + info.logos)
        or "og:site_name" in info.site_names,
        "twitter": any(r.source == "twitter:image" for r in info.images),
        "json-ld": any(r.source == "json-ld" for r in info.logos)
        or info.organization_name is not None,
        "title": info.title is not None,
        "favicon": favicon is not None,
    }
    return [name for name, present in used.items() if present]
