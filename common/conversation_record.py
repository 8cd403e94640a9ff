"""A conversation's safe columns as fields of its hash, one short field per column.

Small fields keep a started conversation's hash in Redis's compact `listpack` encoding (every
field and value within `hash-max-listpack-value`, 64 bytes by default) rather than a hash table:
about a third of the memory (docs/performance.md). What the key already says is not stored: the
conversation's id and its widget's id (`{w:<widget>}:conv:<id>`), and the direction and channel,
which are the same for every conversation a web widget starts. `duration` and
`user_turn_count` are absent until known. The lifecycle script reads and writes the same
fields (common/lifecycle/conversation_lifecycle.lua).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from common.models.conversation import ConversationSummary

# The fields, in the order readers ask for them (HMGET) and summary_from reads them.
SAFE_FIELDS = ("s", "o", "u", "a", "v", "d", "t", "c", "m")


def stored_fields(conversation: ConversationSummary) -> list[Any]:
    """Field, value, field, value... for HSET."""
    fields: list[Any] = [
        "s", conversation.status, "o", conversation.organization_id, "u", conversation.user_id,
        "a", conversation.agent_id, "v", conversation.agent_version_id,
        "c", conversation.created_at, "m", conversation.updated_at,
    ]
    if conversation.duration is not None:
        fields += ("d", conversation.duration)
    if conversation.user_turn_count is not None:
        fields += ("t", conversation.user_turn_count)
    return fields


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _number(value: bytes | str | None) -> int | None:
    return None if value is None else int(value)


def summary_from(
    widget_id: str, conversation_id: str, values: Sequence[Any]
) -> ConversationSummary | None:
    """The safe columns from the values of SAFE_FIELDS (HMGET), or None when the hash is gone."""
    status, org, user, agent, version, duration, turns, created, updated = values
    if status is None:
        return None
    return ConversationSummary(
        id=conversation_id, organization_id=_text(org), direction="inbound", channel="webrtc",
        status=_text(status),  # type: ignore[arg-type]  # only the lifecycle script writes it
        user_id=_text(user), agent_id=_text(agent), agent_version_id=_text(version),
        web_widget_id=widget_id, duration=_number(duration), user_turn_count=_number(turns),
        created_at=_text(created), updated_at=_text(updated),
    )
