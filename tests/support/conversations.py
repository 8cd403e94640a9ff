"""Starting conversations through the public runtime API, and reading their tokens."""

from __future__ import annotations

from typing import Any

from livekit.api import TokenVerifier

from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET

PREFIX = "/core/public/web-widgets"
VERIFIER = TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET)


async def start(client: Any, widget_id: str, **body: Any) -> Any:
    return await client.post(f"{PREFIX}/{widget_id}/conversations", json=body)


async def started_id(client: Any, widget_id: str, user_id: str = "u1") -> str:
    return (await (await start(client, widget_id, user_id=user_id)).json())["conversation"]["id"]
