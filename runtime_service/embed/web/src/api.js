// The public API the iframe calls (same origin). Every call answers {status, ok, data}, a
// network failure included (status 0), so callers handle one shape.
const BASE = "/core/public/web-widgets/";

async function request(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { status: 0, ok: false, data: { detail: "Network error: check your connection" } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    /* empty or not JSON */
  }
  return { status: response.status, ok: response.ok, data };
}

export function createApi(widgetId) {
  const widget = BASE + encodeURIComponent(widgetId);
  return {
    widget: () => request(widget),
    // body: {user_id, custom_metadata, conversation_id?}; with conversation_id it resumes.
    startConversation: (body) => request(widget + "/conversations", body),
    sendFeedback: (conversationId, data) =>
      request(widget + "/conversations/" + encodeURIComponent(conversationId) + "/feedback", { data }),
  };
}

export function detailOf(result) {
  const detail = result.data && result.data.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail[0]) return detail[0].msg;
  return `Request failed (${result.status})`;
}
