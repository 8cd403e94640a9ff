"""Content-Security-Policy values of the loader and the iframe page.

Strict by default (``default-src 'none'``, no inline script or style); the iframe may also talk
to the LiveKit server and is framed only by the widget's allowed origins, which backs the
loader's client-side domain check on the server side.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
# What a normalized origin looks like (common.domains): a source expression that cannot carry
# ";", "," or whitespace. Anything else read from storage (written before zone ids were refused,
# or by hand) is left out of the policy rather than copied into it.
_SAFE_SOURCE = re.compile(
    r"^(?:https?|wss?)://(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$(?!\n)"
)

# A ws:// URL also needs its http:// twin: livekit-client validates over HTTP after a failure.
_TWINS = {"ws": "http", "wss": "https", "http": "ws", "https": "wss"}


def safe_sources(sources: Iterable[str]) -> list[str]:
    """``sources`` without any value that is not a plain origin (logged, never copied)."""
    safe = []
    for source in sources:
        if _SAFE_SOURCE.match(source):
            safe.append(source)
        else:
            log.warning("left out of a Content-Security-Policy, not an origin: %r", source[:100])
    return safe


def livekit_sources(livekit_url: str) -> list[str]:
    """The LiveKit server's origin in both schemes (``wss://h`` and ``https://h``)."""
    parts = urlsplit(livekit_url)
    scheme = parts.scheme.lower()
    if scheme not in _TWINS or not parts.netloc:
        return []
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    return safe_sources([f"{scheme}://{host}", f"{_TWINS[scheme]}://{host}"])


def frame_ancestors(domains: Iterable[str]) -> str:
    """The widget's allowed origins, or ``*`` when the list is empty (any site, as documented).
    A list whose every entry is unsafe is ``'none'``, never ``*``: leaving entries out must not
    widen what may frame the widget."""
    listed = sorted(domains)
    if not listed:
        return "*"
    return " ".join(safe_sources(listed)) or "'none'"


def avatar_sources(avatar: str) -> list[str]:
    """The origin of an ``https`` avatar URL (``config.v1.agent_avatar``), for ``img-src``:
    that one origin, never ``https:`` as a whole. A ``data:`` avatar needs nothing more."""
    parts = urlsplit(avatar)
    if parts.scheme != "https" or not parts.hostname:
        return []
    port = f":{parts.port}" if parts.port else ""
    return safe_sources([f"https://{parts.hostname.lower()}{port}"])


def frame_policy(domains: Iterable[str], livekit_url: str, avatar: str = "") -> str:
    connect = " ".join(["'self'", *livekit_sources(livekit_url)])
    images = " ".join(["'self'", "data:", "blob:", *avatar_sources(avatar)])
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"connect-src {connect}",
        f"img-src {images}",
        # Remote audio/video tracks are attached as MediaStreams.
        "media-src 'self' blob: mediastream:",
        "font-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {frame_ancestors(domains)}",
    ])


# The loader is a script, not a document: this only matters if it is ever opened directly.
LOADER_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
