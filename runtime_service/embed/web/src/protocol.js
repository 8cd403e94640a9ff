// The iframe side of the loader/iframe protocol (docs/embed.md).

export const NS = "anyreach-widget";

// targetOrigin for postMessage, exactly as the reference's table says.
export function targetOriginFor(domains, parentOrigin) {
  if (!domains.length) return parentOrigin || "*";
  return domains.includes(parentOrigin) ? parentOrigin : "null";
}

export function createChannel(widgetId, domains, parentOrigin) {
  const target = targetOriginFor(domains, parentOrigin);
  const handlers = {};
  // "null" blocks communication both ways; otherwise only the parent window, from parentOrigin.
  const open = target !== "null" && window.parent !== window;
  if (open) {
    window.addEventListener("message", (event) => {
      if (event.source !== window.parent) return;
      if (target !== "*" && event.origin !== parentOrigin) return;
      const msg = event.data;
      if (!msg || msg.source !== NS || msg.widgetId !== widgetId) return;
      const handler = handlers[msg.type];
      if (handler) handler(msg.detail || {});
    });
  }
  return {
    targetOrigin: target,
    post(type, detail) {
      if (!open) return;
      window.parent.postMessage({ source: NS, type, widgetId, detail: detail || {} }, target);
    },
    on(type, fn) {
      handlers[type] = fn;
    },
  };
}
