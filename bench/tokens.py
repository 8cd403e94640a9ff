"""Token minting: the runtime's TokenMinter against livekit-api's AccessToken, same token."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

import jwt
from livekit import api

from runtime_service.livekit_tokens import TokenMinter

KEY, SECRET = "bench-key", "bench-secret-" + "s" * 40
IDENTITY, ROOM, AGENT, TTL = "visitor-c1", "ww-c1-0123456789ab", "support-agent", 900
METADATA = '{"conversation_id":"c1","web_widget_id":"w1","agent_version_id":"v1"}'


def livekit_token() -> str:
    return (
        api.AccessToken(KEY, SECRET)
        .with_identity(IDENTITY)
        .with_ttl(datetime.timedelta(seconds=TTL))
        .with_grants(api.VideoGrants(room_join=True, room=ROOM))
        .with_room_config(api.RoomConfiguration(
            agents=[api.RoomAgentDispatch(agent_name=AGENT, metadata=METADATA)]
        ))
        .to_jwt()
    )


def ours_factory() -> Callable[[], str]:
    minter = TokenMinter(KEY, SECRET, TTL)
    return lambda: minter.mint(IDENTITY, ROOM, AGENT, METADATA)


def same_claims(ours: str, theirs: str) -> bool:
    """Both verify with livekit-api's TokenVerifier and carry the same claims (times aside)."""
    verifier = api.TokenVerifier(KEY, SECRET)
    if verifier.verify(ours) != verifier.verify(theirs):
        return False
    mine, reference = (jwt.decode(t, options={"verify_signature": False}) for t in (ours, theirs))
    for claim in ("nbf", "exp"):
        if abs(mine.pop(claim) - reference.pop(claim)) > 1:
            return False
    return mine == reference


def per_second(mint: Callable[[], str], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            mint()
        count += 100
    return count / (time.perf_counter() - start)
