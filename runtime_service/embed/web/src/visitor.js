// The visitor's id (the API's user_id): a stable guest id per browser, so resuming checks the
// same visitor. Where storage is blocked the caller keeps it for the page's life.
import { keys } from "./storage.js";

export function visitorId(local, widgetId) {
  const key = keys.visitor(widgetId);
  let id = local.get(key);
  if (!id) {
    id = "guest_" + crypto.getRandomValues(new Uint32Array(4)).join("").slice(0, 24);
    if (!local.set(key, id)) id = "guest_" + Math.random().toString(36).slice(2);
  }
  return id;
}
