"""Turn msgspec decode/validation failures into 422 bodies: ``[{loc, msg, type}]``."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import msgspec

from common.errors import ApiError, ValidationIssue
from common.models.types import PATTERN_MESSAGES

T = TypeVar("T")

_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$(?!\n)", re.DOTALL)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$(?!\n)")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$(?!\n)")
_MATCHING = "Expected `str` matching regex "


def _pattern_message(msg: str) -> str:
    """The human wording of a pattern refusal, where the pattern has one (common.models.types)."""
    for pattern, message in PATTERN_MESSAGES.items():
        if msg == f"{_MATCHING}{pattern!r}":
            return message
    return msg


def issue_from_error(exc: msgspec.ValidationError, root: list[str | int]) -> ValidationIssue:
    """One ``{loc, msg, type}`` issue from msgspec's message (which carries a ``$.a[0].b`` path)."""
    match = _PATH.match(str(exc))
    assert match is not None  # the pattern matches any string
    msg, path = match.group("msg"), match.group("path") or ""
    loc: list[str | int] = list(root)
    for name, index in _SEGMENT.findall(path):
        if name:
            loc.append(name)
        elif index != "...":
            loc.append(int(index))
    type_ = "value_error"
    if missing := _MISSING.match(msg):
        loc.append(missing.group("field"))
        msg, type_ = "Field required", "missing"
    elif unknown := _UNKNOWN.match(msg):
        loc.append(unknown.group("field"))
        msg, type_ = "Extra fields are not permitted", "extra_forbidden"
    elif msg.startswith("Expected") and ", got `" in msg:
        type_ = "type_error"
    elif msg.startswith(_MATCHING):
        msg = _pattern_message(msg)
    return ValidationIssue(loc, msg, type_)


def invalid(loc: list[str | int], msg: str, type_: str = "value_error") -> ApiError:
    return ApiError(422, [ValidationIssue(loc, msg, type_)])


# Free-form values (config, custom_metadata, feedback data) are stored and handed to other
# programs as JSON: integers must fit a signed 64-bit integer (docs/decisions.md).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class _Refused(Exception):
    def __init__(self, msg: str, type_: str) -> None:
        super().__init__(msg)
        self.msg, self.type = msg, type_


def _unique_keys(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Refused(f"Duplicate key `{key}`", "json_invalid")
        seen.add(key)


def _int64(text: str) -> int:
    # Length first: int() of thousands of digits is slow (and refused past 4300 digits).
    if len(text) > 20 or not INT64_MIN <= int(text) <= INT64_MAX:
        shown = text if len(text) <= 24 else text[:20] + "..."
        raise _Refused(f"Integer out of range (signed 64-bit): {shown}", "value_error")
    return 0


# Built once: json.loads with hooks builds a new decoder on every call, which cost more than
# the pass itself.
_PLAIN_PASS = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_int=_int64, parse_float=len)


def _check_plain_json(text: str, root: str) -> None:
    """What msgspec lets through: duplicate object keys (last one wins) and integers of any
    size. A second, value-discarding pass with the standard parser finds both."""
    try:
        _PLAIN_PASS.decode(text)
    except _Refused as exc:
        raise invalid([root], exc.msg, exc.type) from None
    except RecursionError:
        raise invalid([root], "Invalid JSON: nested too deeply", "json_invalid") from None


def decode_json(body: bytes, decoder: msgspec.json.Decoder[T], root: str = "body") -> T:
    """Decode and validate a request body; any failure is a 422 naming where it happened."""
    try:
        text = body.decode("utf-8")  # msgspec would raise UnicodeDecodeError: a 500
    except UnicodeDecodeError as exc:
        raise invalid([root], f"Invalid UTF-8 at byte {exc.start}", "json_invalid") from None
    try:
        value = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ApiError(422, [issue_from_error(exc, [root])]) from None
    except msgspec.DecodeError as exc:
        raise invalid([root], f"Invalid JSON: {exc}", "json_invalid") from None
    except RecursionError:
        # msgspec decodes recursively: a few KiB of `[[[[...` would otherwise be a 500.
        raise invalid([root], "Invalid JSON: nested too deeply", "json_invalid") from None
    _check_plain_json(text, root)
    return value


def convert(value: Any, type_: type[T], root: list[str | int]) -> T:
    """Validate an already-decoded value against ``type_`` (used for nested, kept-as-is objects)."""
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        raise ApiError(422, [issue_from_error(exc, root)]) from None
