"""POST /core/conversations/{id}/listener-token: a LiveKit token for live monitoring, verified
with livekit-api's TokenVerifier, on a real redis-server and on the 3-master cluster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from livekit.api import TokenVerifier

from common.lifecycle.lifecycle import WebhookFact
from common.timeutil import now_ms
from tests.support.conversations import start
from tests.support.services import Services
from tests.support.settings import LIVEKIT_KEY, LIVEKIT_SECRET
from tests.support.widget_helpers import create_widget, expect, make_version

C = "/core/conversations"
PREFIX = "/core/public/web-widgets"
# Exactly: no leeway, so the check would fail on an expired token.
VERIFIER = TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET, leeway=timedelta(0))


class Conv:
    def __init__(self, apps: Services, widget_id: str, started: dict[str, Any]) -> None:
        self.apps, self.widget = apps, widget_id
        self.id = started["conversation"]["id"]
        self.room = started["connection_details"]["room"]

    async def visitor_joins(self) -> None:
        now = now_ms()
        fact = WebhookFact(event_id=f"EV_{self.id}_{self.room}", kind="participant_joined",
                           room=self.room, at=now // 1000, who="visitor", sid="PA_v")
        result = await self.apps.lifecycle.event(self.widget, self.id, fact, now)
        assert result.status == "in_progress"

    async def token(self, headers: dict[str, str] | None = None) -> Any:
        return await self.apps.management.post(
            f"{C}/{self.id}/listener-token", headers=headers or self.apps.headers
        )


async def new_conversation(apps: Services) -> Conv:
    pair = await make_version(apps.management, apps.headers, published=True)
    widget = await create_widget(apps.management, apps.headers, pair, published=True)
    started = await expect(await start(apps.runtime, widget["id"], user_id="u1"), 200)
    return Conv(apps, widget["id"], started)


async def test_a_hidden_subscribe_only_token_for_the_current_room(apps: Services) -> None:
    conv = await new_conversation(apps)
    await conv.visitor_joins()
    resp = await conv.token()
    body = await expect(resp, 200)
    assert resp.headers["Cache-Control"] == "no-store"
    assert set(body) == {"url", "token", "room"}
    assert (body["url"], body["room"]) == ("wss://livekit.test", conv.room)

    claims = VERIFIER.verify(body["token"])
    video = claims.video
    assert video is not None
    assert claims.identity.startswith("listener-") and len(claims.identity) > len("listener-")
    assert (video.room_join, video.room, video.hidden) == (True, conv.room, True)
    assert (video.can_subscribe, video.can_publish, video.can_publish_data) == (True, False, False)
    assert not video.can_update_own_metadata
    # Nothing else: no other room, no admin, create, list or recording rights, no dispatch.
    for grant in ("room_create", "room_list", "room_record", "room_admin", "agent",
                  "ingress_admin", "recorder", "destination_room", "can_publish_sources"):
        assert not getattr(video, grant), grant
    assert claims.room_config is None
    raw = jwt.decode(body["token"], LIVEKIT_SECRET, algorithms=["HS256"], issuer=LIVEKIT_KEY)
    assert raw["exp"] - raw["nbf"] == 300  # LISTENER_TOKEN_TTL's default
    assert raw["video"]["canPublish"] is False and raw["video"]["canPublishData"] is False
    # Each token is a listener of its own.
    again = VERIFIER.verify((await expect(await conv.token(), 200))["token"])
    assert again.identity != claims.identity

    # After a resume the conversation is in a new room: the next token names that one only.
    url = f"{PREFIX}/{conv.widget}/conversations"
    resumed = await expect(
        await apps.runtime.post(url, json={"user_id": "u1", "conversation_id": conv.id}), 200
    )
    room = resumed["connection_details"]["room"]
    assert room != conv.room
    body = await expect(await conv.token(), 200)
    assert body["room"] == room and VERIFIER.verify(body["token"]).video.room == room


async def test_only_a_conversation_in_progress_can_be_listened_to(apps: Services) -> None:
    conv = await new_conversation(apps)
    resp = await conv.token()  # token_created: nobody joined yet
    assert "token_created" in (await expect(resp, 409))["detail"]
    await conv.visitor_joins()
    await expect(await conv.token(), 200)
    await expect(await apps.management.post(f"{C}/{conv.id}/end", headers=apps.headers), 200)
    assert "completed" in (await expect(await conv.token(), 409))["detail"]


async def test_unknown_and_other_organizations_conversations_are_404(apps: Services) -> None:
    conv = await new_conversation(apps)
    await conv.visitor_joins()
    for cid in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        resp = await apps.management.post(f"{C}/{cid}/listener-token", headers=apps.headers)
        await expect(resp, 404)
    other = await apps.credentials.create_org("Other")
    token, _ = await apps.credentials.issue("ak", ["conversations:read_sensitive"],
                                            org_id=other.id)
    resp = await conv.token({"Authorization": f"Bearer {token}"})
    assert (await expect(resp, 404))["detail"] == "Conversation not found"


@pytest.mark.parametrize("scopes", [
    ["conversations:read"], ["conversations:manage"], ["web_widgets:manage", "agents:manage"],
])
async def test_without_read_sensitive_it_is_403(apps: Services, scopes: list[str]) -> None:
    conv = await new_conversation(apps)
    await conv.visitor_joins()
    widget = await expect(
        await apps.management.get(f"/core/web-widgets/{conv.widget}", headers=apps.headers), 200
    )
    token, _ = await apps.credentials.issue("ak", scopes, org_id=widget["organization_id"])
    resp = await conv.token({"Authorization": f"Bearer {token}"})
    assert "conversations:read_sensitive" in (await expect(resp, 403))["detail"]
