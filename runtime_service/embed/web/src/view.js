// The widget's DOM: the launcher and the window, and what the window's body shows. Nothing here
// calls the API or LiveKit: the visitor's actions go to the callbacks each view is given.
// `ui` is the record of the layout's elements that buildLayout returns.
import { ICONS, el, icon } from "./dom.js";

export function buildLayout(config, { onClose, onLauncher }) {
  const ui = {};
  const title = el("span", { class: "aw-title", text: (config.chat || {}).title || "Chat" });
  const close = el("button", { type: "button", class: "aw-icon-button aw-close", "aria-label": "Close" });
  close.append(icon(ICONS.close));
  close.addEventListener("click", onClose);
  ui.body = el("div", { class: "aw-body" });
  ui.messages = el("div", { class: "aw-messages", "aria-live": "polite" });
  ui.controls = el("div", { class: "aw-controls" });
  ui.media = el("div", { class: "aw-media" });
  ui.window = el("section", { class: "aw-window", "aria-label": "Chat window" });
  ui.window.hidden = true;
  ui.window.append(el("header", { class: "aw-header" }, title, close), ui.body);
  ui.launcher = el("button", { type: "button", class: "aw-launcher", "aria-label": "Open chat" });
  ui.launcher.append(icon(ICONS.chat));
  ui.launcher.addEventListener("click", onLauncher);
  document.body.append(el("div", { class: "aw-root" }, ui.window, ui.launcher));
  return ui;
}

export function showWindow(ui, open) {
  ui.window.hidden = !open;
  ui.launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
  ui.launcher.setAttribute("aria-expanded", String(open));
}

export function show(ui, ...nodes) {
  ui.body.replaceChildren(...nodes);
}

export function primaryButton(text, className, onClick) {
  const button = el("button", { type: "button", class: "aw-primary" + (className ? " " + className : ""), text });
  button.addEventListener("click", onClick);
  return button;
}

export function status(ui, text) {
  ui.messages.append(el("p", { class: "aw-status", text }));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

export function message(ui, role, text) {
  ui.messages.append(el("p", { class: "aw-message aw-" + role, text }));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

export function homeView(ui, config, onStart) {
  const start = primaryButton("Start conversation", "aw-start", () => onStart());
  const questions = (config.suggested_questions || []).map((question) => {
    const button = el("button", { type: "button", class: "aw-suggestion", text: question });
    button.addEventListener("click", () => onStart(question));
    return button;
  });
  show(
    ui,
    el("p", { class: "aw-intro", text: config.greeting || "Hi! How can we help?" }),
    ...(questions.length ? [el("div", { class: "aw-suggestions" }, ...questions)] : []),
    start,
  );
}

export function connectingView(ui) {
  ui.messages.replaceChildren();
  show(ui, ui.messages);
  status(ui, "Connecting…");
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

export function setPressed(ui, name, on) {
  ui.controls.querySelector(".aw-" + name)?.setAttribute("aria-pressed", String(on));
}

// The conversation: messages, the agent's media, the composer and the controls (camera and
// screen only when the pinned agent version supports them).
export function callView(ui, capabilities, actions) {
  const buttons = [controlButton("mic", "Microphone", actions.onMic)];
  if (capabilities.supportsVideoInput) {
    buttons.push(controlButton("camera", "Camera", actions.onCamera));
  }
  if (capabilities.supportsScreenShare) {
    buttons.push(controlButton("screen", "Share screen", actions.onScreen));
  }
  const end = controlButton("end", "End conversation", actions.onEnd);
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
    actions.onSend(text);
  });
  show(ui, ui.messages, ui.media, composer, ui.controls);
}

export function thanksView(ui, text, onAgain) {
  show(ui, el("p", { class: "aw-thanks", text }), primaryButton("New conversation", "", onAgain));
}

export function endedView(ui, onAgain) {
  show(
    ui,
    el("p", { class: "aw-intro", text: "The conversation has ended." }),
    primaryButton("New conversation", "", onAgain),
  );
}
