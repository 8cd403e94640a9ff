"""A widget's conversations in Redis.

Everything about a conversation lives in its widget's hash slot: a hash with the safe columns
(one short field each: common/conversation_record.py), the ``custom_metadata`` (``meta``, only
when not empty) and the feedback record (``feedback``, written once,
beside the id of the submission that wrote it: ``feedback_submission``),
plus two lex-ordered indexes (the widget's and the visitor's). Only the owner locator, which tells
another widget's conversation (403) from an unknown one (404), lives in the conversation's slot.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import msgspec

from common.conversation_record import PAGE, SAFE_FIELDS, stored_fields, summary_from
from common.lifecycle.events import FEEDBACK_VALUE, OutboxEvent, new_event_id, outbox_field
from common.lifecycle.lifecycle import DEFAULT_STATS_RETENTION, due_member, due_shard
from common.lifecycle.publisher import EventPublisher, logged
from common.models.conversation import Conversation, ConversationSummary
from common.pagination import collect_page, created_bounds, index_member
from common.redis_batch import RedisBatch
from common.redis_client import as_bytes, read_script, register
from common.redis_keys import RedisKeys
from common.timeutil import now_ms
from common.widget_stats import utc_day

log = logging.getLogger(__name__)

CREATE = read_script(__file__, "conversation_create.lua")
FEEDBACK = read_script(__file__, "feedback_submit.lua")
FeedbackOutcome = Literal["ok", "not_found", "too_large", "duplicate"]
_OUTCOMES: dict[bytes, FeedbackOutcome] = {
    name.encode(): name for name in get_args(FeedbackOutcome)
}

_ENCODE = msgspec.json.Encoder().encode
_METADATA = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True, slots=True)
class StartRecord:
    """What a start records for the lifecycle: the room, the token deadline, the started event."""

    room: str
    deadline_ms: int
    event_id: str
    snapshot: str  # the started event, as the outbox and the stream keep it (events.py)


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    user_id: str | None = None
    status: str | None = None
    # Inclusive bounds, as lex bounds of the index (see list_page).
    created_after_ms: int | None = None
    created_before_ms: int | None = None


class ConversationStore:
    def __init__(
        self, batch: RedisBatch, keys: RedisKeys, retention: int,
        settle: float = 15.0, events_retention: int = 7 * 24 * 3600,
        stats_retention: int = DEFAULT_STATS_RETENTION,
    ) -> None:
        self.stats_retention = stats_retention
        self.batch = batch
        self.settle_ms = int(settle * 1000)
        self.publisher = EventPublisher(batch, keys, events_retention)
        self.redis = batch.redis  # off the hot path (record): a call of its own
        self.keys = keys
        self.retention = retention
        self._create = register(batch.redis, CREATE)
        self._feedback = register(batch.redis, FEEDBACK)
        self._page = register(batch.redis, PAGE)
        self.created = 0
        self.feedback_outcomes: Counter[str] = Counter()

    async def create(
        self, conversation: ConversationSummary, created_ms: int, metadata: bytes,
        start: StartRecord | None = None, retention: int | None = None,
    ) -> None:
        """``retention``: the widget's effective retention (s; default the service's), for the
        conversation's TTL, its locator's and its widget indexes' trimming. The organization's
        indexes mix widgets, so they keep the service's retention (the longest any has)."""
        widget_id, conversation_id = conversation.web_widget_id, conversation.id
        kept = self.retention if retention is None else retention
        # The locator is in another slot, so it cannot join the script: written first, a
        # conversation is never without it (a locator without a conversation answers 404).
        # Both go in one pipeline, the locator first.
        owner = self.batch.execute(
            "SET", self.keys.conversation_owner(conversation_id), widget_id, "EX", kept
        )
        expired_below = "(" + index_member(max(created_ms - kept * 1000, 0), "")
        org_expired_below = "(" + index_member(max(created_ms - self.retention * 1000, 0), "")
        member = index_member(created_ms, conversation_id)
        # The organization's indexes, in its slot, queued before the conversation like the
        # locator: the owner's list skips an entry whose conversation is not there (yet).
        org_id = conversation.organization_id
        # Plain commands rather than a script: none reads another's effect, the trim and the
        # expiry need no atomicity, and a script call costs Redis more than the three.
        org_index = self.keys.org_conversations(org_id)
        org_indexed = self.batch.execute("ZADD", org_index, 0, f"{member}:{widget_id}")
        for command in (
            ("ZREMRANGEBYLEX", org_index, "-", org_expired_below),
            ("EXPIRE", org_index, self.retention),
        ):
            self.batch.execute(*command).add_done_callback(logged)
        lifecycle: list[Any] = ["", "", "", "", ""]
        stats: list[str] = []
        if start is not None:
            # On the sweep's due index before the script (same pipeline, queued first): by the
            # token's deadline the sweep cancels it if unused, and publishes the started event
            # if this pod never did (docs/lifecycle.md).
            self.batch.execute(
                "ZADD", self.keys.due_conversations(due_shard(conversation_id)), "LT",
                start.deadline_ms + self.settle_ms, due_member(widget_id, conversation_id),
            ).add_done_callback(logged)
            lifecycle = [
                start.room, start.deadline_ms, outbox_field(start.event_id), start.snapshot,
                self.stats_retention,
            ]
            # A start counts in the widget's stats of its day.
            stats = [self.keys.widget_stats(widget_id, utc_day(created_ms))]
        created = self.batch.script(
            self._create,
            keys=[
                self.keys.conversation(widget_id, conversation_id),
                self.keys.user_conversations(widget_id, conversation.user_id),
                self.keys.conversations_by_status(widget_id, "token_created"),
                *stats,
            ],
            args=[
                b"" if metadata == b"{}" else metadata, member, expired_below, kept, *lifecycle,
                *stored_fields(conversation),
            ],
        )
        # Awaited in turn (gather's machinery cost more than the awaits); every outcome is read,
        # so no error is left unretrieved, and the first error is raised.
        error: BaseException | None = None
        for future in (owner, org_indexed, created):
            try:
                await future
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error
        self.created += 1

    async def publish_started(
        self, conversation: ConversationSummary, start: StartRecord, now_ms: int
    ) -> None:
        """XADD the started event (one round trip), then delete its outbox field without
        waiting; a failure is left to the sweep and never fails the start."""
        await self._publish(
            conversation.web_widget_id, conversation.id, start.event_id, "conversation.started",
            conversation.organization_id, start.snapshot, now_ms,
        )

    async def _publish(
        self, widget_id: str, conversation_id: str, event_id: str, kind: str,
        organization_id: str, snapshot: str, at_ms: int | None = None,
    ) -> None:
        # Its routing is known here: the event is not decoded again to find it.
        await self.publisher.publish(
            self.keys.conversation(widget_id, conversation_id),
            [OutboxEvent(outbox_field(event_id), event_id, kind, organization_id, widget_id,
                         conversation_id, snapshot)],
            now_ms() if at_ms is None else at_ms,
        )

    async def get(self, widget_id: str, conversation_id: str) -> ConversationSummary | None:
        values = await self.batch.execute(
            "HMGET", self.keys.conversation(widget_id, conversation_id), *SAFE_FIELDS
        )
        return summary_from(widget_id, conversation_id, values)

    async def record(self, widget_id: str, conversation_id: str) -> Conversation | None:
        """The whole stored conversation (never public): the feedback, kept in its own field so
        the feedback script writes it without JSON work, is ``custom_metadata.feedback_form``."""
        *values, meta, feedback = await self.redis.hmget(
            self.keys.conversation(widget_id, conversation_id), *SAFE_FIELDS, "meta", "feedback"
        )
        summary = summary_from(widget_id, conversation_id, values)
        if summary is None:
            return None
        metadata = _METADATA.decode(meta) if meta else {}
        if feedback is not None:
            metadata["feedback_form"] = _METADATA.decode(feedback)
        return Conversation(**msgspec.structs.asdict(summary), custom_metadata=metadata)

    async def owner(self, conversation_id: str) -> str | None:
        # Batched: every LiveKit webhook reads it first.
        raw = await self.batch.execute("GET", self.keys.conversation_owner(conversation_id))
        return None if raw is None else as_bytes(raw).decode()

    async def list_page(
        self, widget_id: str, filters: ConversationFilter, start: str, limit: int
    ) -> tuple[list[ConversationSummary], str | None]:
        """Newest first, from ``start`` (an exclusive lex bound or ``+``)."""
        # The visitor's index, or the widget's status indexes merged (the status is checked on
        # each conversation read, as the visitor's index holds every status).
        indexes = (
            [self.keys.user_conversations(widget_id, filters.user_id)]
            if filters.user_id is not None
            else self.keys.conversation_indexes(widget_id)
        )
        bounds = created_bounds(filters.created_after_ms, filters.created_before_ms)
        if bounds is None:
            return [], None
        lower, upper = bounds
        if upper != "+":
            start = upper if start == "+" else min(start, upper)

        prefix = self.keys.conversation(widget_id, "")

        async def fetch(bound: str, count: int) -> list[tuple[str, ConversationSummary | None]]:
            # One script call: the index range (or the status indexes' merged) and each
            # member's safe columns.
            page = await self.batch.script(
                self._page, indexes, [bound, lower, count, prefix, *SAFE_FIELDS]
            )
            width = len(SAFE_FIELDS) + 1
            items = []
            for at in range(0, len(page), width):
                member = page[at].decode()
                # An expired conversation (None) is skipped, and trimmed by a later start.
                items.append((member, summary_from(
                    widget_id, member[14:], page[at + 1:at + width]
                )))
            return items

        def keep(item: ConversationSummary) -> bool:
            return filters.status is None or item.status == filters.status

        return await collect_page(fetch, keep, start, limit)

    async def submit_feedback(
        self, widget_id: str, conversation_id: str, record: bytes, size: int, limit: int,
        organization_id: str = "", ratings: Sequence[str] = (),
    ) -> FeedbackOutcome:
        """``ratings``: the widget stats' rating counters this feedback adds one to."""
        # One id per submission, the same in every retry of this call (see the script).
        submission = secrets.token_hex(8)
        event_id = new_event_id()
        # On the due index first (queued before the script): an event this pod fails to
        # publish is published by the sweep.
        self.batch.execute(
            "ZADD", self.keys.due_conversations(due_shard(conversation_id)), "LT",
            now_ms() + self.settle_ms, due_member(widget_id, conversation_id),
        ).add_done_callback(logged)
        now = now_ms()
        outcome: bytes = await self.batch.script(
            self._feedback,
            keys=[
                self.keys.conversation(widget_id, conversation_id),
                self.keys.widget_stats(widget_id, utc_day(now)),
            ],
            args=[
                record, size, limit, submission, outbox_field(event_id), FEEDBACK_VALUE,
                self.stats_retention, *ratings,
            ],
        )
        self.feedback_outcomes[outcome.decode()] += 1
        if outcome == b"ok":
            await self._publish(
                widget_id, conversation_id, event_id, "feedback.submitted", organization_id,
                FEEDBACK_VALUE,
            )
        return _OUTCOMES[outcome]
