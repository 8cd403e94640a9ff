"""A stand-in for the widget bundle ``make embed`` builds, so tests do not need npm."""

from __future__ import annotations

import json
from pathlib import Path

JS_NAME = "widget-TESTHASH.js"
CSS_NAME = "widget-TESTHASH.css"


def write_stand_in_bundle(directory: Path) -> Path:
    """What ``make embed`` builds, in miniature (plus a manifest entry that must never be
    served: a path outside the bundle)."""
    (directory / JS_NAME).write_text("console.log('widget');\n")
    (directory / CSS_NAME).write_text("body { margin: 0; }\n")
    manifest = {"widget.js": JS_NAME, "widget.css": CSS_NAME, "evil.js": "../etc/passwd"}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory
