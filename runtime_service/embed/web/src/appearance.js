// config.v1's look: theme, colour tokens and the launcher's shape, size and corner.
import { readableText } from "./contrast.js";

// The stylesheet's defaults per mode (widget.css :root), needed to check a configured text
// colour against a default background and the other way round.
export const DEFAULTS = {
  light: { surface: "#ffffff", user_message: ["#2563eb", "#ffffff"], controls_button: ["#2563eb", "#ffffff"] },
  dark: { surface: "#111827", user_message: ["#2563eb", "#ffffff"], controls_button: ["#2563eb", "#ffffff"] },
};

// The colours config.v1 gives one mode, each text colour made readable (WCAG AA) on its
// background: {"--aw-user-bg": ..., "--aw-user-text": ..., ...}.
export function themeTokens(mode, theme) {
  const defaults = DEFAULTS[theme];
  const tokens = {};
  for (const [name, prefix] of [["user_message", "--aw-user"], ["controls_button", "--aw-controls"]]) {
    const background = ((mode.background_color || {})[name]) || defaults[name][0];
    const text = ((mode.text_color || {})[name]) || defaults[name][1];
    tokens[prefix + "-bg"] = background;
    tokens[prefix + "-text"] = readableText(background, text, defaults.surface);
  }
  return tokens;
}

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
  for (const [name, value] of Object.entries(themeTokens(mode, theme))) root.style.setProperty(name, value);
}

function applyTrigger(config) {
  const trigger = config.trigger || {};
  const root = document.documentElement;
  root.style.setProperty("--aw-size", (trigger.size || 56) + "px");
  if (trigger.padding !== undefined && trigger.padding !== null) {
    root.style.setProperty("--aw-pad", trigger.padding + "px");
  }
  root.dataset.shape = trigger.shape || "circle";
  root.dataset.avatar = (config.chat || {}).avatar_shape || "circle";
  root.dataset.position = trigger.position || "bottom-right";
}

// Applies it, and follows the system's light/dark switch live.
export function applyAppearance(config) {
  applyTheme(config);
  applyTrigger(config);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(config));
}
