"""The embed in a real browser (Debian's chromium through Playwright, headless), against the
real runtime service and a host page on a second origin: the allowed-domains rule, the
parentOrigin rule, the launcher and JavaScript API, a conversation up to the LiveKit connection
attempt and its error state, the pre-conversation form's show-once cache, single-submission
feedback after a connected call (a stand-in Room, tests/system/browser/fake_room.js), and the
visitor id (a random v4 UUID per widget)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from common.ids import new_id
from tests.support.paths import ROOT
from tests.support.seed import seed_agent_version, seed_widget
from tests.system.browser.harness import (
    IFRAME,
    Stack,
    chromium,
    fresh_context,
    missing_requirement,
    open_widget,
    refusal,
    visit,
    wait_event,
    widget_frame,
)

_MISSING = missing_requirement()
pytestmark = pytest.mark.skipif(
    _MISSING is not None, reason=f"BROWSER TESTS SKIPPED: {_MISSING}"
)

if _MISSING is None:
    from playwright.sync_api import Browser, Page, expect

ARTIFACTS = ROOT / "test-artifacts"
FAKE_ROOM = ROOT / "tests/system/browser/fake_room.js"

CONFIG: dict[str, Any] = {
    "v1": {
        "theme": "dark",
        "trigger": {"shape": "square", "size": 64, "position": "bottom-left"},
        "chat": {
            "dark_mode": {
                "background_color": {"user_message": "#ff5500", "controls_button": "#0055ff"},
                "text_color": {"user_message": "#ffffff", "controls_button": "#ffffff"},
            }
        },
        "pre_conversation_form": {
            "id": "pre",
            "title": "Before we start",
            "submit_label": "Start",
            "fields": [{"id": "name", "type": "text", "label": "Your name", "required": True}],
        },
        "post_conversation_feedback": {
            "enabled": True,
            "thank_you_text": "Thanks for the feedback!",
            "form": {
                "id": "fb",
                "title": "How did it go?",
                "submit_label": "Send",
                "fields": [
                    {"id": "rating", "type": "rating", "label": "Rating", "required": True},
                    {"id": "comment", "type": "textarea", "label": "Comment"},
                ],
            },
        },
    }
}


class Widgets:
    def __init__(self, stack: Stack) -> None:
        async def seed(redis: Any, keys: Any) -> tuple[str, str]:
            # Camera yes, screen share no: the buttons must follow.
            vision = {"enabled": True, "video_input": True, "screen_share": False}
            version = await seed_agent_version(redis, keys, new_id(), vision=vision)
            allowed = await seed_widget(
                redis, keys, version, domains=[stack.host()], config=CONFIG
            )
            anywhere = await seed_widget(redis, keys, version, domains=[], config={})
            return allowed.id, anywhere.id

        self.allowed, self.anywhere = stack.seed(seed)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    stack = Stack()
    try:
        stack.widgets = Widgets(stack)  # type: ignore[attr-defined]
        yield stack.start(stack.widgets.allowed)  # type: ignore[attr-defined]
    finally:
        stack.close()


@pytest.fixture(scope="module")
def widgets(stack: Stack) -> Widgets:
    return stack.widgets  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    fake_media = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
    with chromium(*fake_media) as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[Any]:
    with fresh_context(browser, viewport={"width": 1200, "height": 800}) as context:
        yield context


@pytest.fixture
def page(context: Any) -> Page:
    return context.new_page()


# --- allowed domains and parentOrigin --------------------------------------------------------


def test_loader_renders_on_an_allowed_origin(page: Page, stack: Stack, widgets: Widgets) -> None:
    visit(page, stack, widgets.allowed)
    frame = widget_frame(page)
    wait_event(page, "ready")
    src = page.locator(IFRAME).get_attribute("src") or ""
    assert src.startswith(f"{stack.runtime}/public/embed/{widgets.allowed}/frame?")
    assert parse_qs(urlsplit(src).query)["parentOrigin"] == [stack.host()]
    # Styled from config.v1: dark theme, square 64 px launcher in the primary colour.
    launcher = frame.locator(".aw-launcher")
    expect(launcher).to_be_visible()
    style = launcher.evaluate(
        "el => { const s = getComputedStyle(el);"
        " return [s.width, s.borderTopLeftRadius, s.backgroundColor]; }"
    )
    assert style == ["64px", "12px", "rgb(255, 85, 0)"]
    assert frame.evaluate("document.documentElement.dataset.theme") == "dark"
    # bottom-left: the iframe sits at the page's left edge and bottom.
    box = page.locator(IFRAME).bounding_box()
    assert box is not None and box["x"] == 0 and box["y"] + box["height"] == 800


def test_loader_refuses_another_origin(page: Page, stack: Stack, widgets: Widgets) -> None:
    # localhost and 127.0.0.1 are different origins: only the latter is in the domains list.
    with page.expect_console_message(refusal) as message:
        visit(page, stack, widgets.allowed, host="localhost")
    assert "is not in the allowed domains" in message.value.text
    assert stack.host("localhost") in message.value.text
    page.wait_for_load_state("load")
    assert page.locator("iframe").count() == 0
    assert page.evaluate("typeof window.AnyreachWidget") == "undefined"


def test_spoofed_parent_origin_is_ignored(page: Page, stack: Stack, widgets: Widgets) -> None:
    spoof = "https://evil.example"
    visit(
        page, stack, widgets.allowed,
        parentOrigin=spoof, loader=f"parentOrigin={quote(spoof)}&lang=fr",
    )  # fmt: skip
    src = page.locator(IFRAME).get_attribute("src") or ""
    query = parse_qs(urlsplit(src).query)
    assert query["parentOrigin"] == [stack.host()]
    assert query["lang"] == ["fr"], "other loader parameters are passed on"
    # The frame talks to the real origin: its messages arrive.
    wait_event(page, "ready")


def test_spoofed_parent_origin_does_not_unlock_another_origin(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    with page.expect_console_message(refusal) as message:
        visit(
            page, stack, widgets.allowed, host="localhost",
            parentOrigin=stack.host(), loader=f"parentOrigin={quote(stack.host())}",
        )  # fmt: skip
    assert "is not in the allowed domains" in message.value.text
    page.wait_for_load_state("load")
    assert page.locator("iframe").count() == 0


def test_frame_ancestors_refuse_framing_the_iframe_directly(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    # A page on a disallowed origin skips the loader and frames the iframe page itself, claiming
    # an allowed parentOrigin: the server's frame-ancestors stops the browser from rendering it.
    visit(page, stack, widgets.anywhere, host="localhost")
    wait_event(page, "ready")
    url = f"{stack.runtime}/public/embed/{widgets.allowed}/frame?parentOrigin={stack.host()}"
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as message:
        page.evaluate(
            "url => { const f = document.createElement('iframe'); f.id = 'direct';"
            " f.src = url; document.body.appendChild(f); }",
            url,
        )
    assert "Content Security Policy" in message.value.text
    assert page.frame_locator("#direct").locator(".aw-launcher").count() == 0


# --- launcher and JavaScript API -------------------------------------------------------------


def test_launcher_opens_and_the_api_closes_and_reopens(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    visit(page, stack, widgets.allowed)
    frame = open_widget(page)
    expect(frame.locator(".aw-window")).to_be_visible()
    assert page.evaluate("AnyreachWidget.isOpen()") is True
    box = page.locator(IFRAME).bounding_box()
    assert box is not None and box["width"] == 400 and box["height"] == 680

    page.evaluate("AnyreachWidget.close()")
    wait_event(page, "closed")
    expect(frame.locator(".aw-window")).to_be_hidden()
    box = page.locator(IFRAME).bounding_box()
    assert box is not None and box["width"] == 64 + 32

    page.evaluate("AnyreachWidget.open()")
    wait_event(page, "opened", count=2)
    expect(frame.locator(".aw-window")).to_be_visible()


# --- a conversation --------------------------------------------------------------------------


def start_with_form(page: Page, frame: Any, name: str) -> tuple[dict[str, Any], Any]:
    form = frame.locator(".aw-preform")
    expect(form).to_be_visible()
    form.locator("#aw-field-name").fill(name)
    with page.expect_response(
        lambda r: r.url.endswith("/conversations") and r.request.method == "POST"
    ) as info:
        form.locator("button[type=submit]").click()
    response = info.value
    assert response.status == 200, response.text()
    return response.json(), response.request


def test_conversation_connects_to_livekit_and_fails_into_the_error_state(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    visit(page, stack, widgets.allowed)
    frame = open_widget(page)
    frame.locator(".aw-start").click()

    started, request = start_with_form(page, frame, "Ada")
    assert request.post_data_json["custom_metadata"] == {"name": "Ada"}
    details = started["connection_details"]
    assert details["url"] == stack.livekit_url and details["token"]
    assert started["capabilities"] == {"supportsVideoInput": True, "supportsScreenShare": False}

    # The host page hears about it (conversation id only: the token stays in the iframe).
    [event] = wait_event(page, "conversation-started")
    assert event["conversationId"] == started["conversation"]["id"]

    # livekit-client dials <url>/rtc[/v1]?access_token=<token>; nothing listens, so it fails.
    for _ in range(100):
        if sockets:
            break
        page.wait_for_timeout(100)
    assert sockets, "livekit-client attempted no websocket connection"
    socket = urlsplit(sockets[0])
    assert f"{socket.scheme}://{socket.netloc}" == stack.livekit_url
    assert socket.path in ("/rtc", "/rtc/v1")
    assert parse_qs(socket.query)["access_token"] == [details["token"]]

    # The error state: its message and a retry, no controls that cannot act.
    expect(frame.locator(".aw-window")).to_have_attribute("data-state", "error")
    expect(frame.locator(".aw-retry")).to_be_visible()
    assert frame.locator(".aw-control").count() == 0
    # A call that never connected asks for no feedback.
    frame.locator(".aw-cancel").click()
    wait_event(page, "conversation-ended")
    expect(frame.locator(".aw-again")).to_be_visible()
    assert frame.locator(".aw-feedback").count() == 0

    # Nothing the widget or livekit-client did was blocked by the strict policy (the frame's
    # console is seen: its warning about the failed connection is there).
    assert any("LiveKit connection failed" in text for text in console)
    assert [text for text in console if "Content Security Policy" in text] == []


def test_after_a_connected_call_feedback_submits_once(
    context: Any, page: Page, stack: Stack, widgets: Widgets
) -> None:
    context.add_init_script(path=str(FAKE_ROOM))  # a stand-in for Room that connects
    feedback_posts: list[str] = []
    page.on(
        "request",
        lambda r: feedback_posts.append(r.url) if r.url.endswith("/feedback") else None,
    )
    visit(page, stack, widgets.allowed)
    frame = open_widget(page)
    frame.locator(".aw-start").click()
    started, _ = start_with_form(page, frame, "Ada")
    expect(frame.locator(".aw-window")).to_have_attribute("data-state", "connected")
    # Capabilities decide the media buttons.
    expect(frame.locator(".aw-camera")).to_be_visible()
    assert frame.locator(".aw-screen").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "embed-open-widget.png"))

    # After the call: the feedback form, submitted once.
    frame.locator(".aw-end").click()
    wait_event(page, "conversation-ended")
    feedback = frame.locator(".aw-feedback")
    expect(feedback).to_be_visible()
    feedback.locator('.aw-star[data-value="4"]').click()
    feedback.locator("#aw-field-comment").fill("Very helpful")
    page.screenshot(path=str(ARTIFACTS / "embed-feedback-form.png"))
    with page.expect_response(lambda r: r.url.endswith("/feedback")) as info:
        feedback.locator("button[type=submit]").click()
    assert info.value.status == 200
    assert info.value.request.post_data_json == {"data": {"rating": 4, "comment": "Very helpful"}}
    expect(frame.locator(".aw-thanks")).to_have_text("Thanks for the feedback!")
    assert len(feedback_posts) == 1
    page.screenshot(path=str(ARTIFACTS / "embed-feedback-thanks.png"))

    # A second submission for the same conversation is refused by the server.
    path = (
        f"/core/public/web-widgets/{widgets.allowed}/conversations/"
        f"{started['conversation']['id']}/feedback"
    )
    status = frame.evaluate(
        "async path => (await fetch(path, {method: 'POST',"
        " headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({data: {rating: 5}})})).status",
        path,
    )
    assert status == 409


def test_pre_conversation_form_is_shown_once(
    context: Any, page: Page, stack: Stack, widgets: Widgets
) -> None:
    visit(page, stack, widgets.allowed)
    frame = open_widget(page)
    frame.locator(".aw-start").click()
    start_with_form(page, frame, "Grace")
    stored = json.loads(
        frame.evaluate(f"localStorage.getItem('anyreach-widget-form-{widgets.allowed}')")
    )
    assert stored["values"] == {"name": "Grace"} and stored["hash"]

    # A new tab of the same browser: the form is skipped and the cached values are reused.
    second = context.new_page()
    visit(second, stack, widgets.allowed)
    frame = open_widget(second)
    with second.expect_response(
        lambda r: r.url.endswith("/conversations") and r.request.method == "POST"
    ) as info:
        frame.locator(".aw-start").click()
    assert info.value.status == 200
    assert info.value.request.post_data_json["custom_metadata"] == {"name": "Grace"}
    assert frame.locator(".aw-preform").count() == 0


def test_fields_changed_since_the_cached_values_show_the_form_again_prefilled(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    # A cached copy made for other fields (its hash differs from the current fields' hash).
    visit(page, stack, widgets.allowed)
    frame = widget_frame(page)
    wait_event(page, "ready")
    key = f"anyreach-widget-form-{widgets.allowed}"
    frame.evaluate(
        "key => localStorage.setItem(key, JSON.stringify("
        "{hash: 'fields-of-an-older-form', values: {name: 'Old name'}}))",
        key,
    )
    page.reload()
    frame = open_widget(page)
    frame.locator(".aw-start").click()
    expect(frame.locator(".aw-preform #aw-field-name")).to_have_value("Old name")
    _, request = start_with_form(page, frame, "New name")
    assert request.post_data_json["custom_metadata"] == {"name": "New name"}
    stored = json.loads(frame.evaluate("key => localStorage.getItem(key)", key))
    assert stored["values"] == {"name": "New name"}
    assert stored["hash"] != "fields-of-an-older-form"


def test_a_reload_resumes_the_open_conversation_in_a_fresh_room(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    visit(page, stack, widgets.allowed)
    frame = open_widget(page)
    frame.locator(".aw-start").click()
    first, _ = start_with_form(page, frame, "Ada")
    page.reload()
    frame = open_widget(page)
    with page.expect_response(
        lambda r: r.url.endswith("/conversations") and r.request.method == "POST"
    ) as info:
        frame.locator(".aw-start").click()  # the form is skipped: shown once
    assert info.value.request.post_data_json["conversation_id"] == first["conversation"]["id"]
    resumed = info.value.json()
    assert resumed["conversation"]["id"] == first["conversation"]["id"]
    assert resumed["connection_details"]["room"] != first["connection_details"]["room"]


# --- postMessage origins ---------------------------------------------------------------------


def test_only_the_parent_can_command_the_iframe(page: Page, stack: Stack, widgets: Widgets) -> None:
    visit(page, stack, widgets.allowed)
    frame = widget_frame(page)
    wait_event(page, "ready")
    # A frame from another origin inside the same page gets hold of the widget's window and
    # sends it a well-formed "open": ignored (not the parent, not parentOrigin).
    page.evaluate(
        "url => { const f = document.createElement('iframe'); f.id = 'intruder'; f.src = url;"
        " document.body.appendChild(f); }",
        f"{stack.host('localhost')}/missing",
    )
    intruder = page.wait_for_selector("#intruder").content_frame()
    assert intruder is not None
    intruder.wait_for_load_state()
    intruder.evaluate(
        "id => window.parent.frames[0].postMessage("
        "{source: 'anyreach-widget', type: 'open', widgetId: id}, '*')",
        widgets.allowed,
    )
    page.wait_for_timeout(500)  # time enough for a message to be handled
    expect(frame.locator(".aw-window")).to_be_hidden()
    assert page.evaluate("AnyreachWidget.isOpen()") is False
    # The same message from the parent page opens it.
    page.evaluate(
        "([id, origin]) => document.querySelector('iframe[data-anyreach-widget]')"
        ".contentWindow.postMessage({source: 'anyreach-widget', type: 'open', widgetId: id},"
        " origin)",
        [widgets.allowed, stack.runtime],
    )
    wait_event(page, "opened")
    expect(frame.locator(".aw-window")).to_be_visible()


def test_a_parent_origin_outside_the_domains_blocks_messages(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    # An allowed page frames the iframe itself with a parentOrigin that is not in the list:
    # targetOrigin is "null", so the iframe renders but posts nothing (no "ready").
    visit(page, stack, widgets.allowed)
    wait_event(page, "ready")
    page.evaluate(
        "() => { window.directMessages = []; window.addEventListener('message', e => {"
        " if (e.source === document.getElementById('direct').contentWindow)"
        " window.directMessages.push(e.data); }); }"
    )
    url = f"{stack.runtime}/public/embed/{widgets.allowed}/frame?parentOrigin=https://evil.example"
    page.evaluate(
        "url => { const f = document.createElement('iframe'); f.id = 'direct'; f.src = url;"
        " document.body.prepend(f); }",  # at the top: the demo page is longer than the viewport
        url,
    )
    direct = page.frame_locator("#direct")
    expect(direct.locator(".aw-launcher")).to_be_visible()
    direct.locator(".aw-launcher").click()
    expect(direct.locator(".aw-window")).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("window.directMessages") == []


def test_a_double_click_starts_one_conversation(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    starts: list[str] = []
    page.on(
        "request",
        lambda r: starts.append(r.url)
        if r.method == "POST" and r.url.endswith("/conversations")
        else None,
    )
    visit(page, stack, widgets.anywhere)  # no pre-conversation form: Start posts at once
    frame = open_widget(page)
    frame.locator(".aw-start").dblclick()
    [event] = wait_event(page, "conversation-started")
    page.wait_for_timeout(300)
    assert len(starts) == 1
    assert event["conversationId"]


def test_the_iframe_stays_hidden_until_the_app_is_ready(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    # The widget was unpublished after the loader was cached: the iframe page is a 404. Nothing
    # of it may show on the site.
    page.route(
        "**/frame?*",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body='{"detail": "Widget not found"}'
        ),
    )
    visit(page, stack, widgets.allowed)
    page.wait_for_load_state("load")
    iframe = page.locator(IFRAME)
    expect(iframe).to_have_count(1)
    page.wait_for_timeout(300)
    assert iframe.evaluate("el => getComputedStyle(el).visibility") == "hidden"
    assert page.evaluate("AnyreachWidget.isReady()") is False
    page.unroute("**/frame?*")
    # The same page with a working iframe shows it once "ready" arrives.
    page.reload()
    wait_event(page, "ready")
    assert page.locator(IFRAME).evaluate("el => getComputedStyle(el).visibility") == "visible"


def test_escape_closes_the_window(page: Page, stack: Stack, widgets: Widgets) -> None:
    visit(page, stack, widgets.allowed)
    frame = open_widget(page)
    frame.locator(".aw-close").focus()
    frame.locator(".aw-close").press("Escape")
    wait_event(page, "closed")
    expect(frame.locator(".aw-window")).to_be_hidden()


def test_open_parameter_starts_open_and_a_second_snippet_adds_nothing(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    visit(page, stack, widgets.allowed, loader="open=1")
    wait_event(page, "opened")
    expect(widget_frame(page).locator(".aw-window")).to_be_visible()
    # The snippet pasted a second time: the first widget stays the only one.
    page.evaluate(
        "src => new Promise(resolve => { const s = document.createElement('script');"
        " s.src = src; s.onload = resolve; document.body.appendChild(s); })",
        f"{stack.runtime}/public/embed/{widgets.allowed}",
    )
    assert page.locator(IFRAME).count() == 1


# --- the visitor id --------------------------------------------------------------------------

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def started_user_id(page: Page, widget_id: str, click: Any) -> str:
    """The user_id of the start (or resume) request that ``click()`` makes for ``widget_id``."""
    with page.expect_response(
        lambda r: r.url.endswith(f"/{widget_id}/conversations") and r.request.method == "POST"
    ) as info:
        click()
    assert info.value.status == 200, info.value.text()
    user_id: str = info.value.request.post_data_json["user_id"]
    return user_id


def stored_visitor_id(frame: Any, widget_id: str) -> Any:
    return frame.evaluate(f"localStorage.getItem('anyreach-widget-user-{widget_id}')")


def test_the_visitor_id_is_a_v4_uuid_kept_across_reloads(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    visit(page, stack, widgets.anywhere)  # no pre-conversation form: Start posts at once
    frame = open_widget(page)
    first = started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click)
    assert UUID_V4.match(first), first
    assert stored_visitor_id(frame, widgets.anywhere) == first
    page.reload()
    frame = open_widget(page)
    assert started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click) == first


def test_two_widgets_on_one_page_have_different_visitor_ids(
    page: Page, stack: Stack, widgets: Widgets
) -> None:
    visit(page, stack, widgets.anywhere)
    wait_event(page, "ready")
    # The second widget's snippet on the same page: its iframe shares the first's origin, so
    # the same localStorage.
    page.evaluate(
        "src => { const s = document.createElement('script'); s.src = src;"
        " document.body.appendChild(s); }",
        f"{stack.runtime}/public/embed/{widgets.allowed}",
    )
    wait_event(page, "ready", count=2)
    anywhere = page.frame_locator(f'iframe[data-anyreach-widget="{widgets.anywhere}"]')
    anywhere.locator(".aw-launcher").click()
    first = started_user_id(page, widgets.anywhere, anywhere.locator(".aw-start").click)
    allowed = page.frame_locator(f'iframe[data-anyreach-widget="{widgets.allowed}"]')
    allowed.locator(".aw-launcher").click()
    allowed.locator(".aw-start").click()
    allowed.locator("#aw-field-name").fill("Ada")  # its pre-conversation form comes first
    second = started_user_id(
        page, widgets.allowed, allowed.locator(".aw-preform button[type=submit]").click
    )
    assert UUID_V4.match(first) and UUID_V4.match(second)
    assert first != second
    frame = widget_frame(page)
    assert stored_visitor_id(frame, widgets.anywhere) == first
    assert stored_visitor_id(frame, widgets.allowed) == second


def test_an_old_format_guest_id_is_replaced(page: Page, stack: Stack, widgets: Widgets) -> None:
    visit(page, stack, widgets.anywhere)
    frame = widget_frame(page)
    wait_event(page, "ready")
    frame.evaluate(
        f"localStorage.setItem('anyreach-widget-user-{widgets.anywhere}', 'guest_1234567890')"
    )
    page.reload()
    frame = open_widget(page)
    user_id = started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click)
    assert UUID_V4.match(user_id), user_id
    assert stored_visitor_id(frame, widgets.anywhere) == user_id


def test_without_crypto_random_uuid_the_visitor_id_is_still_a_v4_uuid(
    context: Any, page: Page, stack: Stack, widgets: Widgets
) -> None:
    # As in a non-secure context (plain http on a non-local host), where randomUUID is absent.
    context.add_init_script("delete Crypto.prototype.randomUUID;")
    visit(page, stack, widgets.anywhere)
    frame = open_widget(page)
    assert frame.evaluate("typeof crypto.randomUUID") == "undefined"
    ids = {started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click)}
    for _ in range(3):  # more ids: the version and variant bits are set every time
        frame.locator(".aw-cancel").click()  # no LiveKit server: the call is in its error state
        frame.evaluate(f"localStorage.removeItem('anyreach-widget-user-{widgets.anywhere}')")
        page.reload()
        frame = open_widget(page)
        ids.add(started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click))
    assert len(ids) == 4
    assert all(UUID_V4.match(user_id) for user_id in ids), ids


def test_with_storage_blocked_the_visitor_id_lasts_the_page(
    context: Any, page: Page, stack: Stack, widgets: Widgets
) -> None:
    # Third-party storage off: reading window.localStorage throws.
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() {"
        " throw new DOMException('The operation is insecure.', 'SecurityError'); }});"
    )
    visit(page, stack, widgets.anywhere)
    frame = open_widget(page)
    first = started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click)
    assert UUID_V4.match(first), first
    frame.locator(".aw-cancel").click()  # no LiveKit server: the call is in its error state
    frame.locator(".aw-primary", has_text="New conversation").click()
    assert started_user_id(page, widgets.anywhere, frame.locator(".aw-start").click) == first
