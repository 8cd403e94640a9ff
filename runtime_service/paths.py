"""The public routes' prefix, named once for the routes, the origin policy and the OpenAPI
document."""

from __future__ import annotations

PUBLIC_PREFIX = "/core/public/web-widgets"
