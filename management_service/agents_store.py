"""Agents and their versions in Redis (everything of one agent in the agent's hash slot).

Published versions are immutable. Updates are compare-and-set, so two concurrent writers can
never interleave a read-modify-write.
"""

from __future__ import annotations

from typing import Any

import msgspec
from redis.asyncio import Redis

from common.errors import ApiError
from common.ids import is_uuid, new_id
from common.models.agent import (
    Agent,
    AgentConfigKnown,
    AgentCreate,
    AgentVersion,
)
from common.redis_client import as_bytes, read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import iso_from_ms, now_ms
from common.validation import convert, invalid
from management_service.idempotency import Planned

_ENC = msgspec.json.Encoder()
_AGENT = msgspec.json.Decoder(Agent)
_VERSION = msgspec.json.Decoder(AgentVersion)
VERSION_CREATE = read_script(__file__, "version_create.lua")
CAS_SET = read_script(__file__, "cas_set.lua")
_CAS_ATTEMPTS = 5


# As for a widget's config: every runtime pod caches published versions whole.
MAX_AGENT_CONFIG_BYTES = 64 * 1024


def validate_agent_config(config: dict[str, Any]) -> AgentConfigKnown:
    if len(_ENC.encode(config)) > MAX_AGENT_CONFIG_BYTES:
        raise invalid(["body", "config"], f"config must be at most {MAX_AGENT_CONFIG_BYTES} "
                      "bytes as JSON")
    return convert(config, AgentConfigKnown, ["body", "config"])


class AgentStore:
    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._create_version = register(redis, VERSION_CREATE)
        self._cas_set = register(redis, CAS_SET)

    async def create_agent(
        self, org_id: str, body: AgentCreate, planned: Planned | None = None
    ) -> Agent:
        """``planned``: the id and time an Idempotency-Key fixed; when an earlier attempt under
        it already wrote the agent, that agent is the answer."""
        now = iso_from_ms(planned.created_ms if planned else now_ms())
        agent = Agent(
            id=planned.id if planned else new_id(), organization_id=org_id, name=body.name,
            description=body.description, created_at=now, updated_at=now,
        )
        if planned is None:
            await self.redis.set(self.keys.agent(agent.id), _ENC.encode(agent))
            return agent
        if not await self.redis.set(self.keys.agent(agent.id), _ENC.encode(agent), nx=True):
            existing = await self.get_agent(org_id, agent.id)
            if existing is None:
                raise ApiError(409, "Could not create the agent; retry")
            return existing
        return agent

    async def get_agent(self, org_id: str, agent_id: str) -> Agent | None:
        """The agent, or None when it is unknown or belongs to another organization."""
        if not is_uuid(agent_id):
            return None
        raw = await self.redis.get(self.keys.agent(agent_id))
        if raw is None:
            return None
        agent = _AGENT.decode(raw)
        return agent if agent.organization_id == org_id else None

    async def create_version(
        self, org_id: str, agent_id: str, config: dict[str, Any], planned: Planned | None = None
    ) -> AgentVersion:
        """``planned`` as for ``create_agent`` (the script answers an existing version)."""
        validate_agent_config(config)
        now = iso_from_ms(planned.created_ms if planned else now_ms())
        version = AgentVersion(
            id=planned.id if planned else new_id(), agent_id=agent_id, organization_id=org_id,
            version=0,
            published=False, config=config, created_at=now, updated_at=now,
        )
        raw = await self._create_version(
            keys=[self.keys.agent_version_numbers(agent_id),
                  self.keys.agent_version(agent_id, version.id)],
            args=[version.id, _ENC.encode(version)],
        )
        return _VERSION.decode(raw)

    async def get_version_by_id(self, agent_id: str, version_id: str) -> AgentVersion | None:
        """A version by id, whatever its org (callers compare ``organization_id``)."""
        if not (is_uuid(agent_id) and is_uuid(version_id)):
            return None
        raw = await self.redis.get(self.keys.agent_version(agent_id, version_id))
        return None if raw is None else _VERSION.decode(raw)

    async def _version_raw(self, agent_id: str, ref: str) -> bytes | None:
        if is_uuid(ref):
            return as_bytes(await self.redis.get(self.keys.agent_version(agent_id, ref)))
        numbers = self.keys.agent_version_numbers(agent_id)
        if ref == "latest":
            ref = (as_bytes(await self.redis.hget(numbers, "seq")) or b"").decode()
        # ASCII only: str.isdigit() also accepts digits like "²" that int() rejects.
        if not (ref.isascii() and ref.isdigit()) or len(ref) > 9:
            return None
        version_id = as_bytes(await self.redis.hget(numbers, str(int(ref))))
        if version_id is None:
            return None
        key = self.keys.agent_version(agent_id, version_id.decode())
        return as_bytes(await self.redis.get(key))

    async def get_version(self, org_id: str, agent_id: str, ref: str) -> AgentVersion | None:
        """A version by number, ``latest`` or id; None when unknown or in another org."""
        if await self.get_agent(org_id, agent_id) is None:
            return None
        raw = await self._version_raw(agent_id, ref)
        if raw is None:
            return None
        version = _VERSION.decode(raw)
        return version if version.organization_id == org_id else None

    async def _modify(
        self, org_id: str, agent_id: str, ref: str, *, config: dict[str, Any] | None, publish: bool
    ) -> AgentVersion | None:
        for _ in range(_CAS_ATTEMPTS):
            if await self.get_agent(org_id, agent_id) is None:
                return None
            raw = await self._version_raw(agent_id, ref)
            if raw is None:
                return None
            version = _VERSION.decode(raw)
            if version.organization_id != org_id:
                return None
            if config is not None:
                if version.published:
                    raise ApiError(400, "A published version is immutable")
                validate_agent_config(config)
                version.config = config
            if publish:
                if version.published:
                    return version
                version.published = True
            version.updated_at = iso_from_ms(now_ms())
            key = self.keys.agent_version(agent_id, version.id)
            if await self._cas_set(keys=[key], args=[raw, _ENC.encode(version)]):
                return version
        raise ApiError(409, "The version was modified concurrently; retry")

    async def update_version(
        self, org_id: str, agent_id: str, ref: str, config: dict[str, Any]
    ) -> AgentVersion | None:
        return await self._modify(org_id, agent_id, ref, config=config, publish=False)

    async def publish_version(self, org_id: str, agent_id: str, ref: str) -> AgentVersion | None:
        return await self._modify(org_id, agent_id, ref, config=None, publish=True)
