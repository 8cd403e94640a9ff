// The widget's DOM: the launcher and the window (a modal dialog), and what the window's body
// shows. Nothing here calls the API or LiveKit: the visitor's actions go to the callbacks each
// view is given. `ui` is the record of the layout's elements that buildLayout returns.
import { ICONS, el, icon } from "./dom.js";
import { t } from "./strings.js";

const FOCUSABLE = "button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [href], [tabindex]:not([tabindex='-1'])";

export function buildLayout(config, { onClose, onLauncher }) {
  const ui = {};
  const title = el("h1", { class: "aw-title", id: "aw-title", text: config.agent_name || t("title") });
  const who = el("div", { class: "aw-who" });
  if (config.agent_avatar) {
    const avatar = el("img", { class: "aw-avatar", src: config.agent_avatar, alt: "", width: "32", height: "32" });
    avatar.addEventListener("error", () => avatar.remove()); // unreachable: the name alone
    who.append(avatar);
  }
  who.append(title);
  ui.close = el("button", { type: "button", class: "aw-icon-button aw-close", "aria-label": t("close") });
  ui.close.append(icon(ICONS.close));
  ui.close.addEventListener("click", onClose);
  ui.body = el("div", { class: "aw-body" });
  // The one status line: every state change is announced once (role=status is polite).
  ui.status = el("p", { class: "aw-status", role: "status", id: "aw-status" });
  ui.messages = el("div", { class: "aw-messages", role: "log", "aria-label": t("transcript") });
  ui.controls = el("div", { class: "aw-controls" });
  ui.media = el("div", { class: "aw-media" });
  ui.visual = el("div", { class: "aw-visual", "aria-hidden": "true" }, el("span"), el("span"), el("span"), el("span"), el("span"));
  ui.window = el("div", {
    class: "aw-window",
    role: "dialog",
    "aria-modal": "true",
    "aria-labelledby": "aw-title",
    "data-state": "idle",
  });
  ui.window.hidden = true;
  ui.window.append(el("header", { class: "aw-header" }, who, ui.close), ui.status, ui.body);
  ui.launcher = el("button", { type: "button", class: "aw-launcher", "aria-label": t("openChat"), "aria-expanded": "false" });
  ui.launcher.append(icon(ICONS.chat), icon(ICONS.close));
  ui.launcher.addEventListener("click", onLauncher);
  // Tab stays inside the open dialog (aria-modal): from its last control back to its first.
  ui.window.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const items = focusables(ui.window);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
  document.body.append(el("div", { class: "aw-root" }, ui.window, ui.launcher));
  return ui;
}

function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((node) => !node.closest("[hidden]") && node.getClientRects().length);
}

// Focus goes into the dialog on open (its first control in the body, else the close button)
// and back to the launcher on close.
export function showWindow(ui, open) {
  ui.window.hidden = !open;
  ui.launcher.setAttribute("aria-label", open ? t("closeChat") : t("openChat"));
  ui.launcher.setAttribute("aria-expanded", String(open));
  document.documentElement.dataset.open = String(open);
  if (open) focusInto(ui);
  else ui.launcher.focus();
}

export function focusInto(ui) {
  if (ui.window.hidden) return;
  const target = focusables(ui.body)[0] || ui.close;
  target.focus();
}

export function show(ui, ...nodes) {
  ui.body.replaceChildren(...nodes);
  // The old content held focus: it moves to the new one rather than being lost to <body>.
  if (!ui.window.hidden && !ui.window.contains(document.activeElement)) focusInto(ui);
}

export function primaryButton(text, className, onClick) {
  const button = el("button", { type: "button", class: "aw-primary" + (className ? " " + className : ""), text });
  button.addEventListener("click", onClick);
  return button;
}

// The window's one state (idle, connecting, connected, reconnecting, ended, error) and, while
// connected, the agent's activity (listening, thinking, speaking); the status line says it.
export function setState(ui, name, text, activity) {
  ui.window.dataset.state = name;
  if (activity) ui.window.dataset.activity = activity;
  else delete ui.window.dataset.activity;
  if (ui.status.textContent !== (text || "")) ui.status.textContent = text || "";
  const live = name === "connected";
  for (const button of ui.controls.querySelectorAll(".aw-control:not(.aw-end)")) setEnabled(button, live);
  if (ui.composer) for (const node of ui.composer.elements) setEnabled(node, live);
}

// A control that cannot act is disabled, and says why (its title and its description).
function setEnabled(node, on) {
  node.disabled = !on;
  if (on) {
    node.removeAttribute("aria-describedby");
    if (node.dataset.label) node.title = node.dataset.label;
    else node.removeAttribute("title");
  } else {
    node.setAttribute("aria-describedby", "aw-status");
    node.title = t("notConnected");
  }
}

// The transcript: one bubble per message; update(text) grows it as the text streams in.
export function message(ui, role, text) {
  const bubble = el("p", { class: "aw-message aw-" + role, text });
  ui.messages.append(bubble);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return {
    update(more) {
      bubble.textContent = more;
      ui.messages.scrollTop = ui.messages.scrollHeight;
    },
  };
}

export function homeView(ui, config, onStart) {
  const start = primaryButton(t("start"), "aw-start", () => onStart());
  const questions = (config.suggested_questions || []).map((question) => {
    const button = el("button", { type: "button", class: "aw-suggestion", text: question });
    button.addEventListener("click", () => onStart(question));
    return button;
  });
  setState(ui, "idle", "");
  show(
    ui,
    el("p", { class: "aw-intro", text: config.greeting || t("greeting") }),
    ...(questions.length ? [el("div", { class: "aw-suggestions" }, ...questions)] : []),
    start,
  );
}

function controlButton(name, label, onClick) {
  const button = el("button", {
    type: "button",
    class: "aw-icon-button aw-control aw-" + name,
    "aria-label": label,
    title: label,
    "data-label": label,
    "aria-pressed": name === "end" ? undefined : "false",
  });
  button.append(icon(ICONS[name]));
  button.addEventListener("click", onClick);
  return button;
}

export function setPressed(ui, name, on) {
  ui.controls.querySelector(".aw-" + name)?.setAttribute("aria-pressed", String(on));
}

// The conversation: the visual, the transcript, the agent's media, the composer and the
// controls (camera and screen only when the pinned agent version supports them). Everything
// but "end" stays disabled until the call is connected (setState).
export function callView(ui, capabilities, actions) {
  const buttons = [controlButton("mic", t("microphone"), actions.onMic)];
  if (capabilities.supportsVideoInput) buttons.push(controlButton("camera", t("camera"), actions.onCamera));
  if (capabilities.supportsScreenShare) buttons.push(controlButton("screen", t("shareScreen"), actions.onScreen));
  const end = controlButton("end", t("endConversation"), actions.onEnd);
  end.classList.add("aw-danger");
  buttons.push(end);
  ui.controls.replaceChildren(...buttons);
  const input = el("input", { type: "text", class: "aw-input", placeholder: t("typeMessage"), "aria-label": t("message"), "data-label": "" });
  const send = el("button", { type: "submit", class: "aw-icon-button aw-send", "aria-label": t("send"), "data-label": t("send") });
  send.append(icon(ICONS.send));
  ui.composer = el("form", { class: "aw-composer" }, input, send);
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    actions.onSend(text);
  });
  ui.messages.replaceChildren();
  ui.media.replaceChildren();
  setState(ui, "connecting", t("connecting"));
  show(ui, ui.visual, ui.messages, ui.media, ui.composer, ui.controls);
}

// A failure: what went wrong (in the status line), "Try again" and "Cancel"; nothing else.
export function errorView(ui, text, onRetry, onCancel) {
  setState(ui, "error", text);
  show(
    ui,
    primaryButton(t("retry"), "aw-retry", onRetry),
    el("button", { type: "button", class: "aw-secondary aw-cancel", text: t("cancel") }),
  );
  ui.body.querySelector(".aw-cancel").addEventListener("click", onCancel);
  focusInto(ui);
}

export function thanksView(ui, text, onAgain) {
  setState(ui, "ended", "");
  show(ui, el("p", { class: "aw-thanks", text }), primaryButton(t("newConversation"), "aw-again", onAgain));
}

export function endedView(ui, onAgain) {
  setState(ui, "ended", t("ended"));
  show(ui, primaryButton(t("newConversation"), "aw-again", onAgain));
}
