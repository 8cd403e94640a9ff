"""What a conversation start needs from the widget's agent version: is it published, which
LiveKit agent to dispatch, and the capabilities.

Published versions are immutable and never unpublished, so a pod keeps them (bounded, least
recently used dropped first) and a start costs no Redis read for them. An unpublished or missing
version is read again on every request, so publishing takes effect at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis

from common.models.agent import AgentConfigKnown, AgentVersion, Capabilities, capabilities_of
from common.redis_keys import RedisKeys

_VERSION = msgspec.json.Decoder(AgentVersion)


@dataclass(frozen=True, slots=True)
class Dispatch:
    published: bool
    agent_name: str | None
    capabilities: Capabilities


def to_dispatch(version: AgentVersion) -> Dispatch:
    # Stored configs were validated on write; a config that no longer validates dispatches nothing
    # rather than failing every start.
    try:
        known = msgspec.convert(version.config, AgentConfigKnown)
    except msgspec.ValidationError:
        known = AgentConfigKnown()
    return Dispatch(version.published, known.livekit_agent_name, capabilities_of(known))


class AgentVersionSource:
    def __init__(self, redis: Redis, keys: RedisKeys, size: int = 10_000) -> None:
        self.redis = redis
        self.keys = keys
        self.size = size
        self._published: OrderedDict[tuple[str, str], Dispatch] = OrderedDict()

    def hit(self, agent_id: str, version_id: str) -> Dispatch | None:
        """The version when this pod holds it (published), without a coroutine: the start's hot
        path; ``get`` reads the others."""
        key = (agent_id, version_id)
        if (hit := self._published.get(key)) is not None:
            self._published.move_to_end(key)
        return hit

    async def get(self, agent_id: str, version_id: str) -> Dispatch | None:
        if (hit := self.hit(agent_id, version_id)) is not None:
            return hit
        key = (agent_id, version_id)
        raw = await self.redis.get(self.keys.agent_version(agent_id, version_id))
        if raw is None:
            return None
        dispatch = to_dispatch(_VERSION.decode(raw))
        if dispatch.published and self.size > 0:
            self._published[key] = dispatch
            if len(self._published) > self.size:
                self._published.popitem(last=False)
        return dispatch
