"""Server-side request forgery controls for auto-brand's outbound requests.

Three gates, all of them applied to the first URL and to every redirect hop:

- ``EgressPolicy.check_url``: http(s) only, no credentials in the URL, the port on the allowlist,
  and an IP-literal host vetted right away (aiohttp connects to literals without resolving).
- ``SafeResolver``: the connector's only resolver. It drops every resolved address the policy
  refuses, so the connector can only ever connect to vetted addresses. A name is resolved once
  per connection and the vetted answer is what gets connected to: there is no window in which a
  second DNS answer (rebinding) could be used.
- ``EgressPolicy.check_peer``: the address a response actually came from is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})
# RFC 6052 well-known NAT64 prefix: the IPv4 address in its last 32 bits is what is reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedError(OSError):
    """A destination the egress policy refuses (an OSError so aiohttp's connector passes it on)."""


class NoSuchHostError(OSError):
    """The name does not exist or has no addresses (NXDOMAIN / NODATA), as opposed to a lookup
    that failed (a resolver time-out or outage)."""


# getaddrinfo's "this name has no addresses" answers; anything else is a failed lookup.
_NO_SUCH_HOST = frozenset(
    code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
    if code is not None
)


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses, looking inside IPv6 forms that embed
    an IPv4 address (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and not is_public_address(ip.sixtofour):
            return False
        if ip.teredo is not None and not all(map(is_public_address, ip.teredo)):
            return False
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_reserved
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
    )


def parse_ports(spec: str) -> frozenset[int]:
    """``"80,443"`` -> ports; anything out of range stops start-up."""
    ports = frozenset(int(part) for part in spec.split(",") if part.strip())
    if not ports or not all(0 < port < 65536 for port in ports):
        raise ValueError(f"AUTO_BRAND_PORTS must list ports from 1 to 65535, got {spec!r}")
    return ports


@dataclass(frozen=True)
class EgressPolicy:
    ports: frozenset[int]
    # Development and tests only: lets requests reach loopback and private networks.
    allow_private: bool = False

    def allows_address(self, ip: IPAddress) -> bool:
        return self.allow_private or is_public_address(ip)

    def check_url(self, url: URL) -> None:
        """Refuse a URL before any connection is made (raises BlockedError)."""
        if url.scheme not in SCHEMES:
            raise BlockedError(f"scheme {url.scheme or '(none)'!r} is not allowed")
        if url.user is not None or url.password is not None:
            raise BlockedError("credentials in URLs are not allowed")
        host = url.raw_host
        if not host:
            raise BlockedError("the URL has no host")
        if url.port not in self.ports:
            raise BlockedError(f"port {url.port} is not allowed")
        ip = literal_address(host)
        if ip is not None and not self.allows_address(ip):
            raise BlockedError(f"address {ip} is not public")

    def check_peer(self, peername: object) -> None:
        """Refuse a connection whose remote address the policy does not allow."""
        if not isinstance(peername, tuple) or not peername:
            return  # not an IP socket (never the case with the TCP connector)
        ip = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
        if not self.allows_address(ip):
            raise BlockedError(f"connected to address {ip}, which is not public")


def literal_address(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets and zone ids tolerated)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


class SafeResolver(AbstractResolver):
    """Resolves with ``inner`` and keeps only the addresses the policy allows."""

    def __init__(self, policy: EgressPolicy, inner: AbstractResolver) -> None:
        self.policy = policy
        self.inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            results = await self.inner.resolve(host, port, family)
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_HOST:
                raise NoSuchHostError(f"{host} does not exist") from None
            raise
        if not results:
            raise NoSuchHostError(f"{host} does not exist")
        allowed = [r for r in results if self.policy.allows_address(_address(r["host"]))]
        if not allowed:
            raise BlockedError(f"{host} resolves only to addresses that are not public")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


def _address(host: str) -> IPAddress:
    # A scoped IPv6 answer ("fe80::1%eth0") is link-local, never allowed without allow_private.
    return ipaddress.ip_address(host.split("%", 1)[0])
