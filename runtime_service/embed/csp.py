"""Content-Security-Policy values of the loader and the iframe page.

Strict by default (``default-src 'none'``, no inline script or style); the iframe may also talk
to the LiveKit server and is framed only by the widget's allowed origins, which backs the
loader's client-side domain check on the server side.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

# A ws:// URL also needs its http:// twin: livekit-client validates over HTTP after a failure.
_TWINS = {"ws": "http", "wss": "https", "http": "ws", "https": "wss"}


def livekit_sources(livekit_url: str) -> list[str]:
    """The LiveKit server's origin in both schemes (``wss://h`` and ``https://h``)."""
    parts = urlsplit(livekit_url)
    scheme = parts.scheme.lower()
    if scheme not in _TWINS or not parts.netloc:
        return []
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    return [f"{scheme}://{host}", f"{_TWINS[scheme]}://{host}"]


def frame_ancestors(domains: Iterable[str]) -> str:
    """The widget's allowed origins, or ``*`` when the list is empty (any site, as documented)."""
    allowed = sorted(domains)
    return " ".join(allowed) if allowed else "*"


def frame_policy(domains: Iterable[str], livekit_url: str) -> str:
    connect = " ".join(["'self'", *livekit_sources(livekit_url)])
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"connect-src {connect}",
        "img-src 'self' data: blob:",
        # Remote audio/video tracks are attached as MediaStreams.
        "media-src 'self' blob: mediastream:",
        "font-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {frame_ancestors(domains)}",
    ])


# The loader is a script, not a document: this only matters if it is ever opened directly.
LOADER_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
