"""The embed: the loader script a site pastes, the widget iframe page and its bundled assets.

``routes.embed_routes()`` gives the three routes (the assets are loaded in runtime_service/app.py);
the browser code lives in ``web/`` (sources) and ``static/`` (the build output of ``make embed``).
See docs/embed.md.
"""
