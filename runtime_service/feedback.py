"""Post-conversation feedback: which values are kept, and what each script outcome answers."""

from __future__ import annotations

import msgspec

from common.errors import ApiError
from common.models.conversation import FeedbackRecord, FeedbackSubmit
from common.timeutil import iso_from_ms, now_ms
from common.widget_stats import rating_counters
from runtime_service.conversations import ConversationStore
from runtime_service.feedback_values import check_feedback
from runtime_service.public_widget import PublicWidget

# The contract's limit: the submitted `data`, serialized as JSON, at most 16 KB.
MAX_FEEDBACK_BYTES = 16 * 1024

_ENCODE = msgspec.json.Encoder().encode


def _too_large() -> ApiError:
    return ApiError(413, f"Feedback data is larger than {MAX_FEEDBACK_BYTES} bytes as JSON")


async def submit_feedback(
    store: ConversationStore, widget: PublicWidget, conversation_id: str, body: FeedbackSubmit
) -> None:
    if not widget.feedback_fields:
        raise ApiError(400, "This widget has no feedback form")
    size = len(_ENCODE(body.data))
    if size > MAX_FEEDBACK_BYTES:  # first: an oversized text is 413, not a field's length cap
        raise _too_large()
    # Before the script: a refused submission does not use up the one submission.
    kept = check_feedback(body.data, widget.feedback_fields)
    if not kept:
        raise ApiError(400, "No configured feedback field was submitted")
    record = _ENCODE(FeedbackRecord(data=kept, submitted_at=iso_from_ms(now_ms())))
    outcome = await store.submit_feedback(
        widget.id, conversation_id, record, size, MAX_FEEDBACK_BYTES, widget.organization_id,
        rating_counters(widget.feedback_fields, kept),
    )
    if outcome == "ok":
        return
    if outcome == "too_large":
        raise _too_large()
    if outcome == "duplicate":
        raise ApiError(409, "Feedback was already submitted for this conversation")
    if await store.owner(conversation_id) not in (None, widget.id):
        raise ApiError(403, "The conversation belongs to another widget")
    raise ApiError(404, "Conversation not found")
