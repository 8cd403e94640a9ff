"""CSS colour parsing to #rrggbb, WCAG contrast, and contrast-safe text colours."""

from __future__ import annotations

import itertools

import pytest

from management_service.branding.colors import (
    BLACK,
    MIN_TEXT_CONTRAST,
    WHITE,
    contrast_ratio,
    is_chromatic,
    parse_color,
    readable_text,
    relative_luminance,
)
from management_service.branding.named_colors import NAMED_COLORS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1A73E8", "#1a73e8"),
        ("  #abc ", "#aabbcc"),
        ("#abcd", "#aabbcc"),
        ("#11223344", "#112233"),
        ("rgb(26, 115, 232)", "#1a73e8"),
        ("rgba(26,115,232,0.5)", "#1a73e8"),
        ("rgb(26 115 232 / 50%)", "#1a73e8"),
        ("rgb(100%, 0%, 0%)", "#ff0000"),
        ("rgb(300, -5, 0)", "#ff0000"),
        ("hsl(120, 100%, 25%)", "#008000"),
        ("hsl(0.5turn 100% 50%)", "#00ffff"),
        ("hsla(240deg, 100%, 50%, 1)", "#0000ff"),
        ("RebeccaPurple", "#663399"),
        ("white", "#ffffff"),
    ],
)
def test_colours_are_normalized(text: str, expected: str) -> None:
    assert parse_color(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None, "", "transparent", "#12345", "#ggg", "currentColor", "var(--brand)",
        "rgb(1, 2)", "rgb(1 2 3 4)", "rgba(0, 0, 0, 0)", "#ff000000", "rgb(0 0 0 / 0%)",
        "hsl(10px, 50%, 50%)", "color-mix(in srgb, red, blue)", "#" + "f" * 200,
    ],
)  # fmt: skip
def test_non_colours_and_transparent_parse_to_none(text: str | None) -> None:
    assert parse_color(text) is None


def test_named_colour_table_is_complete() -> None:
    assert len(NAMED_COLORS) == 148
    assert all(parse_color(value) == value for value in NAMED_COLORS.values())


def test_contrast_ratio_matches_wcag_reference_values() -> None:
    assert contrast_ratio(WHITE, BLACK) == pytest.approx(21.0)
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast_ratio("#777777", WHITE) == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#767676", WHITE) == pytest.approx(4.54, abs=0.01)
    assert relative_luminance(WHITE) == pytest.approx(1.0)
    assert relative_luminance(BLACK) == 0.0


def test_text_colour_reaches_aa_contrast_on_every_background() -> None:
    # Every 12-bit colour plus every named one: the worst case lies in there.
    steps = "0123456789abcdef"
    backgrounds = [f"#{r * 2}{g * 2}{b * 2}" for r, g, b in itertools.product(steps, repeat=3)]
    backgrounds += [*list(NAMED_COLORS.values()), "#757575", "#767676", "#777777", "#808080"]
    worst = min(contrast_ratio(bg, readable_text(bg)) for bg in backgrounds)
    assert worst >= MIN_TEXT_CONTRAST


def test_white_text_is_preferred_when_it_is_readable() -> None:
    assert readable_text("#1a73e8") == WHITE  # 4.52:1 with white
    assert readable_text("#ff5722") == BLACK  # white would be 3.2:1
    assert readable_text(WHITE) == BLACK
    assert readable_text(BLACK) == WHITE


@pytest.mark.parametrize(
    ("color", "chromatic"),
    [("#1a73e8", True), ("#ff5722", True), ("#ffffff", False), ("#000000", False),
     ("#808080", False), ("#fafafa", False), ("#0a141e", False)],
)  # fmt: skip
def test_chromatic_colours_are_told_from_neutrals(color: str, chromatic: bool) -> None:
    assert is_chromatic(color) is chromatic
