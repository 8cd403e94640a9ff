"""Auto-brand: fetch a public site safely and turn what it declares into a widget brand.

Modules, one job each: ``ssrf`` (which addresses, schemes and ports may be reached, and the
resolver that enforces it), ``session`` (the one outbound ClientSession), ``fetch`` (bounded GETs
with manual, re-checked redirects), ``target`` (the request's domain, normalized), ``colors``
(CSS colour parsing and WCAG contrast), ``parse`` (what a page and a manifest declare), ``brand``
(choosing colours and logos), ``models`` (the wire objects), ``cache`` (Redis, per domain) and
``service`` (the lookup that ties them together).
"""
