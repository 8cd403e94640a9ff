"""Form definitions used by the pre-conversation form and post-conversation feedback."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from common.models.types import FieldId, LongText, ShortText

# A rating is a whole number of stars on this scale (the embed draws five); the field has no
# setting for it, so every rating field uses it.
RATING_MIN, RATING_MAX = 1, 5

FieldType = Literal["text", "textarea", "email", "phone", "number", "select", "rating", "checkbox"]


class FormField(msgspec.Struct, kw_only=True):
    id: FieldId
    type: FieldType
    label: ShortText
    required: bool = False
    placeholder: ShortText | None = None
    options: Annotated[list[ShortText], Meta(max_length=100)] | None = None

    def __post_init__(self) -> None:
        if self.type == "select" and not self.options:
            raise ValueError("a select field needs at least one option")


class FormDefinition(msgspec.Struct, kw_only=True):
    id: ShortText = ""
    name: ShortText = ""
    title: LongText = ""
    submit_label: ShortText = ""
    fields: Annotated[list[FormField], Meta(max_length=50)] = []

    def __post_init__(self) -> None:
        ids = [field.id for field in self.fields]
        if len(ids) != len(set(ids)):
            raise ValueError("field ids must be unique within a form")


class PostConversationFeedback(msgspec.Struct, kw_only=True):
    enabled: bool = False
    thank_you_text: LongText = ""
    form: FormDefinition | None = None
