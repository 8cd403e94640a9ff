// The widget iframe app's entry: it owns the one state object, passes it to the other modules
// and runs the flow: launcher, pre-conversation form, the conversation, feedback. Served by
// /public/embed/{id}/frame (docs/embed.md, "The iframe app's modules").
import { createApi, detailOf } from "./api.js";
import { applyAppearance } from "./appearance.js";
import { connect, leave, sendText, setVoice, toggleDevice } from "./call.js";
import { checkedContext, startMetadata } from "./context.js";
import { fieldsHash, readCachedForm, renderForm, writeCachedForm } from "./forms.js";
import { createChannel } from "./protocol.js";
import { keys, openStore } from "./storage.js";
import { visitorId } from "./visitor.js";
import * as view from "./view.js";
import { resolveLocale } from "./locales.js";
import { setStrings, t } from "./strings.js";
import "./widget.css";

function createState() {
  const widgetId = document.body.dataset.widgetId;
  return {
    widgetId,
    query: new URLSearchParams(window.location.search),
    api: createApi(widgetId),
    local: openStore("localStorage"),
    session: openStore("sessionStorage"),
    visitorId: null, // resolved at the first start; kept here when storage is blocked
    config: {}, // the widget's config.v1
    channel: null, // postMessage to the host page (protocol.js)
    ui: null, // the layout's elements (view.js)
    open: false,
    starting: false,
    conversation: null,
    capabilities: { supportsVideoInput: false, supportsScreenShare: false },
    room: null, // the current call's LiveKit room (call.js)
    voice: false,
    connected: false, // the current call was up at some point (feedback is asked only then)
    details: null, // the current call's connection details (for "Try again")
    locale: "en", // the resolved language (locales.js), sent with each start
    context: null, // the host page's context (context.js), sent with the next start
  };
}

function setOpen(state, open) {
  if (open === state.open) return;
  state.open = open;
  // The first view is in place before the window shows, so focus lands on its first control.
  if (open && !state.ui.body.firstChild) home(state);
  view.showWindow(state.ui, open);
  state.channel.post(open ? "opened" : "closed");
}

function home(state) {
  view.homeView(state.ui, state.config, (firstMessage) => begin(state, firstMessage));
  if (state.config.start_conversation_on_toggle) begin(state);
}

// Pre-conversation form first when one is configured (skipped when show-once has a cached
// copy for the same fields), then the conversation.
function begin(state, firstMessage) {
  const form = state.config.pre_conversation_form;
  if (!form || !(form.fields || []).length) return startConversation(state, {}, firstMessage);
  const showOnce = state.config.pre_conversation_show_once !== false;
  const hash = fieldsHash(form.fields);
  const cached = readCachedForm(state.local, state.widgetId);
  if (showOnce && cached && cached.hash === hash) {
    return startConversation(state, cached.values, firstMessage);
  }
  view.setState(state.ui, "idle", "");
  view.show(
    state.ui,
    renderForm(
      { ...form, submit_label: form.submit_label || t("start") },
      showOnce && cached ? cached.values : null,
      async (values) => {
        if (showOnce) writeCachedForm(state.local, state.widgetId, hash, values);
        await startConversation(state, values, firstMessage);
      },
      "aw-preform",
    ),
  );
}

async function startConversation(state, metadata, firstMessage) {
  // One start at a time: a double click must not start two conversations.
  if (state.starting) return;
  state.starting = true;
  try {
    await requestConversation(state, metadata, firstMessage);
  } finally {
    state.starting = false;
  }
}

async function requestConversation(state, metadata, firstMessage) {
  const ui = state.ui;
  view.setState(ui, "connecting", t("connecting"));
  view.show(ui);
  state.visitorId = state.visitorId || visitorId(state.local, state.widgetId);
  const body = {
    user_id: state.visitorId,
    custom_metadata: startMetadata(metadata, state.context),
    locale: state.locale,
  };
  const previousKey = keys.conversation(state.widgetId);
  const previous = state.session.get(previousKey);
  let result;
  if (previous) {
    result = await state.api.startConversation({ ...body, conversation_id: previous });
    // The old conversation ended or is gone: start a new one instead.
    if ([403, 404, 409].includes(result.status)) result = null;
  }
  result = result || (await state.api.startConversation(body));
  if (!result.ok) {
    view.errorView(
      ui,
      t("startFailed", { detail: detailOf(result) }),
      () => begin(state, firstMessage),
      () => home(state),
    );
    return;
  }
  const started = result.data;
  state.conversation = started.conversation;
  state.voice = (state.config.default_mode || "text") === "voice";
  state.capabilities = started.capabilities || state.capabilities;
  state.session.set(previousKey, state.conversation.id);
  state.channel.post("conversation-started", {
    conversationId: state.conversation.id,
    status: state.conversation.status,
  });
  state.details = started.connection_details;
  joinCall(state, firstMessage);
}

const STATE_TEXT = { listening: "listening", thinking: "agentThinking", speaking: "agentSpeaking" };

// The call view, then the room; what the room reports becomes the window's one state.
function joinCall(state, firstMessage) {
  state.connected = false;
  view.callView(state.ui, state.capabilities, {
    onMic: () => setVoice(state, !state.voice),
    onCamera: () => toggleDevice(state, "camera"),
    onScreen: () => toggleDevice(state, "screen"),
    onEnd: () => endConversation(state),
    onSend: (text) => sendText(state, text),
  });
  connect(state, state.details, firstMessage, {
    onState: (name, activity) => {
      if (name === "error") {
        view.errorView(state.ui, t("connectFailed"), () => joinCall(state, firstMessage), () => endConversation(state));
      } else if (name === "reconnecting") {
        view.setState(state.ui, "reconnecting", t("reconnecting"));
      } else {
        const wasLive = state.ui.window.dataset.state === "connected";
        view.setState(state.ui, "connected", t(STATE_TEXT[activity] || "listening"), activity);
        if (!wasLive) view.focusInto(state.ui);
      }
    },
    onEnded: () => endConversation(state),
  });
}

async function endConversation(state) {
  const conversation = state.conversation;
  await leave(state);
  state.session.remove(keys.conversation(state.widgetId));
  state.conversation = null;
  if (!conversation) return home(state);
  state.channel.post("conversation-ended", { conversationId: conversation.id });
  // A call that never connected asks for no feedback.
  if (state.connected) feedback(state, conversation);
  else view.endedView(state.ui, () => home(state));
}

function feedback(state, conversation) {
  const settings = state.config.post_conversation_feedback;
  const form = settings && settings.enabled && settings.form;
  const doneKey = keys.feedbackSent(conversation.id);
  const again = () => home(state);
  if (!form || !(form.fields || []).length || state.session.get(doneKey)) {
    return view.endedView(state.ui, again);
  }
  const thanks = () => {
    state.session.set(doneKey, "1");
    view.thanksView(state.ui, settings.thank_you_text || t("thanks"), again);
  };
  view.setState(state.ui, "ended", t("ended"));
  view.show(
    state.ui,
    renderForm(
      { ...form, title: form.title || t("feedbackTitle"), submit_label: form.submit_label || t("feedbackSend") },
      null,
      async (values) => {
        const result = await state.api.sendFeedback(conversation.id, values);
        if (result.ok || result.status === 409) return thanks(); // 409: it was already sent
        throw new Error(detailOf(result));
      },
      "aw-feedback",
    ),
  );
}

// The language: its built-in strings under the config's overrides, lang and dir on the page.
function applyLanguage(state) {
  const chosen = resolveLocale(state.config.locale, state.query.get("locale"), navigator.languages || [navigator.language]);
  state.locale = chosen.locale;
  setStrings({ ...chosen.table, ...(state.config.strings || {}) });
  document.documentElement.lang = chosen.locale;
  document.documentElement.dir = chosen.dir;
  document.title = t("title");
}

async function main() {
  const state = createState();
  const result = await state.api.widget();
  if (!result.ok) {
    console.error("[Anyreach widget] widget " + state.widgetId + " is not available: " + detailOf(result));
    return;
  }
  const widget = result.data;
  state.config = (widget.config && widget.config.v1) || {};
  state.channel = createChannel(state.widgetId, widget.domains || [], state.query.get("parentOrigin") || "");
  state.channel.on("open", () => setOpen(state, true));
  state.channel.on("close", () => setOpen(state, false));
  state.channel.on("toggle", () => setOpen(state, !state.open));
  state.channel.on("context", (detail) => {
    state.context = checkedContext(detail.context);
  });
  applyAppearance(state.config);
  applyLanguage(state);
  state.ui = view.buildLayout(state.config, {
    onClose: () => setOpen(state, false),
    onLauncher: () => setOpen(state, !state.open),
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.open) setOpen(state, false);
  });
  state.channel.post("ready");
  if (state.query.get("open") === "1") setOpen(state, true);
}

main();
