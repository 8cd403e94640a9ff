"""The format of management credentials, ``<ak|pat>_<id>.<secret>``, shared by management (which
verifies them) and the runtime (which refuses them: they never belong in browser code)."""

from __future__ import annotations

import re

TOKEN = re.compile(
    r"^(?P<kind>ak|pat)_(?P<id>[0-9a-f]{32})\.(?P<secret>[A-Za-z0-9_-]{20,128})$(?!\n)"
)
# Only the kind and id of a token that is not well formed past them: never the secret.
_PREFIX = re.compile(r"^(?P<kind>ak|pat)_(?P<id>[0-9a-f]{32})?")


def parse_token(token: str) -> tuple[str, str, str] | None:
    """``(kind, id, secret)`` of a well-formed token, else ``None``."""
    match = TOKEN.fullmatch(token)
    return (match["kind"], match["id"], match["secret"]) if match else None


def credential_name(token: str) -> str | None:
    """``ak_<id>`` / ``pat_<id>`` of a credential-looking token (``ak_?`` when its id cannot be
    read), for a log line: the secret is never part of it. None when it is no such token."""
    match = _PREFIX.match(token)
    if match is None:
        return None
    return f"{match['kind']}_{match['id'] or '?'}"
