/* Anyreach web widget loader (docs/embed.md). Served per widget: the server fills CONFIG in.
 * No dependencies; it only checks the allowed domains, adds the widget iframe and exposes
 * window.AnyreachWidget (open, close, toggle, isOpen, on, off, setContext). */
(function () {
  "use strict";
  var CONFIG = /*@CONFIG@*/ null;
  var NS = "anyreach-widget";
  var MARGIN = 16; // room around the launcher for its shadow, on the page's side
  var OPEN_WIDTH = 400;
  var OPEN_HEIGHT = 680;
  if (!CONFIG) return;

  var id = CONFIG.widgetId;
  var script = document.currentScript;
  var registry = (window.AnyreachWidgets = window.AnyreachWidgets || {});
  if (registry[id]) return; // the snippet was pasted twice: the first one wins

  // The allowed-domains rule, exactly as documented: a non-empty list that does not hold this
  // page's origin means no iframe at all.
  var origin = window.location.origin;
  if (CONFIG.domains.length && CONFIG.domains.indexOf(origin) === -1) {
    console.error(
      "[Anyreach widget] " + origin + " is not in the allowed domains of widget " + id +
        ": the widget is not loaded."
    );
    return;
  }

  // Parameters given on the loader URL are passed on to the iframe, except parentOrigin: it is
  // always this page's real origin, so a page cannot claim another one.
  var src = new URL(script && script.src ? script.src : CONFIG.base + "/public/embed/" + id);
  var params = new URLSearchParams(src.search);
  params.delete("parentOrigin");
  params.set("parentOrigin", origin);
  var frameOrigin = src.origin;
  var frameUrl =
    frameOrigin + "/public/embed/" + encodeURIComponent(id) + "/frame?" + params.toString();

  var frame = document.createElement("iframe");
  frame.src = frameUrl;
  frame.title = "Chat";
  frame.setAttribute("data-anyreach-widget", id);
  frame.setAttribute("allow", "microphone; camera; display-capture; autoplay; clipboard-write");
  var style = frame.style;
  style.position = "fixed";
  style.border = "0";
  style.margin = "0";
  style.padding = "0";
  style.background = "transparent";
  style.colorScheme = "normal"; // a transparent iframe stays transparent on dark pages
  style.zIndex = "2147483000";
  // Hidden until the app says "ready": an error page (a widget unpublished since this script
  // was cached) never shows on the site.
  style.visibility = "hidden";
  style.maxWidth = "100vw";
  style.maxHeight = "100vh";
  var position = CONFIG.position || "bottom-right";
  style[position.indexOf("top") === 0 ? "top" : "bottom"] = "0";
  style[/left$/.test(position) ? "left" : "right"] = "0";

  var opened = false;
  var ready = false;
  var queue = [];
  var listeners = {};

  function resize() {
    if (opened) {
      style.width = Math.min(OPEN_WIDTH, window.innerWidth) + "px";
      style.height = Math.min(OPEN_HEIGHT, window.innerHeight) + "px";
    } else {
      // trigger.padding on the edges' side (a shadow beyond the page's edge is off-screen anyway).
      var pad = typeof CONFIG.padding === "number" ? CONFIG.padding : MARGIN;
      var side = CONFIG.size + pad + MARGIN + "px";
      style.width = side;
      style.height = side;
    }
  }

  function emit(name, detail) {
    (listeners[name] || []).slice().forEach(function (fn) {
      try {
        fn(detail || {});
      } catch (err) {
        console.error(err);
      }
    });
  }

  function send(type, detail) {
    if (!ready) {
      queue.push([type, detail]);
      return;
    }
    var msg = { source: NS, type: type, widgetId: id, detail: detail || {} };
    frame.contentWindow.postMessage(msg, frameOrigin);
  }

  // The host page's context for the next start: the script tag's data-* attributes under what
  // setContext gave. Only JSON travels (a copy); the iframe checks size and depth again.
  var attributes = {};
  var given = {};
  if (script) for (var key in script.dataset) attributes[key] = script.dataset[key];
  function sendContext() {
    var merged = {};
    for (var a in attributes) merged[a] = attributes[a];
    for (var g in given) merged[g] = given[g];
    send("context", { context: merged });
  }

  window.addEventListener("message", function (event) {
    // Only this widget's own iframe, from the origin it was loaded from.
    if (event.origin !== frameOrigin || event.source !== frame.contentWindow) return;
    var msg = event.data;
    if (!msg || msg.source !== NS || msg.widgetId !== id) return;
    if (msg.type === "ready") {
      ready = true;
      style.visibility = "visible";
      queue.splice(0).forEach(function (item) { send(item[0], item[1]); });
    } else if (msg.type === "opened") {
      opened = true;
      resize();
    } else if (msg.type === "closed") {
      opened = false;
      resize();
    }
    emit(msg.type, msg.detail);
  });
  window.addEventListener("resize", resize);

  var api = {
    widgetId: id,
    open: function () { send("open"); },
    close: function () { send("close"); },
    toggle: function () { send(opened ? "close" : "open"); },
    isOpen: function () { return opened; },
    isReady: function () { return ready; },
    setContext: function (values) {
      var copy = JSON.parse(JSON.stringify(values || {}));
      if (!copy || typeof copy !== "object" || Array.isArray(copy)) {
        throw new TypeError("[Anyreach widget] setContext expects a plain object");
      }
      given = copy;
      sendContext();
    },
    on: function (name, fn) {
      (listeners[name] = listeners[name] || []).push(fn);
      if (name === "ready" && ready) setTimeout(function () { fn({}); }, 0);
      return function () { api.off(name, fn); };
    },
    off: function (name, fn) {
      listeners[name] = (listeners[name] || []).filter(function (f) { return f !== fn; });
    },
  };
  registry[id] = api;
  if (!window.AnyreachWidget) window.AnyreachWidget = api;

  if (Object.keys(attributes).length) sendContext();

  function mount() {
    resize();
    document.body.appendChild(frame);
    window.dispatchEvent(new CustomEvent(NS + ":loaded", { detail: api }));
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
