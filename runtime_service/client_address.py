"""The address a public request comes from, as rate limits see it.

Behind ``TRUSTED_PROXIES`` reverse proxies, each appends the address it received the request from
to ``X-Forwarded-For``, so the client is the entry that many places from the right; anything left
of it was written by the client and is ignored. Without trusted proxies the header is ignored
entirely. IPv6 clients are counted per /64, the block one subscriber usually gets.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web


def _normalize(text: str) -> str | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(request: web.Request, trusted_proxies: int) -> str:
    peer = _normalize(request.remote or "") or "unknown"
    if trusted_proxies == 0:
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", ())
        for hop in header.split(",")
    ]
    if len(hops) < trusted_proxies:
        return peer  # did not come through all the proxies: only the peer is known
    return _normalize(hops[-trusted_proxies]) or peer
