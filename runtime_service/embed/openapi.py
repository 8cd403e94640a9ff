"""The embed routes' part of the runtime OpenAPI document (merged in by runtime_service.openapi).
"""

from __future__ import annotations

from typing import Any

from common.openapi import IF_NONE_MATCH, operation, path_param, responses

_CACHE = {
    "ETag": {"schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string"}},
    "Content-Security-Policy": {"schema": {"type": "string"}},
}
_ID = path_param("id", "The widget id")
_UNKNOWN = {"404": "Unknown or unpublished widget"}


def _text(media_type: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _CACHE,
        "content": {media_type: {"schema": {"type": "string"}}},
    }


EMBED_PATHS: dict[str, Any] = {
    "/public/embed/{id}": {"get": operation(
        "getEmbedLoader", "The embed loader script",
        responses({"200": _text("application/javascript", "The loader")}, (304, 404), _UNKNOWN),
        tags=["embed"],
        description="The script a site includes with "
        '`<script src=".../public/embed/{id}" async></script>`. It checks the allowed '
        "domains (a non-empty list without the page's origin: console error, no iframe), "
        "adds the widget iframe with `parentOrigin` set to the page's real origin and "
        "exposes `window.AnyreachWidget`. Query parameters on the script URL are passed "
        "to the iframe, except `parentOrigin`. Public cache for `PUBLIC_CACHE_MAX_AGE` "
        "seconds, ETag revalidation. See docs/embed.md.",
        parameters=[_ID, IF_NONE_MATCH],
    )},
    "/public/embed/{id}/frame": {"get": operation(
        "getEmbedFrame", "The widget iframe page",
        responses(
            {"200": _text("text/html", "The iframe page")}, (304, 404, 503),
            {**_UNKNOWN, "503": "The widget app bundle is not built on this server"},
        ),
        tags=["embed"],
        description="The page the loader frames. Its Content-Security-Policy allows no "
        "inline script or style, connects only to this origin and `LIVEKIT_URL`, and its "
        "`frame-ancestors` are the widget's `domains` (`*` when the list is empty).",
        parameters=[
            _ID,
            {
                "name": "parentOrigin",
                "in": "query",
                "required": False,
                "description": "The embedding page's origin, set by the loader",
                "schema": {"type": "string"},
            },
            {
                "name": "open",
                "in": "query",
                "required": False,
                # Read by the page's script, not the server: any value serves the page.
                "description": "`1`: start with the chat window open (any other value: "
                "closed)",
                "schema": {"type": "string"},
            },
            IF_NONE_MATCH,
        ],
    )},
    "/public/embed/assets/{name}": {"get": operation(
        "getEmbedAsset", "A file of the bundled widget app (content-hashed name)",
        responses(
            {"200": {
                "description": "The file",
                "headers": {"ETag": _CACHE["ETag"], "Cache-Control": _CACHE["Cache-Control"]},
                "content": {
                    "application/javascript": {"schema": {"type": "string"}},
                    "text/css": {"schema": {"type": "string"}},
                },
            }},
            (304, 404), {"404": "No such file"},
        ),
        tags=["embed"],
        description="Cached for a year (`immutable`): a new build has new names. "
        "Gzipped when the request accepts it (`Vary: Accept-Encoding`).",
        parameters=[
            path_param(
                "name", "File name from the iframe page, e.g. `widget-2MLQWB3B.js`",
                {"type": "string"},
            ),
            IF_NONE_MATCH,
        ],
    )},
}
