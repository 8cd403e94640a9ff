"""The framework's ceiling: a bare aiohttp app answering fixed bytes on the services' route shapes.

Run as ``python -m bench.baseline_app PORT BODIES_JSON``. It uses the services' own event loop
choice (``common.serve.new_event_loop``) and one process, like each service under test. Each
route answers the body the benchmark captured from the real service for that scenario, so a
ratio compares the same bytes on the wire: what is left is the services' own work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiohttp import web

from common.serve import new_event_loop

PUBLIC = "/core/public/web-widgets/{id}"
MANAGEMENT = "/core/web-widgets/{id}"
ROUTES = {
    "widget": ("GET", PUBLIC),
    "start": ("POST", PUBLIC + "/conversations"),
    "list": ("GET", PUBLIC + "/conversations"),
    "feedback": ("POST", PUBLIC + "/conversations/{conversation_id}/feedback"),
    "management_get": ("GET", MANAGEMENT),
    "management_put": ("PUT", MANAGEMENT),
    "management_list": ("GET", "/core/web-widgets"),
    "webhook": ("POST", "/livekit/webhook"),
    "owner_list": ("GET", "/core/conversations"),
    "owner_get": ("GET", "/core/conversations/{conversation_id}"),
}


def fixed(body: bytes) -> web.Handler:
    async def handler(request: web.Request) -> web.Response:
        await request.read()  # the services read every body they are sent
        return web.Response(body=body, content_type="application/json")

    return handler


def create_app(bodies: dict[str, str]) -> web.Application:
    app = web.Application()
    for name, (method, path) in ROUTES.items():
        app.router.add_route(method, path, fixed(bodies[name].encode()))
    return app


def main() -> None:
    port, bodies_path = int(sys.argv[1]), Path(sys.argv[2])
    loop, _ = new_event_loop()
    app = create_app(json.loads(bodies_path.read_text()))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
