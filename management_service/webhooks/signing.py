"""Standard Webhooks signatures: ``v1,<Base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with
the Base64-decoded secret after ``whsec_``, one per active secret, space separated, so a
receiver holding either the old or the new secret verifies during a rotation's overlap."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from common.models.webhooks import SigningSecret

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def active_secrets(secrets: Iterable[SigningSecret], now_ms: int) -> list[str]:
    """Secrets still signing at ``now_ms``: a rotated-out one until its ``expires_ms``."""
    return [s.secret for s in secrets if s.expires_ms is None or s.expires_ms > now_ms]


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(signature(secret_key(s), msg_id, timestamp, body) for s in secrets)


def headers(
    secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }
