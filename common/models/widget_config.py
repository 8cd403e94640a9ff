"""Validation of the known keys under ``config.v1``; unknown keys are kept as they are.

The stored ``config`` is always the client's own object: these Structs only check it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from common.errors import ApiError
from common.models.forms import FormDefinition, FormField, PostConversationFeedback
from common.models.types import PATTERN_MESSAGES, Color, Locale, ShortText
from common.validation import convert, invalid

MAX_CONFIG_BYTES = 64 * 1024
MAX_RETENTION_DAYS = 3650
Shape = Literal["circle", "square"]
# Who may list a widget's conversations publicly: one visitor (user_id required) or anyone.
ConversationList = Literal["visitor", "widget"]
# The header's avatar: an https URL (its origin is added to the frame's img-src) or a small
# inline image. No SVG: it could carry script if ever opened as a document.
AVATAR_MAX_CHARS = 16 * 1024
AVATAR_PATTERN = (
    # No escaped quote in the class: ECMA-262 with the `u` flag refuses identity escapes.
    r"^(|https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s'<>\\" '"' r"]*)?"
    r"|data:image/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/]+={0,2})$(?!\n)"
)
PATTERN_MESSAGES[AVATAR_PATTERN] = (
    "Expected an https URL or a data:image/(png|jpeg|webp|gif);base64 URL, or \"\""
)
AgentName = Annotated[str, Meta(max_length=60, description=(
    "The agent's display name in the widget's header (the built-in \"Chat\" when empty)."
))]
AgentAvatar = Annotated[str, Meta(max_length=AVATAR_MAX_CHARS, pattern=AVATAR_PATTERN, description=(
    "The agent's avatar in the header: an `https` URL, or a "
    "`data:image/(png|jpeg|webp|gif);base64,` URL of at most "
    f"{AVATAR_MAX_CHARS} characters in all; empty for none."
))]


# The widget's texts a config may override (config.v1.strings), the keys of EN in
# runtime_service/embed/web/src/strings.js (a test keeps the two lists equal).
STRING_KEYS = (
    "openChat", "closeChat", "close", "title", "greeting", "start", "connecting", "listening",
    "agentSpeaking", "agentThinking", "reconnecting", "ended", "connectFailed", "startFailed",
    "retry", "cancel", "newConversation", "notConnected", "microphone", "camera", "shareScreen",
    "endConversation", "message", "typeMessage", "send", "sendFailed", "micUnavailable",
    "cameraUnavailable", "screenUnavailable", "enableAudio", "transcript", "required", "invalid",
    "choose",
    "submit", "feedbackTitle", "feedbackSend", "thanks", "stars",
)  # fmt: skip
MAX_STRING_CHARS = 200
StringOverrides = Annotated[
    dict[str, Annotated[str, Meta(min_length=1, max_length=MAX_STRING_CHARS)]],
    Meta(max_length=len(STRING_KEYS), description=(
        "Per-text overrides of the widget's built-in strings, by key (see docs/embed.md for the "
        f"keys); each 1 to {MAX_STRING_CHARS} characters. `{{name}}` placeholders are filled in."
    )),
]


class ColorTokens(msgspec.Struct, kw_only=True):
    user_message: Color = ""
    controls_button: Color = ""


class ChatMode(msgspec.Struct, kw_only=True):
    background_color: ColorTokens = msgspec.field(default_factory=ColorTokens)
    text_color: ColorTokens = msgspec.field(default_factory=ColorTokens)


class Chat(msgspec.Struct, kw_only=True):
    light_mode: ChatMode = msgspec.field(default_factory=ChatMode)
    dark_mode: ChatMode = msgspec.field(default_factory=ChatMode)
    avatar_shape: Shape = "circle"


class Trigger(msgspec.Struct, kw_only=True):
    shape: Shape = "circle"
    size: Annotated[int, Meta(ge=24, le=160)] = 56
    padding: Annotated[int, Meta(ge=0, le=64)] | None = None
    position: Literal["bottom-right", "bottom-left", "top-right", "top-left"] = "bottom-right"


class ConfigV1(msgspec.Struct, kw_only=True):
    theme: Literal["system", "light", "dark"] = "system"
    trigger: Trigger = msgspec.field(default_factory=Trigger)
    chat: Chat = msgspec.field(default_factory=Chat)
    default_mode: Literal["text", "voice"] = "text"
    start_conversation_on_toggle: bool = False
    suggested_questions: Annotated[list[ShortText], Meta(max_length=10)] = []
    pre_conversation_form: FormDefinition | None = None
    pre_conversation_show_once: bool = True
    post_conversation_feedback: PostConversationFeedback | None = None
    locale: Annotated[Locale, Meta(description=(
        "The widget's language (BCP 47); empty: the visitor's browser language. Built in: "
        "en, es, fr, de, pt, it, ja, ar (right to left); others fall back to English"
    ))] | None = None
    strings: StringOverrides = {}
    agent_name: AgentName = ""
    agent_avatar: AgentAvatar = ""
    conversation_list: Annotated[ConversationList, Meta(description=(
        "Who may list the widget's conversations publicly: `visitor` (the default) requires "
        "`user_id` and lists only that visitor's conversations; `widget` lists every "
        "visitor's, every parameter optional."
    ))] = "visitor"
    retention_days: Annotated[int, Meta(ge=1, le=MAX_RETENTION_DAYS, description=(
        "Days the widget's conversations are kept, at most the service's "
        "`CONVERSATION_RETENTION` (a longer value is cut to it); absent: "
        "`CONVERSATION_RETENTION`. Applies to conversations started from then on."
    ))] | None = None


def validate_config(config: dict[str, Any], root: list[str | int]) -> ConfigV1:
    """Check ``config`` (size, and ``v1`` when present); return its parsed v1 part."""
    if len(msgspec.json.encode(config)) > MAX_CONFIG_BYTES:
        raise invalid(root, f"config must be at most {MAX_CONFIG_BYTES} bytes as JSON")
    v1 = config.get("v1", {})
    if not isinstance(v1, dict):
        raise invalid([*root, "v1"], "Expected `object`", "type_error")
    parsed = convert(v1, ConfigV1, [*root, "v1"])
    form = parsed.pre_conversation_form
    for index, field in enumerate(form.fields if form is not None else ()):
        # The widget sends the host page's context beside the form's values under this key.
        if field.id == "context":
            raise invalid(
                [*root, "v1", "pre_conversation_form", "fields", index, "id"],
                "`context` is reserved for the host page's context",
            )
    for key in parsed.strings:
        if key not in STRING_KEYS:
            raise invalid([*root, "v1", "strings", key], "Unknown string key")
    return parsed


def stored_v1(config: dict[str, Any]) -> ConfigV1:
    """A stored widget's parsed v1 (the defaults if it somehow no longer validates)."""
    try:
        return validate_config(config, ["config"])
    except ApiError:
        return ConfigV1()


def feedback_fields(v1: ConfigV1) -> tuple[FormField, ...]:
    """The fields feedback may carry; empty when no feedback form is configured."""
    feedback = v1.post_conversation_feedback
    if feedback is None or not feedback.enabled or feedback.form is None:
        return ()
    return tuple(feedback.form.fields)


def effective_retention(retention_days: int | None, service_retention: int) -> int:
    """Seconds a conversation of the widget is kept: its ``config.v1.retention_days``, never
    above the service's ``CONVERSATION_RETENTION``."""
    if retention_days is None:
        return service_retention
    return min(retention_days * 86400, service_retention)


def pre_conversation_fields(v1: ConfigV1) -> tuple[FormField, ...]:
    """The pre-conversation form's fields; empty when none is configured."""
    form = v1.pre_conversation_form
    return tuple(form.fields) if form is not None else ()
