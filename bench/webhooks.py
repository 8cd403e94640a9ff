"""Signed LiveKit webhooks for the webhook ingestion row: one per conversation, signed up front.

Each line of the file wrk reads is ``<body>\t<Authorization>``: the protobuf JSON of a
``participant_joined`` of the conversation's visitor (one line, no tab) and the access token
LiveKit would send with it, whose ``sha256`` claim is that body's hash. Signing is memoized, so
a conversation's line is made once however many files it appears in.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

from runtime_service.dev_webhook import event_body, sign

# Past any run: a token issued while preparing a row must not expire during it.
TOKEN_TTL = timedelta(hours=1)
_OUTCOME = re.compile(
    r'^livekit_webhooks_total\{outcome="(?P<outcome>\w+)"\} (?P<value>[0-9.e+]+)$'
)


def room_of(conversation_id: str) -> str:
    """A room of the conversation, as the start names them (ww-<id>-<8 hex>)."""
    return f"ww-{conversation_id}-0be4c400"


class WebhookLines:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self._lines: dict[str, str] = {}

    def __call__(self, conversation_id: str) -> str:
        line = self._lines.get(conversation_id)
        if line is None:
            body = event_body(
                "participant_joined", room_of(conversation_id), int(time.time()), "visitor"
            )
            token = sign(body, self.api_key, self.api_secret, TOKEN_TTL)
            line = self._lines[conversation_id] = f"{body.decode()}\t{token}"
        return line


def outcomes(metrics: str) -> dict[str, int]:
    """``livekit_webhooks_total`` by outcome, from a runtime's /metrics text."""
    found: dict[str, int] = {}
    for line in metrics.splitlines():
        match = _OUTCOME.match(line)
        if match:
            found[match["outcome"]] = int(float(match["value"]))
    return found


def not_applied(before: dict[str, int], after: dict[str, int], measured: int) -> int:
    """Of ``measured`` webhooks answered between two readings, how many changed nothing: a
    duplicate, an unknown conversation or a refused signature each means less work measured."""
    applied = after.get("applied", 0) - before.get("applied", 0)
    others = sum(after[k] - before.get(k, 0) for k in after if k != "applied")
    return others + max(0, measured - applied)
