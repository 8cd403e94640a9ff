// The widget iframe app: launcher, chat window, pre-conversation form, the conversation over
// LiveKit, and post-conversation feedback. Served by /public/embed/{id}/frame (docs/embed.md).
import { Room, RoomEvent, Track } from "livekit-client";
import { ICONS, el, icon } from "./dom.js";
import { fieldsHash, readCachedForm, renderForm, writeCachedForm } from "./forms.js";
import { createChannel } from "./protocol.js";
import "./widget.css";

const API = "/core/public/web-widgets/";
const widgetId = document.body.dataset.widgetId;
const query = new URLSearchParams(window.location.search);
const parentOrigin = query.get("parentOrigin") || "";

const state = {
  config: {},
  channel: null,
  open: false,
  conversation: null,
  capabilities: { supportsVideoInput: false, supportsScreenShare: false },
  room: null,
  ending: false,
  voice: false,
  starting: false,
};
const ui = {};

function session() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

// A stable guest id per browser, so resuming checks the same visitor.
function userId() {
  const key = "anyreach-widget-user-" + widgetId;
  let id = null;
  try {
    id = window.localStorage.getItem(key);
    if (!id) {
      id = "guest_" + crypto.getRandomValues(new Uint32Array(4)).join("").slice(0, 24);
      window.localStorage.setItem(key, id);
    }
  } catch {
    id = id || "guest_" + Math.random().toString(36).slice(2);
  }
  return id;
}

async function api(path, body) {
  let response;
  try {
    response = await fetch(API + encodeURIComponent(widgetId) + path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { status: 0, ok: false, data: { detail: "Network error: check your connection" } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    /* empty or not JSON */
  }
  return { status: response.status, ok: response.ok, data };
}

function detailOf(result) {
  const detail = result.data && result.data.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail[0]) return detail[0].msg;
  return `Request failed (${result.status})`;
}

// --- appearance ------------------------------------------------------------------------------

function resolvedTheme() {
  const theme = state.config.theme || "system";
  if (theme === "light" || theme === "dark") return theme;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

// Colour tokens go into CSS custom properties (CSSOM, allowed by the CSP); empty ones fall
// back to the stylesheet's defaults for the mode.
function applyTheme() {
  const theme = resolvedTheme();
  const root = document.documentElement;
  root.dataset.theme = theme;
  const mode = ((state.config.chat || {})[theme + "_mode"]) || {};
  const tokens = {
    "--aw-user-bg": (mode.background_color || {}).user_message,
    "--aw-user-text": (mode.text_color || {}).user_message,
    "--aw-controls-bg": (mode.background_color || {}).controls_button,
    "--aw-controls-text": (mode.text_color || {}).controls_button,
  };
  for (const [name, value] of Object.entries(tokens)) {
    if (value) root.style.setProperty(name, value);
    else root.style.removeProperty(name);
  }
}

function applyTrigger() {
  const trigger = state.config.trigger || {};
  const root = document.documentElement;
  root.style.setProperty("--aw-size", (trigger.size || 56) + "px");
  if (trigger.padding !== undefined && trigger.padding !== null) {
    root.style.setProperty("--aw-pad", trigger.padding + "px");
  }
  root.dataset.shape = trigger.shape || "circle";
  root.dataset.position = trigger.position || "bottom-right";
}

// --- layout ----------------------------------------------------------------------------------

function build() {
  ui.title = el("span", { class: "aw-title", text: (state.config.chat || {}).title || "Chat" });
  ui.close = el("button", { type: "button", class: "aw-icon-button aw-close", "aria-label": "Close" });
  ui.close.append(icon(ICONS.close));
  ui.close.addEventListener("click", () => setOpen(false));
  ui.body = el("div", { class: "aw-body" });
  ui.messages = el("div", { class: "aw-messages", "aria-live": "polite" });
  ui.controls = el("div", { class: "aw-controls" });
  ui.media = el("div", { class: "aw-media" });
  ui.window = el("section", { class: "aw-window", "aria-label": "Chat window" });
  ui.window.hidden = true;
  ui.window.append(el("header", { class: "aw-header" }, ui.title, ui.close), ui.body);
  ui.launcher = el("button", { type: "button", class: "aw-launcher", "aria-label": "Open chat" });
  ui.launcher.append(icon(ICONS.chat));
  ui.launcher.addEventListener("click", () => setOpen(!state.open));
  ui.root = el("div", { class: "aw-root" }, ui.window, ui.launcher);
  document.body.append(ui.root);
}

function show(...nodes) {
  ui.body.replaceChildren(...nodes);
}

function setOpen(open) {
  if (open === state.open) return;
  state.open = open;
  ui.window.hidden = !open;
  ui.launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
  ui.launcher.setAttribute("aria-expanded", String(open));
  state.channel.post(open ? "opened" : "closed");
  if (open && !ui.body.firstChild) home();
}

// --- views -----------------------------------------------------------------------------------

function home() {
  const start = el("button", { type: "button", class: "aw-primary aw-start", text: "Start conversation" });
  start.addEventListener("click", () => begin());
  const questions = (state.config.suggested_questions || []).map((question) => {
    const button = el("button", { type: "button", class: "aw-suggestion", text: question });
    button.addEventListener("click", () => begin(question));
    return button;
  });
  show(
    el("p", { class: "aw-intro", text: state.config.greeting || "Hi! How can we help?" }),
    ...(questions.length ? [el("div", { class: "aw-suggestions" }, ...questions)] : []),
    start,
  );
  if (state.config.start_conversation_on_toggle) begin();
}

// Pre-conversation form first when one is configured (skipped when show-once has a cached
// copy for the same fields), then the conversation.
function begin(firstMessage) {
  const form = state.config.pre_conversation_form;
  if (!form || !(form.fields || []).length) return startConversation({}, firstMessage);
  const showOnce = state.config.pre_conversation_show_once !== false;
  const hash = fieldsHash(form.fields);
  const cached = readCachedForm(widgetId);
  if (showOnce && cached && cached.hash === hash) {
    return startConversation(cached.values, firstMessage);
  }
  show(
    renderForm(
      { ...form, submit_label: form.submit_label || "Start conversation" },
      showOnce && cached ? cached.values : null,
      async (values) => {
        if (showOnce) writeCachedForm(widgetId, hash, values);
        await startConversation(values, firstMessage);
      },
      "aw-preform",
    ),
  );
}

function status(text) {
  ui.messages.append(el("p", { class: "aw-status", text }));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function message(role, text) {
  ui.messages.append(el("p", { class: "aw-message aw-" + role, text }));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

async function startConversation(metadata, firstMessage) {
  // One start at a time: a double click must not start two conversations.
  if (state.starting) return;
  state.starting = true;
  try {
    await requestConversation(metadata, firstMessage);
  } finally {
    state.starting = false;
  }
}

async function requestConversation(metadata, firstMessage) {
  ui.messages.replaceChildren();
  show(ui.messages);
  status("Connecting…");
  const body = { user_id: userId(), custom_metadata: metadata };
  const previous = session()?.getItem("anyreach-widget-conversation-" + widgetId);
  let result;
  if (previous) {
    result = await api("/conversations", { ...body, conversation_id: previous });
    // The old conversation ended or is gone: start a new one instead.
    if ([403, 404, 409].includes(result.status)) result = null;
  }
  result = result || (await api("/conversations", body));
  if (!result.ok) {
    status("Could not start the conversation: " + detailOf(result));
    const retry = el("button", { type: "button", class: "aw-primary", text: "Try again" });
    retry.addEventListener("click", () => begin(firstMessage));
    ui.body.append(retry);
    return;
  }
  const started = result.data;
  state.conversation = started.conversation;
  state.voice = (state.config.default_mode || "text") === "voice";
  state.capabilities = started.capabilities || state.capabilities;
  session()?.setItem("anyreach-widget-conversation-" + widgetId, state.conversation.id);
  state.channel.post("conversation-started", {
    conversationId: state.conversation.id,
    status: state.conversation.status,
  });
  callView(firstMessage);
  connect(started.connection_details, firstMessage);
}

function controlButton(name, label, onClick) {
  const button = el("button", {
    type: "button",
    class: "aw-icon-button aw-control aw-" + name,
    "aria-label": label,
    title: label,
    "aria-pressed": "false",
  });
  button.append(icon(ICONS[name]));
  button.addEventListener("click", onClick);
  return button;
}

function callView() {
  const buttons = [controlButton("mic", "Microphone", toggleMic)];
  // Only what the pinned agent version supports.
  if (state.capabilities.supportsVideoInput) {
    buttons.push(controlButton("camera", "Camera", () => toggle("camera")));
  }
  if (state.capabilities.supportsScreenShare) {
    buttons.push(controlButton("screen", "Share screen", () => toggle("screen")));
  }
  const end = controlButton("end", "End conversation", () => endConversation());
  end.classList.add("aw-danger");
  buttons.push(end);
  ui.controls.replaceChildren(...buttons);
  const input = el("input", { type: "text", class: "aw-input", placeholder: "Type a message…", "aria-label": "Message" });
  const send = el("button", { type: "submit", class: "aw-icon-button aw-send", "aria-label": "Send" });
  send.append(icon(ICONS.send));
  const composer = el("form", { class: "aw-composer" }, input, send);
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendText(text);
  });
  show(ui.messages, ui.media, composer, ui.controls);
}

async function connect(details, firstMessage) {
  const room = new Room({ adaptiveStream: true, dynacast: true });
  state.room = room;
  // Text mode has the speaker off: the agent's audio is attached only in voice mode.
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === Track.Kind.Video) ui.media.append(track.attach());
    if (track.kind === Track.Kind.Audio && state.voice) ui.media.append(track.attach());
  });
  room.on(RoomEvent.TrackUnsubscribed, (track) => track.detach().forEach((node) => node.remove()));
  // Autoplay refused by the browser: one click on this button starts the audio.
  room.on(RoomEvent.AudioPlaybackStatusChanged, () => {
    if (room.canPlaybackAudio || ui.messages.querySelector(".aw-audio")) return;
    const button = el("button", { type: "button", class: "aw-primary aw-audio", text: "Enable audio" });
    button.addEventListener("click", () => room.startAudio().then(() => button.remove()));
    ui.messages.append(button);
  });
  let connected = false;
  // A failed connect also emits Disconnected: only the end of a session that was up ends it.
  room.on(RoomEvent.Disconnected, () => {
    if (connected && state.room === room && !state.ending) endConversation();
  });
  const onText = (fromAgent) => async (reader, info) => {
    const text = await reader.readAll();
    const mine = info.identity === room.localParticipant.identity;
    if (text && (fromAgent || !mine)) message(mine ? "user" : "agent", text);
  };
  room.registerTextStreamHandler?.("lk.transcription", onText(true));
  room.registerTextStreamHandler?.("lk.chat", onText(false));
  try {
    await room.connect(details.url, details.token);
    connected = true;
  } catch (err) {
    if (state.room !== room) return;
    console.warn("[Anyreach widget] LiveKit connection failed:", err);
    status("Could not connect to the voice service.");
    const retry = el("button", { type: "button", class: "aw-primary aw-retry", text: "Try again" });
    retry.addEventListener("click", () => {
      retry.remove();
      status("Connecting…");
      connect(details, firstMessage);
    });
    ui.messages.append(retry);
    return;
  }
  status("Connected.");
  if (state.voice) await setVoice(true);
  if (firstMessage) sendText(firstMessage);
}

async function sendText(text) {
  message("user", text);
  const room = state.room;
  if (!room || room.state !== "connected") {
    status("Not connected: the message was not sent.");
    return;
  }
  try {
    await room.localParticipant.sendText(text, { topic: "lk.chat" });
  } catch (err) {
    status("The message could not be sent.");
  }
}

function pressed(name, on) {
  ui.controls.querySelector(".aw-" + name)?.setAttribute("aria-pressed", String(on));
}

// Voice mode: microphone on and the agent's audio played; text mode: both off. The visitor can
// switch at any time with the microphone button.
async function setVoice(on) {
  state.voice = on;
  const room = state.room;
  if (!room) return;
  for (const participant of room.remoteParticipants.values()) {
    for (const publication of participant.audioTrackPublications.values()) {
      const track = publication.track;
      if (!track) continue;
      if (on) ui.media.append(track.attach());
      else track.detach().forEach((node) => node.remove());
    }
  }
  if (room.state !== "connected") return;
  try {
    await room.localParticipant.setMicrophoneEnabled(on);
    pressed("mic", on);
  } catch {
    status("The microphone is not available.");
  }
}

function toggleMic() {
  return setVoice(!state.voice);
}

async function toggle(kind) {
  const participant = state.room?.localParticipant;
  if (!participant || state.room.state !== "connected") return;
  try {
    if (kind === "camera") {
      const on = !participant.isCameraEnabled;
      await participant.setCameraEnabled(on);
      pressed("camera", on);
    } else {
      const on = !participant.isScreenShareEnabled;
      await participant.setScreenShareEnabled(on);
      pressed("screen", on);
    }
  } catch {
    status(kind === "camera" ? "The camera is not available." : "Screen sharing is not available.");
  }
}

async function endConversation() {
  const conversation = state.conversation;
  state.ending = true;
  const room = state.room;
  state.room = null;
  if (room) await room.disconnect().catch(() => {});
  state.ending = false;
  ui.media.replaceChildren();
  session()?.removeItem("anyreach-widget-conversation-" + widgetId);
  if (!conversation) return home();
  state.channel.post("conversation-ended", { conversationId: conversation.id });
  feedback(conversation);
}

// --- feedback --------------------------------------------------------------------------------

function feedback(conversation) {
  const settings = state.config.post_conversation_feedback;
  const form = settings && settings.enabled && settings.form;
  const doneKey = "anyreach-widget-feedback-" + conversation.id;
  if (!form || !(form.fields || []).length || session()?.getItem(doneKey)) return ended();
  const thanks = () => {
    session()?.setItem(doneKey, "1");
    const again = el("button", { type: "button", class: "aw-primary", text: "New conversation" });
    again.addEventListener("click", () => home());
    show(el("p", { class: "aw-thanks", text: settings.thank_you_text || "Thank you!" }), again);
  };
  show(
    renderForm(
      { ...form, title: form.title || "How was your conversation?", submit_label: form.submit_label || "Send" },
      null,
      async (values) => {
        const result = await api(
          "/conversations/" + encodeURIComponent(conversation.id) + "/feedback",
          { data: values },
        );
        if (result.ok || result.status === 409) return thanks(); // 409: it was already sent
        throw new Error(detailOf(result));
      },
      "aw-feedback",
    ),
  );
}

function ended() {
  const again = el("button", { type: "button", class: "aw-primary", text: "New conversation" });
  again.addEventListener("click", () => home());
  show(el("p", { class: "aw-intro", text: "The conversation has ended." }), again);
}

// --- start-up --------------------------------------------------------------------------------

async function main() {
  const result = await api("");
  if (!result.ok) {
    console.error("[Anyreach widget] widget " + widgetId + " is not available: " + detailOf(result));
    return;
  }
  const widget = result.data;
  state.config = (widget.config && widget.config.v1) || {};
  state.channel = createChannel(widgetId, widget.domains || [], parentOrigin);
  state.channel.on("open", () => setOpen(true));
  state.channel.on("close", () => setOpen(false));
  state.channel.on("toggle", () => setOpen(!state.open));
  applyTheme();
  applyTrigger();
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", applyTheme);
  build();
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.open) setOpen(false);
  });
  state.channel.post("ready");
  if (query.get("open") === "1") setOpen(true);
}

main();
