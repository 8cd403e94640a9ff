"""The widget's states, accessibility and look in a real browser, with a stand-in for
livekit-client's Room (tests/system/browser/fake_room.js) injected into the iframe: connecting,
connected (listening / thinking / agent speaking), the transcript as it arrives, reconnecting,
ended, an error with a retry; the dialog's focus and keyboard use; axe-core on every state and
theme (zero violations)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.ids import new_id
from tests.support.paths import ROOT
from tests.support.seed import seed_agent_version, seed_widget
from tests.system.browser.harness import (
    Stack,
    chromium,
    fresh_context,
    missing_requirement,
    open_widget,
    visit,
    wait_event,
    widget_frame,
)

_MISSING = missing_requirement()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"BROWSER TESTS SKIPPED: {_MISSING}")

if _MISSING is None:
    from playwright.sync_api import Browser, Page, expect

HERE = Path(__file__).resolve().parent
FAKE_ROOM = HERE / "fake_room.js"
AXE = ROOT / "runtime_service/embed/web/node_modules/axe-core/axe.min.js"
# EMBED_SCREENSHOTS=1 writes the screenshots into the docs (make screenshots); otherwise they
# go to test-artifacts/, so an ordinary run leaves the worktree as it was.
SCREENS = (
    ROOT / "docs/embed-screens"
    if os.environ.get("EMBED_SCREENSHOTS") == "1"
    else ROOT / "test-artifacts/embed-screens"
)

FEEDBACK = {
    "enabled": True,
    "form": {
        "id": "fb",
        "fields": [{"id": "rating", "type": "rating", "label": "Rating", "required": True}],
    },
}
AVATAR = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGNQTX6NFTEMLQkADGRcwch"
    "t3uAAAAAASUVORK5CYII="
)
# Each widget's config.v1 by name.
CONFIGS: dict[str, dict[str, Any]] = {
    "light": {"theme": "light", "post_conversation_feedback": FEEDBACK},
    "dark": {
        "theme": "dark",
        "agent_name": "Ada from Acme",
        "agent_avatar": AVATAR,
        "post_conversation_feedback": FEEDBACK,
    },
    "branded": {
        "theme": "light",
        "agent_name": "Ada from Acme",
        "agent_avatar": AVATAR,
        "post_conversation_feedback": FEEDBACK,
    },
    "form": {
        "theme": "light",
        "pre_conversation_show_once": False,
        "pre_conversation_form": {
            "id": "pre",
            "fields": [
                {"id": "name", "type": "text", "label": "Name", "required": True},
                {"id": "email", "type": "email", "label": "E-mail"},
                {"id": "phone", "type": "phone", "label": "Phone"},
                {"id": "plan", "type": "select", "label": "Plan", "options": ["free", "pro"]},
            ],
        },
    },
    "padded": {"trigger": {"padding": 4, "position": "bottom-right", "size": 48}},
    "arabic": {"theme": "light", "locale": "ar", "post_conversation_feedback": FEEDBACK},
    "overrides": {"locale": "fr", "strings": {"start": "On discute ?", "title": "Aide"}},
    # Text colours that would be unreadable on their backgrounds: adjusted in the browser.
    "clashing": {
        "theme": "light",
        "chat": {
            "light_mode": {
                "background_color": {"user_message": "#ffff00", "controls_button": "#777"},
                "text_color": {"user_message": "#ffffff", "controls_button": "#888888"},
            }
        },
    },
}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    stack = Stack()
    try:

        async def seed(redis: Any, keys: Any) -> dict[str, str]:
            vision = {"enabled": True, "video_input": True, "screen_share": False}
            version = await seed_agent_version(redis, keys, new_id(), vision=vision)
            ids = {}
            for name, v1 in CONFIGS.items():
                widget = await seed_widget(redis, keys, version, domains=[], config={"v1": v1})
                ids[name] = widget.id
            return ids

        stack.ids = stack.seed(seed)  # type: ignore[attr-defined]
        yield stack.start(stack.ids["light"])  # type: ignore[attr-defined]
    finally:
        stack.close()


@pytest.fixture(scope="module")
def ids(stack: Stack) -> dict[str, str]:
    return stack.ids  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Web Audio runs without a gesture, as after the visitor's click in real use.
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[Any]:
    with fresh_context(browser, FAKE_ROOM, viewport={"width": 1200, "height": 800}) as context:
        yield context


@pytest.fixture
def page(context: Any) -> Page:
    page: Page = context.new_page()
    return page


def room(frame: Any, call: str) -> Any:
    """Runs ``call`` on the newest fake room, e.g. ``speakers(['agent'])``."""
    return frame.evaluate(f"window.fakeRooms.at(-1).{call}")


def state_of(frame: Any) -> tuple[str, str | None]:
    window = frame.locator(".aw-window")
    return window.get_attribute("data-state") or "", window.get_attribute("data-activity")


def expect_state(frame: Any, name: str, activity: str | None = None) -> None:
    window = frame.locator(".aw-window")
    expect(window).to_have_attribute("data-state", name)
    if activity:
        expect(window).to_have_attribute("data-activity", activity)


def start_call(page: Page, frame: Any) -> None:
    frame.locator(".aw-start").click()
    wait_event(page, "conversation-started")


# --- the states ------------------------------------------------------------------------------


def test_every_state_of_a_call_one_at_a_time(page: Page, stack: Stack, ids: dict[str, str]) -> None:
    page.add_init_script("window.fakeRoomMode = 'manual'")
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    expect_state(frame, "idle")
    start_call(page, frame)

    # Connecting: one status; every control but "end" disabled, with the reason.
    expect_state(frame, "connecting")
    status = frame.locator(".aw-status")
    expect(status).to_have_text("Connecting…")
    for selector in (".aw-mic", ".aw-camera", ".aw-input", ".aw-send"):
        control = frame.locator(selector)
        expect(control).to_be_disabled()
        assert control.get_attribute("title") == "Available once connected"
        assert control.get_attribute("aria-describedby") == "aw-status"
    expect(frame.locator(".aw-end")).to_be_enabled()

    # Connected: listening, controls enabled, focus inside the dialog.
    frame.evaluate("window.fakeRelease()")
    expect_state(frame, "connected", "listening")
    expect(status).to_have_text("Connected. Listening")
    for selector in (".aw-mic", ".aw-camera", ".aw-input", ".aw-send"):
        expect(frame.locator(selector)).to_be_enabled()
    assert frame.locator(".aw-mic").get_attribute("title") == "Microphone"
    assert frame.evaluate("document.querySelector('.aw-window').contains(document.activeElement)")

    # The agent's activity, from the active speakers and from its lk.agent.state attribute.
    room(frame, "speakers(['agent'])")
    expect_state(frame, "connected", "speaking")
    expect(status).to_have_text("Agent is speaking")
    room(frame, "speakers([])")
    expect_state(frame, "connected", "listening")
    room(frame, "speakers(['visitor'])")
    expect_state(frame, "connected", "listening")
    room(frame, "agentState('thinking')")
    expect_state(frame, "connected", "thinking")
    expect(status).to_have_text("Agent is thinking")
    room(frame, "agentState('speaking')")
    expect_state(frame, "connected", "speaking")
    room(frame, "agentState('listening')")
    expect_state(frame, "connected", "listening")

    # The transcript as it arrives: one bubble, growing chunk by chunk.
    frame.evaluate("window.agentText = window.fakeRooms.at(-1).stream('lk.transcription')")
    frame.evaluate("window.agentText.push('Hello')")
    bubble = frame.locator(".aw-message.aw-agent")
    expect(bubble).to_have_text("Hello")
    frame.evaluate("window.agentText.push(', how can I help?')")
    expect(bubble).to_have_text("Hello, how can I help?")
    frame.evaluate("window.agentText.close()")
    assert bubble.count() == 1

    # Text typed by the visitor goes out on lk.chat.
    frame.locator(".aw-input").fill("Where is my order?")
    frame.locator(".aw-input").press("Enter")
    expect(frame.locator(".aw-message.aw-user")).to_have_text("Where is my order?")
    sent = frame.evaluate("window.fakeRooms.at(-1).localParticipant.sent")
    assert sent == [{"text": "Where is my order?", "topic": "lk.chat"}]

    # Reconnecting: controls disabled again; reconnected: back to connected.
    room(frame, "reconnecting()")
    expect_state(frame, "reconnecting")
    expect(status).to_have_text("Connection lost. Reconnecting…")
    expect(frame.locator(".aw-input")).to_be_disabled()
    expect(frame.locator(".aw-end")).to_be_enabled()
    room(frame, "reconnected()")
    expect_state(frame, "connected", "listening")
    expect(frame.locator(".aw-input")).to_be_enabled()

    # The room closes on its own (the agent ended the call): ended, and feedback is asked.
    room(frame, "drop()")
    wait_event(page, "conversation-ended")
    expect_state(frame, "ended")
    expect(frame.locator(".aw-feedback")).to_be_visible()
    expect(frame.locator(".aw-control")).to_have_count(0)


def test_the_visitor_ends_a_connected_call_and_is_asked_for_feedback(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["dark"])
    frame = open_widget(page)
    start_call(page, frame)
    expect_state(frame, "connected", "listening")
    frame.locator(".aw-end").click()
    wait_event(page, "conversation-ended")
    expect_state(frame, "ended")
    expect(frame.locator(".aw-feedback")).to_be_visible()


def test_a_call_that_cannot_connect_shows_only_the_error_and_a_retry(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    page.add_init_script("window.fakeRoomMode = 'fail'")
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    start_call(page, frame)
    expect_state(frame, "error")
    expect(frame.locator(".aw-status")).to_have_text("Could not connect to the voice service.")
    assert "Connecting" not in frame.locator(".aw-window").inner_text()
    expect(frame.locator(".aw-control")).to_have_count(0)
    expect(frame.locator(".aw-input")).to_have_count(0)
    expect(frame.locator(".aw-retry")).to_be_focused()
    # Try again with the server back: connected.
    frame.evaluate("window.fakeRoomMode = 'connect'")
    frame.locator(".aw-retry").click()
    expect_state(frame, "connected", "listening")
    assert frame.evaluate("window.fakeRooms.length") == 2


def test_a_call_that_never_connected_asks_no_feedback(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    page.add_init_script("window.fakeRoomMode = 'fail'")
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    start_call(page, frame)
    expect_state(frame, "error")
    frame.locator(".aw-cancel").click()
    wait_event(page, "conversation-ended")
    expect_state(frame, "ended")
    expect(frame.locator(".aw-status")).to_have_text("The conversation has ended.")
    expect(frame.locator(".aw-feedback")).to_have_count(0)
    expect(frame.locator(".aw-again")).to_be_visible()


def test_a_refused_start_is_an_error_with_a_retry(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    page.route(
        "**/conversations",
        lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"detail": "Try later"}'
        ),
    )
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    frame.locator(".aw-start").click()
    expect_state(frame, "error")
    expect(frame.locator(".aw-status")).to_have_text("Could not start the conversation: Try later")
    page.unroute("**/conversations")
    frame.locator(".aw-retry").click()
    expect_state(frame, "connected", "listening")


# --- accessibility ---------------------------------------------------------------------------


def axe_violations(frame: Any) -> list[str]:
    """axe-core's violations in the frame (WCAG 2 A/AA and best practices), as readable lines.
    The script is evaluated through the DevTools protocol, which the frame's CSP does not
    govern: axe-core never enters the shipped bundle."""
    if not frame.evaluate("typeof window.axe !== 'undefined'"):
        frame.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result: list[str] = frame.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.map(v => v.id + ': ' + v.help + ' -> '
            + v.nodes.map(n => n.target.join(' ')).join(', '));
        }"""
    )
    return result


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_nothing_in_any_state(
    page: Page, stack: Stack, ids: dict[str, str], theme: str
) -> None:
    page.add_init_script("window.fakeRoomMode = 'manual'")
    visit(page, stack, ids[theme])
    frame = widget_frame(page)
    wait_event(page, "ready")
    seen: dict[str, list[str]] = {"closed": axe_violations(frame)}
    frame.locator(".aw-launcher").click()
    wait_event(page, "opened")
    seen["idle"] = axe_violations(frame)
    start_call(page, frame)
    expect_state(frame, "connecting")
    seen["connecting"] = axe_violations(frame)
    frame.evaluate("window.fakeRelease()")
    expect_state(frame, "connected", "listening")
    frame.evaluate("window.t = window.fakeRooms.at(-1).stream('lk.transcription')")
    frame.evaluate("window.t.push('Hello there')")
    frame.locator(".aw-input").fill("Hi")
    frame.locator(".aw-input").press("Enter")
    expect(frame.locator(".aw-message.aw-agent")).to_have_text("Hello there")
    seen["connected"] = axe_violations(frame)
    room(frame, "speakers(['agent'])")
    expect_state(frame, "connected", "speaking")
    seen["speaking"] = axe_violations(frame)
    room(frame, "reconnecting()")
    expect_state(frame, "reconnecting")
    seen["reconnecting"] = axe_violations(frame)
    room(frame, "reconnected()")
    frame.locator(".aw-end").click()
    expect(frame.locator(".aw-feedback")).to_be_visible()
    frame.locator('.aw-star[data-value="3"]').click()
    seen["feedback"] = axe_violations(frame)
    frame.locator(".aw-feedback button[type=submit]").click()
    expect(frame.locator(".aw-thanks")).to_be_visible()
    seen["thanks"] = axe_violations(frame)
    frame.evaluate("window.fakeRoomMode = 'fail'")
    frame.locator(".aw-again").click()
    start_call(page, frame)
    expect_state(frame, "error")
    seen["error"] = axe_violations(frame)
    assert {state: found for state, found in seen.items() if found} == {}


def test_the_panel_is_a_labelled_modal_dialog_with_focus_managed(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["light"])
    frame = widget_frame(page)
    wait_event(page, "ready")
    dialog = frame.locator(".aw-window")
    assert dialog.get_attribute("role") == "dialog"
    assert dialog.get_attribute("aria-modal") == "true"
    label = frame.locator("#" + (dialog.get_attribute("aria-labelledby") or "missing"))
    expect(label).to_have_text("Chat")
    assert frame.locator("[role=status]").count() == 1
    launcher = frame.locator(".aw-launcher")
    launcher.click()
    wait_event(page, "opened")
    expect(frame.locator(".aw-start")).to_be_focused()
    assert launcher.get_attribute("aria-expanded") == "true"
    assert launcher.get_attribute("aria-label") == "Close chat"
    frame.locator(".aw-close").click()
    wait_event(page, "closed")
    expect(launcher).to_be_focused()
    assert launcher.get_attribute("aria-label") == "Open chat"


def test_keyboard_only_use(page: Page, stack: Stack, ids: dict[str, str]) -> None:
    visit(page, stack, ids["light"])
    frame = widget_frame(page)
    wait_event(page, "ready")
    frame.locator(".aw-launcher").focus()
    page.keyboard.press("Enter")
    wait_event(page, "opened")
    expect(frame.locator(".aw-start")).to_be_focused()
    # The focused control shows a focus ring.
    outline = frame.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect_state(frame, "connected", "listening")
    # Tab stays inside the dialog and reaches the composer.
    for _ in range(12):
        if frame.evaluate("document.activeElement.classList.contains('aw-input')"):
            break
        page.keyboard.press("Tab")
        assert frame.evaluate(
            "document.querySelector('.aw-window').contains(document.activeElement)"
        )
    page.keyboard.type("Typed only")
    page.keyboard.press("Enter")
    expect(frame.locator(".aw-message.aw-user")).to_have_text("Typed only")
    # Shift+Tab from the first control wraps to the last one.
    frame.locator(".aw-close").focus()
    page.keyboard.press("Shift+Tab")
    expect(frame.locator(".aw-end")).to_be_focused()
    page.keyboard.press("Enter")
    expect_state(frame, "ended")
    page.keyboard.press("Escape")
    wait_event(page, "closed")
    expect(frame.locator(".aw-launcher")).to_be_focused()


def test_reduced_motion_turns_the_animation_off(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    start_call(page, frame)
    room(frame, "speakers(['agent'])")
    expect_state(frame, "connected", "speaking")
    bar = frame.locator(".aw-visual span").first
    assert bar.evaluate("el => getComputedStyle(el).animationName") == "aw-pulse"
    page.emulate_media(reduced_motion="reduce")
    assert bar.evaluate("el => getComputedStyle(el).animationName") == "none"


def test_unreadable_configured_text_colours_are_adjusted(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["clashing"])
    frame = widget_frame(page)
    wait_event(page, "ready")
    # White on yellow and #888 on #777 fail AA: black replaces both; the backgrounds stay.
    launcher = frame.locator(".aw-launcher")
    colours = launcher.evaluate(
        "el => { const s = getComputedStyle(el); return [s.backgroundColor, s.color]; }"
    )
    assert colours == ["rgb(255, 255, 0)", "rgb(0, 0, 0)"]
    launcher.click()
    start = frame.locator(".aw-start")
    colours = start.evaluate(
        "el => { const s = getComputedStyle(el); return [s.backgroundColor, s.color]; }"
    )
    assert colours == ["rgb(119, 119, 119)", "rgb(0, 0, 0)"]
    assert axe_violations(frame) == []


def test_axe_reports_a_violation_when_there_is_one(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    # The check above can fail: an unlabelled button added to the frame is reported.
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    frame.evaluate("document.querySelector('.aw-body').append(document.createElement('button'))")
    assert any(line.startswith("button-name") for line in axe_violations(frame))


# --- the look --------------------------------------------------------------------------------


def test_header_shows_the_agents_name_and_avatar(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["branded"])
    frame = open_widget(page)
    expect(frame.locator(".aw-title")).to_have_text("Ada from Acme")
    avatar = frame.locator(".aw-avatar")
    expect(avatar).to_be_visible()
    assert avatar.evaluate("img => img.complete && img.naturalWidth") == 8
    # The dialog is labelled by the name.
    assert frame.locator("[role=dialog]").get_attribute("aria-labelledby") == "aw-title"


def test_the_launcher_turns_into_a_close_button_while_open(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["light"])
    frame = widget_frame(page)
    wait_event(page, "ready")
    shown = "el => [...el.querySelectorAll('svg')].map(s => getComputedStyle(s).display)"
    launcher = frame.locator(".aw-launcher")
    assert launcher.evaluate(shown) == ["block", "none"]
    launcher.click()
    wait_event(page, "opened")
    assert launcher.evaluate(shown) == ["none", "block"]
    launcher.click()
    wait_event(page, "closed")
    assert launcher.evaluate(shown) == ["block", "none"]


@pytest.mark.parametrize("viewport", [(1200, 800), (375, 667)])
def test_shadows_fit_inside_the_iframe(
    browser: Browser, stack: Stack, ids: dict[str, str], viewport: tuple[int, int]
) -> None:
    with fresh_context(browser, viewport={"width": viewport[0], "height": viewport[1]}) as context:
        page = context.new_page()
        visit(page, stack, ids["light"])
        frame = open_widget(page)
        # Each box plus its shadow's reach (offset + blur + spread) stays inside the frame.
        overflow = frame.evaluate(
            r"""() => ['.aw-window', '.aw-launcher'].map(sel => {
              const el = document.querySelector(sel);
              const r = el.getBoundingClientRect();
              const m = getComputedStyle(el).boxShadow.match(/(-?[\d.]+)px/g).map(parseFloat);
              const [x, y, blur, spread] = [m[0], m[1], m[2] || 0, m[3] || 0];
              const reach = blur + spread;
              return Math.min(r.left + x - reach, r.top + y - reach,
                innerWidth - (r.right + x + reach), innerHeight - (r.bottom + y + reach));
            })"""
        )
        assert min(overflow) >= 0, overflow


def test_the_visual_follows_the_agents_audio(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    start_call(page, frame)
    expect_state(frame, "connected", "listening")
    visual = frame.locator(".aw-visual")
    room(frame, "agentAudio()")
    expect(visual).to_have_attribute("data-live", "true")
    room(frame, "speakers(['agent'])")
    # Web Audio reads the oscillator's level into --aw-level; the bars scale by it.
    page.wait_for_timeout(300)  # a few animation frames
    level = visual.evaluate("el => parseFloat(el.style.getPropertyValue('--aw-level'))")
    assert level > 0
    bar = frame.locator(".aw-visual span").first
    assert bar.evaluate("el => getComputedStyle(el).transform") != "none"
    # Ending the call stops the reading (the visual leaves the DOM with the call view).
    frame.evaluate("window.visual = document.querySelector('.aw-visual')")
    frame.locator(".aw-end").click()
    expect_state(frame, "ended")
    assert frame.evaluate("window.visual.dataset.live === undefined")


# --- every language --------------------------------------------------------------------------


def started_body(page: Page, click: Any) -> dict[str, Any]:
    with page.expect_request(
        lambda r: r.url.endswith("/conversations") and r.method == "POST"
    ) as info:
        click()
    body = info.value.post_data_json
    assert isinstance(body, dict)
    return body


def test_the_browsers_language_is_used_when_the_widget_fixes_none(
    browser: Browser, stack: Stack, ids: dict[str, str]
) -> None:
    with fresh_context(browser, FAKE_ROOM, locale="de-DE") as context:
        page = context.new_page()
        visit(page, stack, ids["light"])
        frame = open_widget(page)
        assert frame.evaluate("[document.documentElement.lang, document.dir]") == ["de-DE", "ltr"]
        expect(frame.locator(".aw-start")).to_have_text("Gespräch beginnen")
        assert frame.locator(".aw-launcher").get_attribute("aria-label") == "Chat schließen"
        body = started_body(page, frame.locator(".aw-start").click)
        assert body["locale"] == "de-DE"
        expect(frame.locator(".aw-status")).to_have_text("Verbunden. Hört zu")


def test_the_loaders_locale_parameter_picks_the_language(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["light"], loader="locale=ja")
    frame = open_widget(page)
    expect(frame.locator(".aw-start")).to_have_text("会話を始める")
    assert started_body(page, frame.locator(".aw-start").click)["locale"] == "ja"


def test_a_fixed_locale_with_string_overrides(
    browser: Browser, stack: Stack, ids: dict[str, str]
) -> None:
    # The widget's own locale wins over the browser's.
    with fresh_context(browser, FAKE_ROOM, locale="de-DE") as context:
        page = context.new_page()
        visit(page, stack, ids["overrides"])
        frame = open_widget(page)
        assert frame.evaluate("document.documentElement.lang") == "fr"
        expect(frame.locator(".aw-start")).to_have_text("On discute ?")
        expect(frame.locator(".aw-title")).to_have_text("Aide")
        greeting = "Bonjour ! Comment pouvons-nous vous aider ?"
        expect(frame.locator(".aw-intro")).to_have_text(greeting)
        assert started_body(page, frame.locator(".aw-start").click)["locale"] == "fr"


def test_arabic_is_right_to_left_and_passes_axe(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["arabic"])
    frame = widget_frame(page)
    wait_event(page, "ready")
    assert frame.evaluate("[document.documentElement.lang, document.dir]") == ["ar", "rtl"]
    launcher = frame.locator(".aw-launcher")
    launcher.click()
    wait_event(page, "opened")
    expect(frame.locator(".aw-start")).to_have_text("بدء المحادثة")
    # The window reads right to left; the launcher stays in its configured corner.
    assert frame.locator(".aw-window").evaluate("el => getComputedStyle(el).direction") == "rtl"
    box = launcher.bounding_box()
    assert box is not None and box["x"] > 300  # bottom-right
    title = frame.locator(".aw-title").bounding_box()
    close = frame.locator(".aw-close").bounding_box()
    assert title is not None and close is not None and title["x"] > close["x"]
    assert axe_violations(frame) == []
    start_call(page, frame)
    expect_state(frame, "connected", "listening")
    frame.evaluate("window.fakeRooms.at(-1).stream('lk.transcription').push('مرحبا')")
    frame.locator(".aw-input").fill("سلام")
    frame.locator(".aw-input").press("Enter")
    agent = frame.locator(".aw-message.aw-agent").bounding_box()
    mine = frame.locator(".aw-message.aw-user").bounding_box()
    assert agent is not None and mine is not None and agent["x"] > mine["x"]
    assert axe_violations(frame) == []


# --- the host page's context and the pre-conversation form ---------------------------------


def test_context_from_data_attributes_and_set_context_travels_with_the_next_start(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    # "clashing" has no feedback form: "New conversation" follows the end at once.
    visit(page, stack, ids["clashing"], data=json.dumps({"page": "pricing", "plan": "free"}))
    # Before the iframe is ready: queued and delivered.
    page.evaluate("AnyreachWidget.setContext({customer: {name: 'Ada'}, plan: 'pro'})")
    frame = open_widget(page)
    body = started_body(page, frame.locator(".aw-start").click)
    assert body["custom_metadata"] == {
        "context": {"page": "pricing", "plan": "pro", "customer": {"name": "Ada"}}
    }
    expect_state(frame, "connected", "listening")
    # A new context replaces what setContext gave before (the attributes stay under it).
    page.evaluate("AnyreachWidget.setContext({order: 'A-1042'})")
    frame.locator(".aw-end").click()
    frame.locator(".aw-again").click()
    body = started_body(page, frame.locator(".aw-start").click)
    assert body["custom_metadata"] == {
        "context": {"page": "pricing", "plan": "free", "order": "A-1042"}
    }


def test_a_context_breaking_the_bounds_is_not_sent(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    visit(page, stack, ids["light"])
    frame = open_widget(page)
    page.evaluate("AnyreachWidget.setContext({blob: 'x'.repeat(5000)})")
    page.wait_for_timeout(200)
    body = started_body(page, frame.locator(".aw-start").click)
    assert body["custom_metadata"] == {}
    assert any("larger than 4096 bytes" in text for text in errors)
    page.evaluate("AnyreachWidget.setContext({a: {b: {c: {d: 1}}}})")
    assert page.evaluate(
        "() => { try { AnyreachWidget.setContext([1]); return 'accepted'; }"
        " catch (e) { return e.name; } }"
    ) == "TypeError"
    page.wait_for_timeout(200)
    assert any("deeper than 3 levels" in text for text in errors)


def test_the_form_is_validated_in_the_widget_and_on_the_server(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    starts: list[str] = []
    page.on(
        "request",
        lambda r: starts.append(r.url)
        if r.method == "POST" and r.url.endswith("/conversations") else None,
    )  # fmt: skip
    visit(page, stack, ids["form"])
    frame = open_widget(page)
    frame.locator(".aw-start").click()
    form = frame.locator(".aw-preform")
    error = form.locator(".aw-error")
    form.locator("button[type=submit]").click()
    expect(error).to_have_text("“Name” is required.")
    expect(form.locator("#aw-field-name")).to_be_focused()
    form.locator("#aw-field-name").fill("Ada")
    form.locator("#aw-field-email").fill("not an address")
    form.locator("button[type=submit]").click()
    expect(error).to_have_text("“E-mail” is not valid.")
    expect(form.locator("#aw-field-email")).to_be_focused()
    form.locator("#aw-field-email").fill("ada@example.com")
    form.locator("#aw-field-phone").fill("call me")
    form.locator("button[type=submit]").click()
    expect(error).to_have_text("“Phone” is not valid.")
    assert starts == []
    assert axe_violations(frame) == []
    form.locator("#aw-field-phone").fill("+44 20 7946 0958")
    form.locator("#aw-field-plan").select_option("pro")
    body = started_body(page, form.locator("button[type=submit]").click)
    assert body["custom_metadata"] == {
        "name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0958", "plan": "pro"
    }
    # The server applies the same definition to a start the widget would not send.
    status = frame.evaluate(
        """async ([id, user]) => (await fetch(`/core/public/web-widgets/${id}/conversations`, {
          method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({user_id: user, custom_metadata: {name: 'Ada', plan: 'gold'}})
        })).status""",
        [ids["form"], body["user_id"]],
    )
    assert status == 422


def test_trigger_padding_is_the_launchers_distance_from_the_page_edges(
    page: Page, stack: Stack, ids: dict[str, str]
) -> None:
    visit(page, stack, ids["padded"])
    frame = widget_frame(page)
    wait_event(page, "ready")
    iframe = page.locator("iframe[data-anyreach-widget]").bounding_box()
    assert iframe is not None and iframe["width"] == 48 + 4 + 16
    launcher = frame.locator(".aw-launcher").bounding_box()
    assert launcher is not None
    right = 1200 - (launcher["x"] + launcher["width"])
    bottom = 800 - (launcher["y"] + launcher["height"])
    assert (right, bottom) == (4, 4)


# --- screenshots for docs/embed.md -----------------------------------------------------------

SCREEN_SIZES = {"desktop": (1200, 800), "phone": (375, 667)}


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_each_state(
    browser: Browser, stack: Stack, ids: dict[str, str], theme: str, size: str
) -> None:
    width, height = SCREEN_SIZES[size]
    SCREENS.mkdir(parents=True, exist_ok=True)
    with fresh_context(browser, FAKE_ROOM, viewport={"width": width, "height": height}) as context:
        context.add_init_script("window.fakeRoomMode = 'manual'")
        page = context.new_page()
        visit(page, stack, ids["branded" if theme == "light" else "dark"])
        frame = open_widget(page)
        iframe = page.locator("iframe[data-anyreach-widget]")

        def shot(state: str) -> None:
            path = SCREENS / f"{state}-{theme}-{size}.png"
            iframe.screenshot(path=str(path), animations="disabled", omit_background=True)
            assert path.stat().st_size < 60_000, path

        shot("idle")
        start_call(page, frame)
        expect_state(frame, "connecting")
        shot("connecting")
        frame.evaluate("window.fakeRelease()")
        expect_state(frame, "connected", "listening")
        frame.locator(".aw-input").fill("Where is my order A-1042?")
        frame.locator(".aw-input").press("Enter")
        frame.evaluate("window.t = window.fakeRooms.at(-1).stream('lk.transcription')")
        frame.evaluate("window.t.push('It left our warehouse this morning and arrives Friday.')")
        expect(frame.locator(".aw-message.aw-agent")).to_be_visible()
        room(frame, "speakers(['agent'])")
        expect_state(frame, "connected", "speaking")
        # The level the agent's voice would give the bars (no real audio here).
        frame.evaluate(
            "() => { const v = document.querySelector('.aw-visual'); v.dataset.live = 'true';"
            " v.style.setProperty('--aw-level', '0.55'); }"
        )
        frame.evaluate("document.activeElement.blur()")
        shot("speaking")
        room(frame, "reconnecting()")
        expect_state(frame, "reconnecting")
        shot("reconnecting")
        room(frame, "reconnected()")
        frame.locator(".aw-end").click()
        expect(frame.locator(".aw-feedback")).to_be_visible()
        frame.locator('.aw-star[data-value="4"]').click()
        shot("feedback")
        frame.evaluate("window.fakeRoomMode = 'fail'")
        frame.locator(".aw-feedback button[type=submit]").click()
        frame.locator(".aw-again").click()
        start_call(page, frame)
        expect_state(frame, "error")
        shot("error")
