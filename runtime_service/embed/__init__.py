"""The embed: the loader script a site pastes, the widget iframe page and its bundled assets.

``routes.setup_embed(app)`` registers the three routes and the assets' cleanup context; the
browser code lives in ``web/`` (sources) and ``static/`` (the build output of ``make embed``).
See docs/embed.md.
"""
