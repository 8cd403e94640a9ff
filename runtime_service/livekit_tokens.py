"""LiveKit access tokens for one room, with the agent dispatch inside the token.

The claims are the ones livekit-api's ``AccessToken(...).with_identity(...).with_grants(
VideoGrants(room_join=True, room=...)).with_room_config(RoomConfiguration(agents=[...]))
.to_jwt()`` produces, built without its dataclass-to-dict and protobuf conversions: the header
and the HMAC key schedule are prepared once, and each token costs one msgspec encode and one
HMAC-SHA256.
"""

from __future__ import annotations

import binascii
import hashlib
import time

import msgspec


class _Video(msgspec.Struct):
    # Only the join grant for one room: no create, list, admin or recording rights.
    roomJoin: bool
    room: str
    canPublish: bool = True
    canSubscribe: bool = True
    canPublishData: bool = True


class _Dispatch(msgspec.Struct):
    agentName: str
    metadata: str


class _RoomConfig(msgspec.Struct):
    agents: list[_Dispatch]


class _Claims(msgspec.Struct, omit_defaults=True):
    video: _Video
    roomConfig: _RoomConfig | None = None
    sub: str = ""
    iss: str = ""
    nbf: int = 0
    exp: int = 0


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    # base64url without padding (RFC 7515), from binascii: base64's wrappers are two more calls.
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer hash states prepared once: per
    message, two copies and two updates, where ``hmac.HMAC`` adds four Python calls."""

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}') + b"."


class TokenMinter:
    def __init__(self, api_key: str, api_secret: str, ttl: int) -> None:
        self.api_key = api_key
        self.ttl = ttl
        self._mac = _HmacSha256(api_secret.encode())
        self._encode = msgspec.json.Encoder().encode

    def mint(
        self, identity: str, room: str, agent_name: str | None, dispatch_metadata: str
    ) -> str:
        """A token that can join only ``room`` as ``identity``; when ``agent_name`` is set, the
        room it creates dispatches that agent with ``dispatch_metadata``."""
        now = int(time.time())
        config = (
            _RoomConfig([_Dispatch(agent_name, dispatch_metadata)]) if agent_name else None
        )
        claims = _Claims(
            video=_Video(roomJoin=True, room=room), roomConfig=config,
            sub=identity, iss=self.api_key, nbf=now, exp=now + self.ttl,
        )
        signing_input = _HEADER + _b64(self._encode(claims))
        return (signing_input + b"." + _b64(self._mac.digest(signing_input))).decode()
