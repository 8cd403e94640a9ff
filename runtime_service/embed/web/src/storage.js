// The one guard around Web Storage. A browser can block it (third-party storage off) or refuse a
// write (full): reads then find nothing and writes report false, as on a first visit.

function area(name) {
  try {
    return window[name];
  } catch {
    return null;
  }
}

export function openStore(name) {
  const store = area(name);
  return {
    get(key) {
      try {
        return store ? store.getItem(key) : null;
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        if (!store) return false;
        store.setItem(key, value);
        return true;
      } catch {
        return false;
      }
    },
    remove(key) {
      try {
        store?.removeItem(key);
      } catch {
        /* blocked: nothing was kept */
      }
    },
  };
}

// Every key the widget keeps (docs/embed.md lists them).
export const keys = {
  visitor: (widgetId) => "anyreach-widget-user-" + widgetId, // localStorage
  form: (widgetId) => "anyreach-widget-form-" + widgetId, // localStorage
  conversation: (widgetId) => "anyreach-widget-conversation-" + widgetId, // sessionStorage
  feedbackSent: (conversationId) => "anyreach-widget-feedback-" + conversationId, // sessionStorage
};
