"""Feedback values checked against the widget's form: each kept field against its definition.

Plain functions (no I/O): ``check_feedback`` returns the kept values or raises one 422 listing
every field that is wrong, each with ``loc`` ``["body", "data", <field id>]``. Ids that are not
form fields are dropped, as before. Caps on text are per field type (docs/decisions.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from common.errors import ApiError, ValidationIssue
from common.models.forms import RATING_MAX, RATING_MIN, FormField

# Characters, not bytes; the whole `data` is capped at 16 KiB of JSON anyway.
MAX_TEXT = 500
MAX_TEXTAREA = 5000
MAX_PHONE = 32
MAX_EMAIL = 254  # the longest address SMTP can carry
# The HTML standard's "valid e-mail address" (what <input type=email> accepts), anchored with \Z.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z"
)
# Digits with the usual separators and an optional leading +.
_PHONE = re.compile(r"\+?[0-9 ().\-/]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _Bad(Exception):
    def __init__(self, msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.msg, self.type = msg, type_


def _string(value: Any, cap: int) -> str:
    if not isinstance(value, str):
        raise _Bad("Expected a string", "type_error")
    if len(value) > cap:
        raise _Bad(f"At most {cap} characters")
    if _CONTROL.search(value):
        raise _Bad("Control characters are not allowed")
    return value


def _text(value: Any) -> None:
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        raise _Bad("A single line is expected")
    _string(value, MAX_TEXT)


def _textarea(value: Any) -> None:
    _string(value, MAX_TEXTAREA)


def _email(value: Any) -> None:
    text = _string(value, MAX_EMAIL)
    if not _EMAIL.match(text):
        raise _Bad("Expected an e-mail address")


def _phone(value: Any) -> None:
    text = _string(value, MAX_PHONE)
    if not _PHONE.match(text) or not any(c.isdigit() for c in text):
        raise _Bad("Expected a phone number: digits, spaces, +, -, ., / and parentheses")


def _number(value: Any) -> None:
    # bool is an int in Python, but `true` is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad("Expected a number", "type_error")


def _rating(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"Expected a whole number from {RATING_MIN} to {RATING_MAX}", "type_error")
    if not RATING_MIN <= value <= RATING_MAX:
        raise _Bad(f"Expected a whole number from {RATING_MIN} to {RATING_MAX}")


def _checkbox(value: Any) -> None:
    if not isinstance(value, bool):
        raise _Bad("Expected true or false", "type_error")


_CHECKS: dict[str, Callable[[Any], None]] = {
    "text": _text,
    "textarea": _textarea,
    "email": _email,
    "phone": _phone,
    "number": _number,
    "rating": _rating,
    "checkbox": _checkbox,
}


def _is_empty(field: FormField, value: Any) -> bool:
    """What "not filled in" means for a required field (an unticked box, as in HTML)."""
    if value is None or value == "":
        return True
    return field.type == "checkbox" and value is False


def _check_value(field: FormField, value: Any) -> None:
    """Raise _Bad when ``value`` does not fit ``field`` (None: an optional field left empty)."""
    if value is None:
        return
    if field.type == "select":
        if not isinstance(value, str) or value not in (field.options or ()):
            raise _Bad("Expected one of the field's options")
        return
    _CHECKS[field.type](value)


def check_feedback(
    data: dict[str, Any], fields: Sequence[FormField], root: Sequence[str] = ("body", "data")
) -> dict[str, Any]:
    """The submitted values of the form's fields, each checked; 422 naming every bad field
    (at ``[*root, <field id>]``: the start checks the pre-conversation form with it too)."""
    kept: dict[str, Any] = {}
    issues: list[ValidationIssue] = []
    for field in fields:
        loc: list[str | int] = [*root, field.id]
        if field.id not in data or _is_empty(field, data[field.id]):
            if field.required:
                issues.append(ValidationIssue(loc, "Field required", "missing"))
                continue
            if field.id not in data:
                continue
        value = data[field.id]
        try:
            _check_value(field, value)
        except _Bad as bad:
            issues.append(ValidationIssue(loc, bad.msg, bad.type))
            continue
        kept[field.id] = value
    if issues:
        raise ApiError(422, issues)
    return kept
