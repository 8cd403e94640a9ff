"""The built widget app (``static/``): read once at start-up and served from memory.

``static/manifest.json`` (written by ``web/build.mjs``) maps logical names (``widget.js``,
``widget.css``) to content-hashed file names, so each served file can be cached for ever.
When the bundle was not built (no npm on this machine) the loader still works and the iframe
page answers 503 with a hint.
"""

from __future__ import annotations

import gzip
import logging
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from common.bodies import strong_etag

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST = "manifest.json"
# Logical names the iframe page links; the bundle may add others (source maps, chunks).
REQUIRED = ("widget.js", "widget.css")
_TYPES = {".js": "application/javascript", ".css": "text/css", ".map": "application/json"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str
    # Compressed once at start-up (livekit-client makes the script ~600 KB, ~150 KB gzipped).
    gzipped: bytes
    gzip_etag: str


@dataclass(slots=True)
class EmbedAssets:
    """``names`` maps logical to served names; empty when the bundle is missing."""

    names: dict[str, str] = field(default_factory=dict)
    files: dict[str, Asset] = field(default_factory=dict)

    @property
    def built(self) -> bool:
        return all(name in self.names for name in REQUIRED)

    def url(self, logical: str) -> str:
        return "/public/embed/assets/" + self.names[logical]

    @classmethod
    def load(cls, directory: Path) -> EmbedAssets:
        try:
            manifest = msgspec.json.decode((directory / MANIFEST).read_bytes(), type=dict[str, str])
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("embed bundle not found in %s (%s): run `make embed`", directory, exc)
            return cls()
        assets = cls()
        for logical, served in manifest.items():
            path = directory / served
            # Only plain names directly in the directory: the manifest must not point elsewhere.
            if "/" in served or served.startswith(".") or not path.is_file():
                log.warning("embed manifest entry %s -> %s skipped", logical, served)
                continue
            body = path.read_bytes()
            kind = _TYPES.get(path.suffix) or mimetypes.guess_type(served)[0] or "text/plain"
            etag = strong_etag(body)
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            assets.names[logical] = served
            assets.files[served] = Asset(body, kind, etag, packed, etag[:-1] + '-gz"')
        return assets
