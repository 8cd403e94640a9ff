// Form rendering (pre-conversation form and feedback) and the show-once cache.
import { el } from "./dom.js";
import { keys } from "./storage.js";
import { t } from "./strings.js";

const INPUT_TYPES = { text: "text", email: "email", phone: "tel", number: "number" };
const PHONE = /^\+?[0-9 ().\-/]+$/;

// FNV-1a over the fields' JSON: a change to any field shows the form again.
export function fieldsHash(fields) {
  const text = JSON.stringify(fields);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

// The show-once cache of the pre-conversation form: {hash, values} in localStorage.
export function readCachedForm(local, widgetId) {
  try {
    const raw = local.get(keys.form(widgetId));
    const parsed = raw ? JSON.parse(raw) : null;
    return parsed && typeof parsed.values === "object" ? parsed : null;
  } catch {
    return null;
  }
}

// Storage full or blocked: the form is simply shown again next time.
export function writeCachedForm(local, widgetId, hash, values) {
  local.set(keys.form(widgetId), JSON.stringify({ hash, values }));
}

function ratingInput(field, initial) {
  const group = el("div", { class: "aw-rating", role: "radiogroup", "aria-label": field.label });
  let value = typeof initial === "number" ? initial : null;
  const buttons = [];
  for (let n = 1; n <= 5; n++) {
    const button = el("button", {
      type: "button",
      class: "aw-star",
      role: "radio",
      "aria-label": t("stars", { n }),
      "data-value": String(n),
      text: "★",
    });
    button.addEventListener("click", () => {
      value = n;
      mark();
    });
    buttons.push(button);
    group.append(button);
  }
  // One radio is checked (the value); the stars up to it are drawn filled.
  function mark() {
    buttons.forEach((b, i) => {
      b.setAttribute("aria-checked", String(value === i + 1));
      b.dataset.on = String(value !== null && i < value);
    });
  }
  mark();
  return { node: group, value: () => value, valid: () => true };
}

function fieldInput(field, initial) {
  const id = "aw-field-" + field.id;
  if (field.type === "rating") return ratingInput(field, initial);
  if (field.type === "checkbox") {
    const input = el("input", { type: "checkbox", id, name: field.id });
    input.checked = initial === true;
    if (field.required) input.required = true;
    return { node: input, value: () => input.checked, valid: () => true };
  }
  let input;
  if (field.type === "textarea") {
    input = el("textarea", { id, name: field.id, rows: "3" });
  } else if (field.type === "select") {
    input = el("select", { id, name: field.id });
    input.append(el("option", { value: "", text: field.placeholder || t("choose") }));
    for (const option of field.options || []) input.append(el("option", { value: option, text: option }));
  } else {
    input = el("input", { id, name: field.id, type: INPUT_TYPES[field.type] || "text" });
  }
  if (field.placeholder && field.type !== "select") input.placeholder = field.placeholder;
  if (field.required) input.required = true;
  if (initial !== undefined && initial !== null) input.value = String(initial);
  return {
    node: input,
    value: () => {
      if (input.value === "") return null;
      return field.type === "number" ? Number(input.value) : input.value;
    },
    // The browser's own checks of the type (e-mail, number) and the phone pattern the server
    // applies (runtime_service/feedback_values.py); select values are the options by design.
    valid: () => {
      if (input.value === "") return true;
      if (field.type === "phone") return PHONE.test(input.value) && /[0-9]/.test(input.value);
      if (field.type === "text" && /[\r\n]/.test(input.value)) return false;
      return input.validity ? input.validity.valid || input.validity.valueMissing : true;
    },
  };
}

function focusField(input) {
  (input.node.matches("button, input, select, textarea") ? input.node : input.node.querySelector("button"))?.focus();
}

// A form definition rendered as a <form>; onSubmit(values) returns a promise.
export function renderForm(definition, initial, onSubmit, className) {
  const form = el("form", { class: "aw-form " + (className || ""), novalidate: "" });
  if (definition.title) form.append(el("h2", { class: "aw-form-title", text: definition.title }));
  const inputs = [];
  for (const field of definition.fields || []) {
    const input = fieldInput(field, initial ? initial[field.id] : undefined);
    inputs.push([field, input]);
    const label = el("label", { class: "aw-label", for: "aw-field-" + field.id, text: field.label });
    if (field.required) label.append(el("span", { class: "aw-required", text: " *" }));
    const row = el("div", { class: "aw-field", "data-field": field.id, "data-type": field.type });
    row.append(label, input.node);
    form.append(row);
  }
  const error = el("p", { class: "aw-error", role: "alert" });
  const submit = el("button", {
    type: "submit",
    class: "aw-primary",
    text: definition.submit_label || t("submit"),
  });
  form.append(error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const values = {};
    for (const [field, input] of inputs) {
      const value = input.value();
      const empty = value === null || value === false || value === "";
      if (field.required && empty) {
        error.textContent = t("required", { label: field.label });
        focusField(input);
        return;
      }
      if (!empty && !input.valid()) {
        error.textContent = t("invalid", { label: field.label });
        focusField(input);
        return;
      }
      if (!empty || field.type === "checkbox") values[field.id] = value;
    }
    error.textContent = "";
    submit.disabled = true;
    try {
      await onSubmit(values);
    } catch (err) {
      error.textContent = err.message || String(err);
      submit.disabled = false;
    }
  });
  return form;
}
