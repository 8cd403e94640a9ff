// config.v1's look: theme, colour tokens and the launcher's shape, size and corner.

function resolvedTheme(config) {
  const theme = config.theme || "system";
  if (theme === "light" || theme === "dark") return theme;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

// Colour tokens go into CSS custom properties (CSSOM, allowed by the CSP); empty ones fall
// back to the stylesheet's defaults for the mode.
function applyTheme(config) {
  const theme = resolvedTheme(config);
  const root = document.documentElement;
  root.dataset.theme = theme;
  const mode = ((config.chat || {})[theme + "_mode"]) || {};
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

function applyTrigger(config) {
  const trigger = config.trigger || {};
  const root = document.documentElement;
  root.style.setProperty("--aw-size", (trigger.size || 56) + "px");
  if (trigger.padding !== undefined && trigger.padding !== null) {
    root.style.setProperty("--aw-pad", trigger.padding + "px");
  }
  root.dataset.shape = trigger.shape || "circle";
  root.dataset.position = trigger.position || "bottom-right";
}

// Applies it, and follows the system's light/dark switch live.
export function applyAppearance(config) {
  applyTheme(config);
  applyTrigger(config);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(config));
}
