"""The runtime's own LiveKit tokens: verified by livekit-api's TokenVerifier and carrying the same
claims livekit-api's AccessToken produces for the same inputs."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json

import jwt
import pytest
from livekit import api

from runtime_service.livekit_tokens import TokenMinter, _HmacSha256

KEY, SECRET = "APIkey123", "secret-" + "s" * 40
METADATA = json.dumps({"conversation_id": "c1"})


def reference_token(agent_name: str | None, ttl: int) -> str:
    token = (
        api.AccessToken(KEY, SECRET)
        .with_identity("visitor-c1")
        .with_ttl(datetime.timedelta(seconds=ttl))
        .with_grants(api.VideoGrants(room_join=True, room="ww-c1-ab"))
    )
    if agent_name:
        token = token.with_room_config(api.RoomConfiguration(
            agents=[api.RoomAgentDispatch(agent_name=agent_name, metadata=METADATA)]
        ))
    return token.to_jwt()


def payload(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("agent_name", ["support-agent", None])
def test_same_claims_as_livekit_api(agent_name: str | None) -> None:
    ours = TokenMinter(KEY, SECRET, 900).mint("visitor-c1", "ww-c1-ab", agent_name, METADATA)
    theirs = reference_token(agent_name, 900)
    mine, reference = payload(ours), payload(theirs)
    # Issued within the same second or two; everything else is identical.
    assert abs(mine.pop("nbf") - reference.pop("nbf")) <= 1
    assert abs(mine.pop("exp") - reference.pop("exp")) <= 1
    assert mine == reference
    assert jwt.get_unverified_header(ours) == jwt.get_unverified_header(theirs)


def test_verifies_with_livekit_api_and_grants_only_the_room() -> None:
    token = TokenMinter(KEY, SECRET, 900).mint("visitor-c1", "ww-c1-ab", "agent", METADATA)
    claims = api.TokenVerifier(KEY, SECRET).verify(token)
    assert claims.identity == "visitor-c1"
    assert claims.video == api.VideoGrants(room_join=True, room="ww-c1-ab")
    assert claims.room_config.agents[0].agent_name == "agent"
    assert json.loads(claims.room_config.agents[0].metadata) == {"conversation_id": "c1"}
    raw = payload(token)
    assert raw["exp"] - raw["nbf"] == 900
    assert raw["iss"] == KEY


def test_wrong_secret_or_expired_token_is_refused() -> None:
    token = TokenMinter(KEY, SECRET, 900).mint("visitor-c1", "room", None, "{}")
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(KEY, "another-secret-" + "x" * 30).verify(token)
    expired = TokenMinter(KEY, SECRET, -120).mint("visitor-c1", "room", None, "{}")
    with pytest.raises(jwt.ExpiredSignatureError):
        api.TokenVerifier(KEY, SECRET).verify(expired)


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
def test_hmac_matches_the_standard_library_for_every_key_length(key_length: int) -> None:
    # Keys longer than SHA-256's 64-byte block are hashed first (RFC 2104).
    key = bytes(range(256))[:key_length]
    for message in (b"", b"a", b"x" * 1000):
        expected = hmac.new(key, message, hashlib.sha256).digest()
        assert _HmacSha256(key).digest(message) == expected


def test_a_long_secret_still_verifies_with_livekit_api() -> None:
    secret = "k" * 100
    token = TokenMinter(KEY, secret, 900).mint("visitor-c1", "ww-c1-ab", None, "{}")
    assert api.TokenVerifier(KEY, secret).verify(token).identity == "visitor-c1"
