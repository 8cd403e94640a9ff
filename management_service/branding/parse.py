"""What a home page and its web app manifest declare about the brand.

HTML is parsed with selectolax's Lexbor backend: a spec-compliant HTML5 parser written in C, many
times faster than BeautifulSoup or html5lib, with small wheels and regular releases. Only ``<head>``
metadata (plus JSON-LD, which sites also put in ``<body>``) is read.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import msgspec
from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from management_service.branding.colors import parse_color

Scheme = Literal["light", "dark"]
MAX_URL = 2048
MAX_TEXT = 200
_MAX_JSON_LD = 256 * 1024
_MAX_NODES = 2000
_SCHEME = re.compile(r"prefers-color-scheme\s*:\s*(light|dark)")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$(?!\n)")
_ICON_RELS = ("apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon", "icon")
_ORG_TYPES = frozenset(
    {"organization", "corporation", "brand", "localbusiness", "store", "onlinestore", "ngo"}
)
_FORMATS = {
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/x-icon": "ico",
    "image/vnd.microsoft.icon": "ico",
    "image/ico": "ico",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/avif": "avif",
}
_EXTENSIONS = {
    "svg": "svg",
    "png": "png",
    "ico": "ico",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "webp": "webp",
    "gif": "gif",
    "avif": "avif",
}


@dataclass(frozen=True)
class ImageRef:
    url: str
    source: str  # the rel or property it was declared with
    format: str | None = None
    width: int | None = None
    height: int | None = None
    purpose: str | None = None
    scheme: Scheme | None = None


@dataclass(frozen=True)
class ThemeColor:
    color: str
    scheme: Scheme | None


@dataclass
class PageInfo:
    title: str | None = None
    site_names: dict[str, str] = field(default_factory=dict)  # og:site_name, application-name..
    theme_colors: list[ThemeColor] = field(default_factory=list)
    mask_icon_color: str | None = None
    tile_color: str | None = None
    icons: list[ImageRef] = field(default_factory=list)
    logos: list[ImageRef] = field(default_factory=list)  # og:logo, JSON-LD organization logo
    images: list[ImageRef] = field(default_factory=list)  # og:image, twitter:image
    manifest_url: URL | None = None
    organization_name: str | None = None
    head_complete: bool = True


@dataclass
class Manifest:
    name: str | None = None
    short_name: str | None = None
    theme_color: str | None = None
    background_color: str | None = None
    icons: list[ImageRef] = field(default_factory=list)


def decode_html(body: bytes, charset: str | None) -> str:
    """Header charset, else a ``<meta charset>`` in the first 1 KiB, else UTF-8."""
    for candidate in (charset, _sniffed_charset(body)):
        if candidate:
            try:
                return body.decode(codecs.lookup(candidate).name, errors="replace")
            except LookupError:
                continue
    return body.decode("utf-8", errors="replace")


def _sniffed_charset(body: bytes) -> str | None:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    match = _META_CHARSET.search(body[:1024])
    return match.group(1).decode("ascii") if match else None


def parse_page(html: str, page_url: URL, truncated: bool = False) -> PageInfo:
    tree = LexborHTMLParser(html)
    info = PageInfo()
    lowered = html.lower()
    # A cut body still carries a complete <head> when the parser got past it.
    info.head_complete = not truncated or "</head" in lowered or "<body" in lowered
    base = _base_url(tree, page_url)
    if (title := tree.css_first("title")) is not None:
        info.title = clean_text(title.text())
    for node in tree.css("meta"):
        _read_meta(node, base, info)
    for node in tree.css("link[rel]"):
        _read_link(node, base, info)
    for node in tree.css("script"):
        if _attr(node, "type").lower() == "application/ld+json":
            _read_json_ld(node.text() or "", base, info)
    return info


def _base_url(tree: LexborHTMLParser, page_url: URL) -> URL:
    node = tree.css_first("base[href]")
    base = resolve(page_url, _attr(node, "href")) if node is not None else None
    return URL(base) if base else page_url


def _read_meta(node: LexborNode, base: URL, info: PageInfo) -> None:
    key = (_attr(node, "name") or _attr(node, "property")).strip().lower()
    content = _attr(node, "content").strip()
    if not key or not content:
        return
    if key == "theme-color":
        if color := parse_color(content):
            info.theme_colors.append(ThemeColor(color, _scheme(_attr(node, "media"))))
    elif key == "msapplication-tilecolor":
        info.tile_color = info.tile_color or parse_color(content)
    elif key in ("og:site_name", "application-name", "apple-mobile-web-app-title"):
        if text := clean_text(content):
            info.site_names.setdefault(key, text)
    elif key in (
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "twitter:image",
        "twitter:image:src",
    ):
        source = "twitter:image" if key.startswith("twitter") else "og:image"
        if url := resolve(base, content):
            info.images.append(ImageRef(url, source, image_format(None, url)))
    elif key in ("og:image:width", "og:image:height", "og:image:type"):
        _annotate_og_image(info, key, content)
    elif key == "og:logo" and (url := resolve(base, content)):
        info.logos.append(ImageRef(url, "og:logo", image_format(None, url)))


def _annotate_og_image(info: PageInfo, key: str, content: str) -> None:
    """``og:image:*`` properties describe the ``og:image`` declared just before them."""
    if not info.images or info.images[-1].source != "og:image":
        return
    last = info.images[-1]
    if key == "og:image:type":
        updated = replace(last, format=_FORMATS.get(content.lower(), last.format))
    elif content.isdigit() and len(content) <= 5 and key == "og:image:width":
        updated = replace(last, width=int(content))
    elif content.isdigit() and len(content) <= 5:
        updated = replace(last, height=int(content))
    else:
        return
    info.images[-1] = updated


def _read_link(node: LexborNode, base: URL, info: PageInfo) -> None:
    rels = _attr(node, "rel").lower().split()
    href = _attr(node, "href").strip()
    if not href:
        return
    if "manifest" in rels:
        if info.manifest_url is None and (url := resolve(base, href)):
            info.manifest_url = URL(url)
        return
    rel = next((r for r in _ICON_RELS if r in rels), None)
    if rel is None or not (url := resolve(base, href)):
        return
    width, height = parse_sizes(_attr(node, "sizes"))
    if rel.startswith("apple-touch-icon"):
        rel = "apple-touch-icon"
        if width is None:
            width = height = 180  # what iOS assumes for an unsized touch icon
    fmt = image_format(_attr(node, "type"), url)
    if rel == "mask-icon":
        fmt = fmt or "svg"
        info.mask_icon_color = info.mask_icon_color or parse_color(_attr(node, "color"))
    scheme = _scheme(_attr(node, "media"))
    info.icons.append(ImageRef(url, rel, fmt, width, height, scheme=scheme))


def _read_json_ld(text: str, base: URL, info: PageInfo) -> None:
    if len(text) > _MAX_JSON_LD:
        return
    try:
        data = msgspec.json.decode(text.strip().encode())
    except msgspec.DecodeError:
        return
    stack: list[Any] = [data]
    seen = 0
    while stack and seen < _MAX_NODES:
        item = stack.pop()
        seen += 1
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            if _is_organization(item.get("@type")):
                _read_organization(item, base, info)
            stack.extend(
                v
                for k, v in item.items()
                if k in ("@graph", "publisher", "brand", "author", "mainEntity")
            )


def _is_organization(value: Any) -> bool:
    types = value if isinstance(value, list) else [value]
    return any(
        isinstance(t, str) and (t.lower() in _ORG_TYPES or t.lower().endswith("organization"))
        for t in types
    )


def _read_organization(item: dict[str, Any], base: URL, info: PageInfo) -> None:
    name = item.get("name")
    if isinstance(name, str) and info.organization_name is None:
        info.organization_name = clean_text(name)
    logo = item.get("logo")
    if isinstance(logo, list) and logo:
        logo = logo[0]
    if isinstance(logo, dict):
        logo = logo.get("url") or logo.get("contentUrl")
    if isinstance(logo, str) and (url := resolve(base, logo)):
        info.logos.append(ImageRef(url, "json-ld", image_format(None, url)))


def parse_manifest(body: bytes, manifest_url: URL) -> Manifest | None:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(data, dict):
        return None
    manifest = Manifest(
        name=_text(data.get("name")),
        short_name=_text(data.get("short_name")),
        theme_color=parse_color(_str(data.get("theme_color"))),
        background_color=parse_color(_str(data.get("background_color"))),
    )
    icons = data.get("icons")
    for icon in icons if isinstance(icons, list) else []:
        if not isinstance(icon, dict) or not (url := resolve(manifest_url, _str(icon.get("src")))):
            continue
        width, height = parse_sizes(_str(icon.get("sizes")))
        purpose = " ".join(_str(icon.get("purpose")).lower().split()) or None
        fmt = image_format(_str(icon.get("type")), url)
        manifest.icons.append(ImageRef(url, "manifest", fmt, width, height, purpose))
    return manifest


def parse_sizes(sizes: str) -> tuple[int | None, int | None]:
    """The largest ``WxH`` of a ``sizes`` list (``any`` and garbage count as unknown)."""
    best: tuple[int, int] | None = None
    for token in sizes.lower().split():
        if (match := _SIZE.match(token)) is not None:
            size = (int(match.group(1)), int(match.group(2)))
            if best is None or size[0] * size[1] > best[0] * best[1]:
                best = size
    return best if best is not None else (None, None)


def resolve(base: URL, href: str) -> str | None:
    """An absolute http(s) URL for ``href`` (``data:`` and other schemes are dropped)."""
    href = href.strip()
    if not href or len(href) > MAX_URL:
        return None
    try:
        url = base.join(URL(href))
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    text = str(url)
    return text if len(text) <= MAX_URL else None


def clean_text(text: str | None) -> str | None:
    cleaned = " ".join((text or "").split())
    return cleaned[:MAX_TEXT] or None


def _text(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _attr(node: LexborNode | None, name: str) -> str:
    if node is None:
        return ""
    value = node.attributes.get(name)
    return value if isinstance(value, str) else ""


def _scheme(media: str) -> Scheme | None:
    match = _SCHEME.search(media.lower())
    if match is None:
        return None
    return "dark" if match.group(1) == "dark" else "light"


def image_format(mime: str | None, url: str) -> str | None:
    if mime and (fmt := _FORMATS.get(mime.strip().lower())):
        return fmt
    extension = URL(url).path.rsplit(".", 1)[-1].lower() if "." in URL(url).path else ""
    return _EXTENSIONS.get(extension)
