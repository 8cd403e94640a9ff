// Built-in translations (the data is locales.json; English is strings.js's EN) and the choice of
// language: config.v1.locale when the widget fixes one, else the loader's `locale` parameter, else
// the browser's languages; a language without a table falls back to English. Right-to-left
// languages set dir="rtl".
import TABLES from "./locales.json" with { type: "json" };

export { TABLES };

const RTL = new Set(["ar", "he", "fa", "ur", "ps", "sd", "yi", "dv", "ug", "ckb"]);
const TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

function base(tag) {
  return tag.split("-")[0].toLowerCase();
}

// {locale, table, dir}: locale is the tag the widget uses and sends to the agent (a built-in
// language, the configured tag, or "en"); table the built-in strings for it (empty: English).
export function resolveLocale(configured, requested, browserLanguages) {
  const candidates = [configured, requested, ...(browserLanguages || [])].filter((tag) => tag && TAG.test(tag));
  // A fixed locale is used even without a table (the agent may speak it); else the first
  // browser language with a table, else the first one given, else English.
  const chosen = configured && TAG.test(configured)
    ? configured
    : candidates.find((tag) => base(tag) === "en" || TABLES[base(tag)]) || candidates[0] || "en";
  return { locale: chosen, table: TABLES[base(chosen)] || {}, dir: RTL.has(base(chosen)) ? "rtl" : "ltr" };
}
