// The visitor's id (the API's user_id): a random v4 UUID, one per widget, kept in localStorage.
// It must be unguessable (122 random bits): with it and a conversation id anyone could resume
// the visitor's conversations. Where storage is blocked the caller keeps it for the page's life.
import { keys } from "./storage.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function randomUuid() {
  // randomUUID exists only in secure contexts; getRandomValues everywhere.
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}

export function visitorId(local, widgetId) {
  const key = keys.visitor(widgetId);
  const stored = local.get(key);
  // Anything else (the earlier "guest_<digits>" ids were guessable) is replaced.
  if (stored && UUID_V4.test(stored)) return stored;
  const id = randomUuid();
  local.set(key, id);
  return id;
}
