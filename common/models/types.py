"""Constrained scalar types used across the models."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

# Every pattern ends in ``$(?!\n)``: Python's ``$`` also matches before a final newline, and
# ``\Z`` is not an ECMA-262 regex (the OpenAPI documents carry these patterns to JSON Schema
# tools). ``(?!\n)`` is the same in both.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$(?!\n)"
UUID_MESSAGE = "Expected a lowercase UUID v4"
# What a 422 says instead of msgspec's "Expected `str` matching regex '...'".
PATTERN_MESSAGES = {UUID_PATTERN: UUID_MESSAGE}

UUIDStr = Annotated[str, Meta(pattern=UUID_PATTERN, description="A UUID4, lower case")]
# Empty means "use the built-in default for that mode" (appearance page of the reference).
COLOR_PATTERN = r"^(|#[0-9a-fA-F]{3}|#[0-9a-fA-F]{4}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8})$(?!\n)"
PATTERN_MESSAGES[COLOR_PATTERN] = "Expected a hex colour (#rgb, #rgba, #rrggbb, #rrggbbaa) or \"\""
Color = Annotated[
    str,
    Meta(
        pattern=COLOR_PATTERN,
        description="CSS hex colour (#rgb, #rgba, #rrggbb, #rrggbbaa) or empty for the default",
    ),
]
ShortText = Annotated[str, Meta(max_length=200)]
LongText = Annotated[str, Meta(max_length=2000)]
FIELD_ID_PATTERN = r"^[A-Za-z0-9_.-]+$(?!\n)"
PATTERN_MESSAGES[FIELD_ID_PATTERN] = "Expected letters, digits, `_`, `.` or `-` only"
FieldId = Annotated[str, Meta(min_length=1, max_length=64, pattern=FIELD_ID_PATTERN)]
# A BCP 47 language tag as browsers give them (language, optional script, region and variants;
# no private-use or extension subtags): "en", "pt-BR", "zh-Hant-TW", "de-CH-1996".
LOCALE_PATTERN = (
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-[A-Za-z]{2}|-[0-9]{3})?(-[A-Za-z0-9]{5,8}|-[0-9][A-Za-z0-9]{3})*$(?!\n)"
)
PATTERN_MESSAGES[LOCALE_PATTERN] = "Expected a BCP 47 language tag such as `en`, `pt-BR` or `ar`"
Locale = Annotated[
    str, Meta(max_length=35, pattern=LOCALE_PATTERN, description="A BCP 47 language tag")
]
