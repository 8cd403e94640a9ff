"""Every management route, registered in one place."""

from __future__ import annotations

from aiohttp import web

from common.http import healthz
from common.metrics import metrics_handler
from management_service.handlers import agents, auto_brand, openapi, widgets


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", widgets.readyz)
    app.router.add_get("/openapi.json", openapi.openapi_json)
    app.router.add_get("/metrics", metrics_handler)

    app.router.add_get("/core/web-widgets", widgets.list_widgets)
    app.router.add_post("/core/web-widgets", widgets.create_widget)
    app.router.add_get("/core/web-widgets/{id}", widgets.get_widget)
    app.router.add_put("/core/web-widgets/{id}", widgets.update_widget)
    app.router.add_delete("/core/web-widgets/{id}", widgets.delete_widget)
    app.router.add_post("/core/web-widgets/{id}/auto-brand", auto_brand.auto_brand)

    app.router.add_post("/core/agents", agents.create_agent)
    app.router.add_get("/core/agents/{id}", agents.get_agent)
    app.router.add_post("/core/agents/{id}/versions", agents.create_version)
    app.router.add_get("/core/agents/{id}/versions/{version}", agents.get_version)
    app.router.add_put("/core/agents/{id}/versions/{version}", agents.update_version)
    app.router.add_post("/core/agents/{id}/versions/{version}/publish", agents.publish_version)
