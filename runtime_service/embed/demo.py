"""A demo host page on a second local origin: what ``make run`` serves, and what the browser
tests embed widgets into. Development only (stdlib server in a thread, loopback).

``GET /`` is a page that embeds a widget with the documented snippet, shows the events of the
JavaScript API and has open/close buttons. ``?widget=<id>`` picks another widget and
``?loader=<query>`` adds a query string to the loader URL (the tests use both), and
``?data=<JSON object>`` puts ``data-*`` attributes on the loader's script tag (its context).
The page also shows a context example (``AnyreachWidget.setContext``) and a language switch
(the loader's ``locale`` parameter).

With a webhook secret, the server is also a webhook receiver, as a customer's backend would be:
``POST /webhooks`` verifies each delivery's Standard Webhooks signature and keeps the newest
(``GET /webhooks.json``), and the page lists them as they arrive, so ``make run`` shows the loop
from a conversation to its delivery close.
"""

from __future__ import annotations

import collections
import html
import json
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

EVENTS = ("ready", "opened", "closed", "conversation-started", "conversation-ended")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Widget demo</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 760px; margin: 40px auto;
         padding: 0 16px; color: #1f2937; }}
  pre {{ background: #f3f4f6; padding: 12px; overflow-x: auto; }}
  button {{ font: inherit; margin-right: 8px; }}
</style>
</head>
<body>
<h1>Widget demo page</h1>
<p>This page stands for a customer's site (origin <code id="origin"></code>). It embeds
widget <code>{widget_id}</code> with this snippet:</p>
<pre>{snippet}</pre>
<p><button id="open" type="button">AnyreachWidget.open()</button>
<button id="close" type="button">AnyreachWidget.close()</button></p>
<h2>Context for the agent</h2>
<p>What the host page knows travels with the next conversation's start as
<code>custom_metadata.context</code> (stored with the conversation; see docs/embed.md):</p>
<pre>AnyreachWidget.setContext({{
  customer: {{ name: "Ada", plan: "pro" }}, order: "A-1042"
}});</pre>
<p><button id="set-context" type="button">Set this context</button></p>
<h2>Language</h2>
<p>The widget follows the browser's language unless it fixes one; a site can pass its own:
{locales}</p>
<h2>Events from the widget</h2>
<ol id="events"></ol>
<h2>Webhook deliveries</h2>
<p id="webhooks-status">This page's server is a webhook receiver (<code>POST /webhooks</code>)
when <code>make run</code> registered it: conversation events arrive here, signatures checked.</p>
<ol id="webhooks" aria-live="polite"></ol>
<script>
  // Recorded before the loader runs: every event of the JavaScript API lands in the list.
  window.widgetEvents = [];
  document.getElementById("origin").textContent = window.location.origin;
  window.addEventListener("anyreach-widget:loaded", function (event) {{
    var api = event.detail;
    {events}.forEach(function (name) {{
      api.on(name, function (detail) {{
        window.widgetEvents.push({{ name: name, detail: detail }});
        var item = document.createElement("li");
        item.textContent = name + " " + JSON.stringify(detail);
        document.getElementById("events").appendChild(item);
      }});
    }});
  }});
  // Deliveries received by this page's server (newest first), polled.
  function showDeliveries() {{
    fetch("/webhooks.json").then(function (r) {{ return r.json(); }}).then(function (items) {{
      var list = document.getElementById("webhooks");
      list.textContent = "";
      items.forEach(function (item) {{
        var entry = document.createElement("li");
        entry.textContent = item.received_at + " " + item.type + " " + item.webhook_id +
          (item.verified ? " (signature verified)" : " (SIGNATURE INVALID)");
        list.appendChild(entry);
      }});
    }}).catch(function () {{}});
  }}
  showDeliveries();
  setInterval(showDeliveries, 2000);
  document.getElementById("open").onclick = function () {{ window.AnyreachWidget.open(); }};
  document.getElementById("close").onclick = function () {{ window.AnyreachWidget.close(); }};
  document.getElementById("set-context").onclick = function () {{
    var customer = {{ name: "Ada", plan: "pro" }};
    window.AnyreachWidget.setContext({{ customer: customer, order: "A-1042" }});
  }};
</script>
{script}
</body>
</html>
"""


def loader_url(runtime_base: str, widget_id: str, query: str = "") -> str:
    url = f"{runtime_base.rstrip('/')}/public/embed/{widget_id}"
    return f"{url}?{query}" if query else url


LOCALES = ("en", "es", "fr", "de", "pt", "it", "ja", "ar")
_DATA_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}\Z")


def data_attributes(raw: str) -> str:
    """``data-*`` attributes from a JSON object of strings (others, and bad names, skipped)."""
    try:
        values = json.loads(raw) if raw else {}
    except ValueError:
        return ""
    if not isinstance(values, dict):
        return ""
    return "".join(
        f' data-{name}="{html.escape(value)}"'
        for name, value in values.items()
        if isinstance(value, str) and _DATA_NAME.match(name)
    )


def demo_page(
    runtime_base: str, widget_id: str, loader_query: str = "", data: str = ""
) -> str:
    src = html.escape(loader_url(runtime_base, widget_id, loader_query))
    links = " ".join(
        f'<a href="?widget={quote(widget_id)}&amp;loader=locale%3D{code}" lang="{code}">{code}</a>'
        for code in LOCALES
    )
    return _PAGE.format(
        widget_id=html.escape(widget_id),
        snippet=html.escape(snippet(runtime_base, widget_id)),
        events=json.dumps(list(EVENTS)),
        locales=links,
        script=f'<script src="{src}"{data_attributes(data)} async></script>',
    )


def snippet(runtime_base: str, widget_id: str) -> str:
    """What a site owner pastes before ``</body>``."""
    return f'<script src="{loader_url(runtime_base, widget_id)}" async></script>'


MAX_WEBHOOK_BODY = 256 * 1024


class WebhookInbox:
    """The newest deliveries a receiver got, each checked as a receiver would: with the
    ``standardwebhooks`` package (a development tool here; without it nothing verifies)."""

    def __init__(self, keep: int = 50) -> None:
        self.secret: str | None = None
        self._items: collections.deque[dict[str, object]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def receive(self, body: bytes, headers: dict[str, str]) -> bool:
        verified = False
        if self.secret:
            try:
                from standardwebhooks import Webhook

                Webhook(self.secret).verify(body, headers)
                verified = True
            except Exception:  # a bad signature, or the package missing: shown as such
                verified = False
        try:
            kind = str(json.loads(body).get("type", "?"))
        except (ValueError, AttributeError):
            kind = "?"
        with self._lock:
            self._items.appendleft({
                "webhook_id": headers.get("webhook-id", ""), "type": kind, "verified": verified,
                "received_at": time.strftime("%H:%M:%S"),
            })
        return verified

    def items(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self._items)


class DemoServer:
    """The demo page on ``host:port`` (0: a free port), served from a thread; ``inbox`` keeps
    the webhook deliveries it receives."""

    def __init__(self, runtime_base: str, widget_id: str, host: str = "127.0.0.1", port: int = 0):
        runtime, default = runtime_base, widget_id
        inbox = self.inbox = WebhookInbox()

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if urlsplit(self.path).path != "/webhooks" or not 0 < length <= MAX_WEBHOOK_BODY:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                # Answer fast, as the receiver's guide says; a bad signature is refused.
                ok = inbox.receive(body, headers)
                status = HTTPStatus.NO_CONTENT if ok else HTTPStatus.UNAUTHORIZED
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/webhooks.json":
                    self._send(
                        HTTPStatus.OK, json.dumps(inbox.items()).encode(), "application/json"
                    )
                    return
                if parts.path not in ("/", "/index.html"):
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                query = parse_qs(parts.query)
                chosen = query.get("widget", [default])[0]
                body = demo_page(
                    runtime, chosen, query.get("loader", [""])[0], query.get("data", [""])[0]
                ).encode()
                self._send(HTTPStatus.OK, body, "text/html; charset=utf-8")

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: make run's terminal shows the services' logs

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-page", daemon=True
        )

    def start(self) -> DemoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
