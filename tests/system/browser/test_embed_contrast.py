"""The widget's automatic text colour (runtime_service/embed/web/src/contrast.js and
appearance.js's themeTokens), run under node: for any background and text colour config.v1
allows, on either theme's surface, the text the widget uses meets WCAG AA (4.5:1), checked
here by an independent Python implementation of the WCAG formula."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from tests.support.paths import ROOT

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="no node executable")
SRC = ROOT / "runtime_service/embed/web/src"
SURFACES = {"light": "#ffffff", "dark": "#111827"}


def run_js(body: str) -> object:
    script = f"import {{ readableText }} from '{SRC / 'contrast.js'}';\n"
    script += f"import {{ themeTokens, DEFAULTS }} from '{SRC / 'appearance.js'}';\n{body}"
    out = subprocess.run(
        [str(NODE), "--input-type=module", "-e", script],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def rgba(value: str) -> tuple[float, float, float, float]:
    digits = value[1:]
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits)
    parts = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    alpha = parts[3] / 255 if len(parts) == 4 else 1.0
    return parts[0], parts[1], parts[2], alpha


def over(top: tuple[float, ...], below: tuple[float, ...]) -> tuple[float, float, float]:
    a = top[3]
    return tuple(top[i] * a + below[i] * (1 - a) for i in range(3))  # type: ignore[return-value]


def luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def random_colour(rng: random.Random) -> str:
    digits = rng.choice([3, 4, 6, 8])
    return "#" + "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(digits))


def test_every_sampled_combination_reads_at_aa() -> None:
    rng = random.Random(21)
    cases = [
        [random_colour(rng), random_colour(rng), rng.choice(list(SURFACES.values()))]
        for _ in range(3000)
    ]
    # The edges: pure colours, fully transparent backgrounds and text, mid greys.
    edges = ["#000", "#fff", "#777777", "#ffff00", "#0000", "#ffffff00", "#767676", "#2563eb"]
    cases += [[bg, fg, s] for bg in edges for fg in edges for s in SURFACES.values()]
    results = run_js(
        f"const cases = {json.dumps(cases)};\n"
        "console.log(JSON.stringify(cases.map(([bg, fg, s]) => readableText(bg, fg, s))));"
    )
    assert isinstance(results, list)
    for (background, text, surface), used in zip(cases, results, strict=True):
        bg = over(rgba(background), rgba(surface))
        fg = over(rgba(used), bg)
        assert ratio(bg, fg) >= 4.5, (background, text, surface, used)
        if ratio(bg, over(rgba(text), bg)) >= 4.5:
            assert used == text, "a readable configured colour is kept"


def test_empty_tokens_use_the_defaults_which_read_at_aa() -> None:
    tokens = run_js(
        "console.log(JSON.stringify("
        "{light: themeTokens({}, 'light'), dark: themeTokens({}, 'dark')}));"
    )
    assert isinstance(tokens, dict)
    for theme, values in tokens.items():
        for prefix in ("--aw-user", "--aw-controls"):
            bg = over(rgba(values[prefix + "-bg"]), rgba(SURFACES[theme]))
            assert ratio(bg, rgba(values[prefix + "-text"])) >= 4.5, (theme, prefix)


def test_a_configured_unreadable_text_colour_is_replaced_and_its_background_kept() -> None:
    mode = {
        "background_color": {"user_message": "#ffff00", "controls_button": "#1e3a8a"},
        "text_color": {"user_message": "#ffffff", "controls_button": "#ffffff"},
    }
    tokens = run_js(f"console.log(JSON.stringify(themeTokens({json.dumps(mode)}, 'light')));")
    assert tokens == {
        "--aw-user-bg": "#ffff00",
        "--aw-user-text": "#000000",
        "--aw-controls-bg": "#1e3a8a",
        "--aw-controls-text": "#ffffff",
    }
