"""The /core/agents handlers: the subset of the reference's agents API that widgets need.

A version is named by its number, ``latest`` or its id. Unknown, foreign and malformed ids all
answer 404, so nothing reveals whether another organization's agent exists.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from common.bodies import json_response, read_json
from common.errors import not_found
from common.models.agent import AgentCreate, AgentVersionCreate, AgentVersionUpdate
from management_service.appkeys import AGENTS
from management_service.auth import MANAGE_AGENTS, READ_AGENTS, Principal
from management_service.handlers.idempotent import idempotent, planned

_AGENT_CREATE = msgspec.json.Decoder(AgentCreate)
_VERSION_CREATE = msgspec.json.Decoder(AgentVersionCreate)
_VERSION_UPDATE = msgspec.json.Decoder(AgentVersionUpdate)

_AGENT_NOT_FOUND = "Agent not found"
_VERSION_NOT_FOUND = "Agent version not found"


def _path(request: web.Request) -> tuple[str, str]:
    return request.match_info["id"], request.match_info.get("version", "")


@MANAGE_AGENTS
@idempotent
async def create_agent(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _AGENT_CREATE)
    agent = await request.app[AGENTS].create_agent(principal.org_id, body, planned(request))
    return json_response(agent, status=201)


@READ_AGENTS
async def get_agent(request: web.Request, principal: Principal) -> web.Response:
    agent = await request.app[AGENTS].get_agent(principal.org_id, request.match_info["id"])
    if agent is None:
        raise not_found(_AGENT_NOT_FOUND)
    return json_response(agent)


@MANAGE_AGENTS
@idempotent
async def create_version(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _VERSION_CREATE)
    store = request.app[AGENTS]
    agent = await store.get_agent(principal.org_id, request.match_info["id"])
    if agent is None:
        raise not_found(_AGENT_NOT_FOUND)
    version = await store.create_version(
        principal.org_id, agent.id, body.config, planned(request)
    )
    return json_response(version, status=201)


@READ_AGENTS
async def get_version(request: web.Request, principal: Principal) -> web.Response:
    agent_id, ref = _path(request)
    version = await request.app[AGENTS].get_version(principal.org_id, agent_id, ref)
    if version is None:
        raise not_found(_VERSION_NOT_FOUND)
    return json_response(version)


@MANAGE_AGENTS
async def update_version(request: web.Request, principal: Principal) -> web.Response:
    body = await read_json(request, _VERSION_UPDATE)
    agent_id, ref = _path(request)
    store = request.app[AGENTS]
    if body.config is msgspec.UNSET:
        # Nothing to change: answer like a read, even for a published version.
        version = await store.get_version(principal.org_id, agent_id, ref)
    else:
        version = await store.update_version(principal.org_id, agent_id, ref, body.config)
    if version is None:
        raise not_found(_VERSION_NOT_FOUND)
    return json_response(version)


@MANAGE_AGENTS
async def publish_version(request: web.Request, principal: Principal) -> web.Response:
    # The reference's publish body only assigns phone numbers, which this service has not got,
    # so any body is ignored.
    agent_id, ref = _path(request)
    version = await request.app[AGENTS].publish_version(principal.org_id, agent_id, ref)
    if version is None:
        raise not_found(_VERSION_NOT_FOUND)
    return json_response(version)
