"""Turn msgspec decode/validation failures into 422 bodies: ``[{loc, msg, type}]``."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from common.errors import ApiError

T = TypeVar("T")

_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")


def issue_from_error(exc: msgspec.ValidationError, root: list[str | int]) -> dict[str, Any]:
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
    return {"loc": loc, "msg": msg, "type": type_}


def invalid(loc: list[str | int], msg: str, type_: str = "value_error") -> ApiError:
    return ApiError(422, [{"loc": loc, "msg": msg, "type": type_}])


def decode_json(body: bytes, decoder: msgspec.json.Decoder[T], root: str = "body") -> T:
    """Decode and validate a request body; any failure is a 422 naming where it happened."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ApiError(422, [issue_from_error(exc, [root])]) from None
    except msgspec.DecodeError as exc:
        raise invalid([root], f"Invalid JSON: {exc}", "json_invalid") from None
    except RecursionError:
        # msgspec decodes recursively: a few KiB of `[[[[...` would otherwise be a 500.
        raise invalid([root], "Invalid JSON: nested too deeply", "json_invalid") from None


def convert(value: Any, type_: type[T], root: list[str | int]) -> T:
    """Validate an already-decoded value against ``type_`` (used for nested, kept-as-is objects)."""
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        raise ApiError(422, [issue_from_error(exc, root)]) from None
