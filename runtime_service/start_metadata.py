"""What the start checks in the visitor's ``custom_metadata`` beyond its size and depth: the
pre-conversation form's values against the widget's form (the same rules as feedback,
runtime_service/feedback_values.py) and the host page's ``context`` (docs/embed.md).

Plain functions, no I/O; nothing to do for a widget without a form and a body without context,
so the start's hot path stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from common.models.forms import FormField
from common.validation import invalid
from runtime_service.feedback_values import check_feedback

CONTEXT_KEY = "context"
MAX_CONTEXT_BYTES = 4 * 1024
MAX_CONTEXT_DEPTH = 3
_ROOT = ("body", "custom_metadata")


def _depth_over(value: Any, limit: int) -> bool:
    """Whether objects/arrays in ``value`` nest deeper than ``limit`` (``value`` is level 1)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth == limit:
                    return True
                stack.append((child, depth + 1))
    return False


def check_context(context: Any) -> None:
    """The host page's values: a JSON object, at most 4 KiB and 3 levels deep."""
    loc: list[str | int] = [*_ROOT, CONTEXT_KEY]
    if not isinstance(context, dict):
        raise invalid(loc, "Expected `object`", "type_error")
    if _depth_over(context, MAX_CONTEXT_DEPTH):
        raise invalid(loc, f"Nesting deeper than {MAX_CONTEXT_DEPTH} levels")
    if len(msgspec.json.encode(context)) > MAX_CONTEXT_BYTES:
        raise invalid(loc, f"Larger than {MAX_CONTEXT_BYTES} bytes as JSON")


def check_start_metadata(metadata: dict[str, Any], form: Sequence[FormField]) -> None:
    """422 when the form's values or the context break their rules. Other keys are the
    caller's own (API clients may send any) and are kept as they are."""
    if CONTEXT_KEY in metadata:
        check_context(metadata[CONTEXT_KEY])
    if form:
        check_feedback(metadata, form, _ROOT)
