"""Post-conversation feedback: which fields are kept, and what each script outcome answers."""

from __future__ import annotations

from typing import Any

import msgspec

from common.errors import ApiError
from common.models.conversation import FeedbackRecord, FeedbackSubmit
from common.timeutil import iso_from_ms, now_ms
from runtime_service.conversations import ConversationStore
from runtime_service.public_widget import PublicWidget

# The contract's limit: the submitted `data`, serialized as JSON, at most 16 KB.
MAX_FEEDBACK_BYTES = 16 * 1024

_ENCODE = msgspec.json.Encoder().encode


def kept_fields(data: dict[str, Any], field_ids: frozenset[str]) -> dict[str, Any]:
    """Only the widget's configured feedback field ids are stored; the rest is dropped."""
    return {key: value for key, value in data.items() if key in field_ids}


async def submit_feedback(
    store: ConversationStore, widget: PublicWidget, conversation_id: str, body: FeedbackSubmit
) -> None:
    if not widget.feedback_field_ids:
        raise ApiError(400, "This widget has no feedback form")
    kept = kept_fields(body.data, widget.feedback_field_ids)
    if not kept:
        raise ApiError(400, "No configured feedback field was submitted")
    record = _ENCODE(FeedbackRecord(data=kept, submitted_at=iso_from_ms(now_ms())))
    size = len(_ENCODE(body.data))
    outcome = await store.submit_feedback(
        widget.id, conversation_id, record, size, MAX_FEEDBACK_BYTES
    )
    if outcome == "ok":
        return
    if outcome == "too_large":
        raise ApiError(413, f"Feedback data is larger than {MAX_FEEDBACK_BYTES} bytes as JSON")
    if outcome == "duplicate":
        raise ApiError(409, "Feedback was already submitted for this conversation")
    if await store.owner(conversation_id) not in (None, widget.id):
        raise ApiError(403, "The conversation belongs to another widget")
    raise ApiError(404, "Conversation not found")
