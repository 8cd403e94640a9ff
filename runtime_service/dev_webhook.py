"""``python -m runtime_service.dev_webhook``: send the runtime a LiveKit webhook signed exactly as
LiveKit signs it, for trying the conversation lifecycle without a LiveKit server.

The body is the protobuf JSON of a ``WebhookEvent``; the ``Authorization`` header is an access
token of LIVEKIT_API_KEY / LIVEKIT_API_SECRET (the services' defaults when unset) whose
``sha256`` claim is the body's hash. Prints one JSON object per event sent (the answer's status
and body) and exits 0 when every answer was 2xx, 1 otherwise (2 for a usage error).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request
from datetime import timedelta

from google.protobuf.json_format import MessageToJson
from livekit.api import AccessToken
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from common.ids import new_id
from common.settings import Settings
from common.timeutil import now_ms
from runtime_service.livekit_webhook import conversation_of

DEFAULT_URL = "http://127.0.0.1:8081/livekit/webhook"
# What each command-line event is: the LiveKit event and who it is about.
EVENTS = {
    "visitor-joined": ("participant_joined", "visitor"),
    "visitor-left": ("participant_left", "visitor"),
    "agent-joined": ("participant_joined", "agent"),
    "room-finished": ("room_finished", ""),
}


def event_body(kind: str, room: str, at: int, who: str = "", event_id: str = "") -> bytes:
    """A webhook body for ``room``: ``who`` is ``visitor`` (the token's identity, so the
    conversation's visitor), ``agent`` (a participant of kind AGENT) or empty (a room event)."""
    event = WebhookEvent(
        event=kind, id=event_id or f"EV_{new_id()}", created_at=at, room=Room(name=room)
    )
    if who:
        conversation_id = conversation_of(room) or ""
        if who == "visitor":
            identity, sid, kind_ = (
                f"visitor-{conversation_id}", "PA_visitor", ParticipantInfo.Kind.STANDARD
            )
        else:
            identity, sid, kind_ = "agent-dev", "PA_agent", ParticipantInfo.Kind.AGENT
        event.participant.CopyFrom(
            ParticipantInfo(identity=identity, sid=sid, kind=kind_, joined_at=at)
        )
    return MessageToJson(event, indent=None).encode()


def sign(body: bytes, api_key: str, api_secret: str, ttl: timedelta | None = None) -> str:
    """The Authorization header LiveKit sends with ``body``."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = AccessToken(api_key, api_secret).with_sha256(digest)
    if ttl is not None:
        token = token.with_ttl(ttl)
    return token.to_jwt()


def send(url: str, body: bytes, authorization: str, timeout: float = 10.0) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/webhook+json", "Authorization": authorization},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runtime_service.dev_webhook", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--room", required=True,
                        help="the conversation's current room (connection_details.room)")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument("events", nargs="+", choices=sorted(EVENTS), metavar="EVENT",
                        help=f"sent in this order: {', '.join(EVENTS)}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if conversation_of(args.room) is None:
        print(json.dumps({"detail": f"not a conversation's room: {args.room}"}), file=sys.stderr)
        return 2
    settings = Settings.from_env("runtime")
    failed = False
    for name in args.events:
        kind, who = EVENTS[name]
        body = event_body(kind, args.room, now_ms() // 1000, who)
        try:
            status, answer = send(
                args.url, body, sign(body, settings.livekit_api_key, settings.livekit_api_secret)
            )
        except OSError as exc:
            print(json.dumps({"event": name, "detail": str(exc)}), file=sys.stderr)
            return 1
        failed = failed or not 200 <= status < 300
        print(json.dumps({"event": name, "status": status, "answer": answer}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
