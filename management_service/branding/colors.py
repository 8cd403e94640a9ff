"""CSS colours: parsing to ``#rrggbb``, WCAG 2 contrast, and readable text colours.

Accepted: ``#rgb``, ``#rgba``, ``#rrggbb``, ``#rrggbbaa``, ``rgb()``/``rgba()`` and
``hsl()``/``hsla()`` (comma or space syntax, numbers or percentages, optional alpha), and the
148 named colours. Alpha is dropped, except that a fully transparent colour is no colour at all.
Anything else (``currentColor``, ``var(...)``, ``color-mix(...)``, garbage) parses to ``None``.
"""

from __future__ import annotations

import colorsys
import re

from management_service.branding.named_colors import NAMED_COLORS

WHITE = "#ffffff"
BLACK = "#000000"
# WCAG 2.x AA for normal text.
MIN_TEXT_CONTRAST = 4.5

_HEX = re.compile(r"^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$(?!\n)")
_FUNC = re.compile(r"^(rgba?|hsla?)\((.*)\)$(?!\n)", re.DOTALL)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?(%|deg|turn|rad|grad)?$(?!\n)")


def parse_color(text: str | None) -> str | None:
    """``#rrggbb`` for a CSS colour, or ``None`` when it is not one (or is transparent)."""
    if not text:
        return None
    value = text.strip().lower()
    if len(value) > 100:
        return None
    if value in NAMED_COLORS:
        return NAMED_COLORS[value]
    if match := _HEX.match(value):
        return _from_hex(match.group(1))
    if match := _FUNC.match(value):
        return _from_function(match.group(1), match.group(2))
    return None


def _from_hex(digits: str) -> str | None:
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 8 and digits[6:] == "00":
        return None
    return "#" + digits[:6]


def _split_args(args: str) -> tuple[list[str], str | None] | None:
    """Modern ``a b c / alpha`` or legacy ``a, b, c[, alpha]`` -> (three parts, alpha)."""
    if "," in args:
        parts = [p.strip() for p in args.split(",")]
        if len(parts) not in (3, 4):
            return None
        return parts[:3], parts[3] if len(parts) == 4 else None
    main, _, alpha = args.partition("/")
    parts = main.split()
    if len(parts) != 3:
        return None
    return parts, alpha.strip() or None


def _number(token: str) -> tuple[float, str] | None:
    match = _NUMBER.match(token)
    if match is None:
        return None
    unit = match.group(4) or ""
    return float(token[: len(token) - len(unit)]), unit


def _from_function(name: str, args: str) -> str | None:
    split = _split_args(args)
    if split is None:
        return None
    parts, alpha = split
    if alpha is not None:
        parsed_alpha = _number(alpha)
        if parsed_alpha is None:
            return None
        amount, unit = parsed_alpha
        if (amount / 100 if unit == "%" else amount) <= 0:
            return None
    if name.startswith("rgb"):
        channels = [_rgb_channel(p) for p in parts]
        if any(c is None for c in channels):
            return None
        return _hex_of([c for c in channels if c is not None])
    return _from_hsl(parts)


def _rgb_channel(token: str) -> float | None:
    parsed = _number(token)
    if parsed is None or parsed[1] not in ("", "%"):
        return None
    amount, unit = parsed
    value = amount / 100 if unit == "%" else amount / 255
    return min(1.0, max(0.0, value))


def _from_hsl(parts: list[str]) -> str | None:
    hue = _number(parts[0])
    sat, light = _number(parts[1]), _number(parts[2])
    if hue is None or sat is None or light is None:
        return None
    degrees = {"": 1.0, "deg": 1.0, "turn": 360.0, "grad": 0.9, "rad": 57.29577951308232}
    if hue[1] not in degrees or sat[1] not in ("", "%") or light[1] not in ("", "%"):
        return None
    h = (hue[0] * degrees[hue[1]]) % 360 / 360
    s = min(1.0, max(0.0, sat[0] / 100))
    lum = min(1.0, max(0.0, light[0] / 100))
    return _hex_of(list(colorsys.hls_to_rgb(h, lum, s)))


def _hex_of(channels: list[float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in channels)


def _rgb(color: str) -> tuple[float, float, float]:
    return (int(color[1:3], 16) / 255, int(color[3:5], 16) / 255, int(color[5:7], 16) / 255)


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio, from 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_text(background: str) -> str:
    """White when it reaches 4.5:1 (what brand buttons usually use), else black, which then
    always does: one of the two reaches at least 4.58:1 on any colour (the worst case is the
    mid-luminance background where both ratios are equal)."""
    if contrast_ratio(background, WHITE) >= MIN_TEXT_CONTRAST:
        return WHITE
    return BLACK


def is_chromatic(color: str) -> bool:
    """A colour with a visible hue: not white, black or a grey (those make poor accents)."""
    hue_lightness_saturation = colorsys.rgb_to_hls(*_rgb(color))
    lightness, saturation = hue_lightness_saturation[1], hue_lightness_saturation[2]
    return saturation >= 0.2 and 0.08 <= lightness <= 0.94
