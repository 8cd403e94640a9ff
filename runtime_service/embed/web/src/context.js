// The host page's context (AnyreachWidget.setContext and the script tag's data-* attributes):
// checked here with the server's bounds (runtime_service/start_metadata.py) so a page learns
// of a value that is too big in its console, not through a refused start.
export const MAX_CONTEXT_BYTES = 4 * 1024;
export const MAX_CONTEXT_DEPTH = 3;

function depth(value) {
  if (value === null || typeof value !== "object") return 0;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depth(child));
  return deepest + 1;
}

// The context to send, or null (with the reason logged) when it breaks a bound.
export function checkedContext(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    return null;
  }
  if (new TextEncoder().encode(text).length > MAX_CONTEXT_BYTES) {
    console.error(`[Anyreach widget] the context is larger than ${MAX_CONTEXT_BYTES} bytes as JSON: ignored.`);
    return null;
  }
  if (depth(value) > MAX_CONTEXT_DEPTH) {
    console.error(`[Anyreach widget] the context nests deeper than ${MAX_CONTEXT_DEPTH} levels: ignored.`);
    return null;
  }
  return JSON.parse(text);
}

// What a start sends as custom_metadata: the form's values, and the context when there is one.
export function startMetadata(values, context) {
  return context && Object.keys(context).length ? { ...values, context } : { ...values };
}
