"""Agents and agent versions: the subset widgets need (dispatch name and vision settings)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from common.models.types import PATTERN_MESSAGES

# LiveKit agent names end up in tokens and worker registrations: keep them short and plain.
AGENT_NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$(?!\n)"
PATTERN_MESSAGES[AGENT_NAME_PATTERN] = "Expected letters, digits or `_.:-` only"
AgentName = Annotated[str, Meta(min_length=1, max_length=128, pattern=AGENT_NAME_PATTERN)]


class Vision(msgspec.Struct, kw_only=True):
    enabled: bool = False
    video_input: bool = False
    screen_share: bool = False


class AgentConfigKnown(msgspec.Struct, kw_only=True):
    """Known keys of an agent version's config; other keys are stored untouched."""

    livekit_agent_name: AgentName | None = None
    vision: Vision = msgspec.field(default_factory=Vision)


class Capabilities(msgspec.Struct, kw_only=True, frozen=True):
    # camelCase is the contract's own spelling.
    supportsVideoInput: bool
    supportsScreenShare: bool


def capabilities_of(config: AgentConfigKnown) -> Capabilities:
    vision = config.vision
    return Capabilities(
        supportsVideoInput=vision.enabled and vision.video_input,
        supportsScreenShare=vision.enabled and vision.screen_share,
    )


class Agent(msgspec.Struct, kw_only=True):
    id: str
    organization_id: str
    name: str
    description: str
    created_at: str
    updated_at: str


class AgentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    description: Annotated[str, Meta(max_length=2000)] = ""


class AgentVersion(msgspec.Struct, kw_only=True):
    id: str
    agent_id: str
    organization_id: str
    version: int
    published: bool
    config: dict[str, Any]
    created_at: str
    updated_at: str


AgentConfig = Annotated[
    dict[str, Any],
    Meta(description="The version's configuration, at most 64 KiB as JSON. Known keys "
         "(`livekit_agent_name`, `vision`) are validated; unknown keys are kept."),
]


class AgentVersionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    config: AgentConfig = {}


class AgentVersionUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    config: AgentConfig | UnsetType = UNSET
