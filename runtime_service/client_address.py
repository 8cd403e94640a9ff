"""The address a public request comes from, as rate limits see it.

Behind ``TRUSTED_PROXIES`` reverse proxies, each appends the address it received the request from
to ``X-Forwarded-For``, so the client is the entry that many places from the right; anything left
of it was written by the client and is ignored. Without trusted proxies the header is ignored
entirely. IPv6 clients are counted per /64, the block one subscriber usually gets.

Some load balancers write entries with a port (``203.0.113.7:51234``, ``[2001:db8::1]:443``);
the port is dropped. An entry that is not an address (``unknown``, an obfuscated ``_name``,
garbage) is never used: the peer is then the only address known.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

# "[" + the longest IPv6 text (45, IPv4-mapped) + "]:" + 5 digits, with room to spare: anything
# longer is not an address, and is refused before any parsing.
_MAX_ENTRY = 64


def _normalize(text: str) -> str | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            return None  # a zone id names a local interface, never an internet client
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _port(text: str) -> bool:
    return 1 <= len(text) <= 5 and text.isascii() and text.isdigit() and int(text) <= 65535


def parse_entry(entry: str) -> str | None:
    """One ``X-Forwarded-For`` entry as a rate-limit address: ``ip``, ``ip:port``, ``[ipv6]``
    or ``[ipv6]:port``; None for anything else."""
    text = entry.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and _port(rest[1:]))):
            return None
        if ":" not in host:
            return None  # brackets hold IPv6 addresses only
        return _normalize(host)
    if text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has at least two)
        host, _, port = text.partition(":")
        return _normalize(host) if _port(port) else None
    return _normalize(text)


def client_address(request: web.Request, trusted_proxies: int) -> str:
    # A link-local peer's zone id is only the interface it came in on.
    peer = parse_entry((request.remote or "").partition("%")[0]) or "unknown"
    if trusted_proxies == 0:
        return peer
    hops = [
        hop
        for header in request.headers.getall("X-Forwarded-For", ())
        for hop in header.split(",")
    ]
    if len(hops) < trusted_proxies:
        return peer  # did not come through all the proxies: only the peer is known
    return parse_entry(hops[-trusted_proxies]) or peer
