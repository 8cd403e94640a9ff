"""Feedback values against the form's field definitions, per field type (no Redis, no HTTP)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from common.errors import ApiError
from common.models.forms import FormField
from runtime_service.feedback_values import (
    MAX_PHONE,
    MAX_TEXT,
    MAX_TEXTAREA,
    check_feedback,
)


def field(type_: str, *, required: bool = False, **extra: Any) -> FormField:
    return FormField(id="f", type=type_, label="F", required=required, **extra)  # type: ignore[arg-type]


def issues(fields: list[FormField], data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ApiError) as refused:
        check_feedback(data, fields)
    assert refused.value.status == 422
    return msgspec.to_builtins(refused.value.detail)  # type: ignore[no-any-return]


ACCEPTED = [
    ("rating", {}, 1), ("rating", {}, 5),
    ("number", {}, 0), ("number", {}, -2.5), ("number", {}, 10**18),
    ("email", {}, "a.b+c@example.co.uk"), ("email", {}, "x@localhost"),
    ("phone", {}, "+1 (555) 010-0000"), ("phone", {}, "0" * MAX_PHONE),
    ("select", {"options": ["yes", "no"]}, "no"),
    ("checkbox", {}, True), ("checkbox", {}, False),
    ("text", {}, "x" * MAX_TEXT), ("text", {}, ""),
    ("textarea", {}, "line one\nline two"), ("textarea", {}, "é" * MAX_TEXTAREA),
]


@pytest.mark.parametrize(("type_", "extra", "value"), ACCEPTED)
def test_values_that_fit_their_field_are_kept(
    type_: str, extra: dict[str, Any], value: Any
) -> None:
    assert check_feedback({"f": value}, [field(type_, **extra)]) == {"f": value}


REFUSED = [
    ("rating", {}, "five"), ("rating", {}, 0), ("rating", {}, 6), ("rating", {}, 4.5),
    ("rating", {}, True), ("rating", {}, {"stars": 5}),
    ("number", {}, "3"), ("number", {}, True), ("number", {}, [1]),
    ("email", {}, "not an address"), ("email", {}, "a@b\n"), ("email", {}, 7),
    ("email", {}, "a" * 250 + "@b.cd"),
    ("phone", {}, "call me"), ("phone", {}, "0" * (MAX_PHONE + 1)), ("phone", {}, "+-"),
    ("phone", {}, 5550100),
    ("select", {"options": ["yes", "no"]}, "maybe"), ("select", {"options": ["yes"]}, ["yes"]),
    ("checkbox", {}, "true"), ("checkbox", {}, 1),
    ("text", {}, "x" * (MAX_TEXT + 1)), ("text", {}, "two\nlines"), ("text", {}, "cr\r"),
    ("text", {}, {"a": 1}),
    ("text", {}, "bell\x07"),
    ("textarea", {}, "x" * (MAX_TEXTAREA + 1)), ("textarea", {}, 12),
]


@pytest.mark.parametrize(("type_", "extra", "value"), REFUSED)
def test_values_that_do_not_fit_are_422_naming_the_field(
    type_: str, extra: dict[str, Any], value: Any
) -> None:
    (issue,) = issues([field(type_, **extra)], {"f": value})
    assert issue["loc"] == ["body", "data", "f"]
    assert issue["msg"]


@pytest.mark.parametrize(
    ("type_", "empty"),
    [("text", ""), ("textarea", None), ("rating", None), ("checkbox", False), ("email", "")],
)
def test_a_required_field_must_be_filled_in(type_: str, empty: Any) -> None:
    assert issues([field(type_, required=True)], {}) == [
        {"loc": ["body", "data", "f"], "msg": "Field required", "type": "missing"}
    ]
    (issue,) = issues([field(type_, required=True)], {"f": empty})
    assert issue["type"] == "missing"


def test_optional_fields_may_be_absent_or_null_and_unknown_ids_are_dropped() -> None:
    fields = [field("rating"), FormField(id="g", type="text", label="G")]
    assert check_feedback({"g": None, "other": "x"}, fields) == {"g": None}
    assert check_feedback({}, fields) == {}


def test_every_bad_field_is_named_at_once() -> None:
    fields = [
        FormField(id="stars", type="rating", label="S", required=True),
        FormField(id="mail", type="email", label="M"),
        FormField(id="note", type="text", label="N"),
    ]
    found = issues(fields, {"mail": "nope", "note": "fine"})
    assert [issue["loc"][-1] for issue in found] == ["stars", "mail"]
