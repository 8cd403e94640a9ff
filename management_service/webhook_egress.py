"""Where outbound webhooks may go: the URL rules and the address policy, shared by the management
API (at registration and on a changed ``url``) and the delivery worker (at every delivery).

It builds on auto-brand's SSRF controls (management_service/branding/ssrf.py) with a stricter
address rule, since a webhook URL is chosen by a customer and hit again and again:

- ``https`` only; plain ``http`` too with ``WEBHOOK_ALLOW_PRIVATE=true`` (development);
- no credentials in the URL, an explicit host, any port from 1 to 65535;
- link-local addresses (169.254.0.0/16, fe80::/10), cloud metadata addresses (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, 168.63.129.16, ...), unspecified, multicast and reserved
  addresses are refused always, also inside IPv4-mapped and NAT64 IPv6 forms;
- loopback and private addresses (RFC 1918, fc00::/7, 100.64.0.0/10, ...) only with
  ``WEBHOOK_ALLOW_PRIVATE=true``; otherwise only globally routable unicast addresses.

``resolve_allowed`` resolves the host and refuses the URL when ANY of its addresses is refused
(a name that mixes public and private answers is a rebinding tool). ``WebhookEgressPolicy`` is
an ``EgressPolicy``, so ``SafeResolver(policy, inner)`` and ``policy.check_peer`` apply the same
address rule inside an aiohttp connector, the way auto-brand's session does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

from common.settings import Settings
from management_service.branding.ssrf import (
    BlockedError,
    EgressPolicy,
    IPAddress,
    is_public_address,
    literal_address,
)

MAX_URL_LENGTH = 2048
# A registration waits at most this long for DNS; a slower resolver is a refusal (retry later).
DNS_TIMEOUT = 5.0
ALLOW_FLAG = "WEBHOOK_ALLOW_PRIVATE=true"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# "This network": 0.0.0.0 reaches the local host on Linux; nothing else in it is reachable.
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
# Instance metadata services reachable from inside clouds; refused even with the flag. Most
# are link-local (refused anyway); these are not: AWS's IPv6 IMDS (a ULA), Alibaba's (in the
# shared 100.64.0.0/10 space), Azure's wire server (a public address), Oracle's legacy one.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16",
    "192.0.0.192",
))
# getaddrinfo's "this name has no addresses" answers; anything else is a failed lookup.
_NO_SUCH_HOST = frozenset(
    code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
    if code is not None
)


class EgressRefused(BlockedError):
    """A webhook URL or address the policy refuses; the message says why, for the API's 422."""


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def never_allowed(ip: IPAddress) -> bool:
    """Link-local, metadata, unspecified, multicast and reserved: refused whatever the flag."""
    inner = _embedded_v4(ip)
    if inner is not None:
        return never_allowed(inner)
    return (
        ip in METADATA_ADDRESSES
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK)
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        # ::1 sits in IPv6's reserved ::/8: loopback is decided below, with the flag.
        or (ip.is_reserved and not ip.is_loopback)
    )


def refusal_reason(ip: IPAddress, allow_private: bool) -> str | None:
    """Why ``ip`` may not receive webhooks (``"<ip> is ..."``), or None when it may."""
    if never_allowed(ip):
        return f"{ip} is a link-local, cloud metadata or reserved address, which webhooks " \
            "never reach"
    if allow_private or is_public_address(ip):
        return None
    return f"{ip} is a loopback or private address (allowed only with {ALLOW_FLAG})"


@dataclass(frozen=True)
class WebhookEgressPolicy(EgressPolicy):
    """The webhook address rule as an ``EgressPolicy`` (usable with ``SafeResolver``)."""

    ports: frozenset[int] = frozenset()  # unused: any port from 1 to 65535 is allowed

    def allows_address(self, ip: IPAddress) -> bool:
        return refusal_reason(ip, self.allow_private) is None

    def parse_url(self, raw: str) -> URL:
        """The URL when its form is acceptable (no resolution); raises EgressRefused."""
        if len(raw) > MAX_URL_LENGTH:
            raise EgressRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            url = URL(raw)
            port = url.port
        except (ValueError, TypeError):
            raise EgressRefused("not a valid URL") from None
        schemes = ("https", "http") if self.allow_private else ("https",)
        if not url.is_absolute() or not url.scheme:
            raise EgressRefused("must be an absolute URL (https://host/path)")
        if url.scheme not in schemes:
            hint = "" if self.allow_private else f" (http only with {ALLOW_FLAG})"
            raise EgressRefused(f"scheme {url.scheme!r} is not allowed: use https{hint}")
        if url.user is not None or url.password is not None:
            raise EgressRefused("credentials (user:password@) in the URL are not allowed")
        if not url.raw_host:
            raise EgressRefused("the URL has no host")
        if port is None or not 0 < port < 65536:
            raise EgressRefused("the port must be from 1 to 65535")
        ip = literal_address(url.raw_host)
        if ip is not None and (reason := refusal_reason(ip, self.allow_private)):
            raise EgressRefused(reason)
        return url

    def check_url(self, url: URL) -> None:
        self.parse_url(str(url))


def webhook_egress_policy(settings: Settings) -> WebhookEgressPolicy:
    return WebhookEgressPolicy(allow_private=settings.webhook_allow_private)


def default_resolver() -> AbstractResolver:
    """The system resolver (tests replace ``DefaultResolver`` here with a table)."""
    return DefaultResolver()


async def resolve_allowed(
    raw_url: str, policy: WebhookEgressPolicy, resolver: AbstractResolver,
    dns_timeout: float = DNS_TIMEOUT,
) -> list[IPAddress]:
    """Check the URL, resolve its host and return its addresses, all of them allowed; raise
    EgressRefused (with a message fit for the API client) when the URL or ANY address is
    refused, the name does not exist, or the lookup fails or times out."""
    url = policy.parse_url(raw_url)
    host = url.raw_host
    assert host is not None and url.port is not None  # parse_url refuses both
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        async with asyncio.timeout(dns_timeout):
            results = await resolver.resolve(host, url.port, socket.AF_UNSPEC)
    except TimeoutError:
        raise EgressRefused(f"looking up {host} timed out; try again") from None
    except socket.gaierror as exc:
        if exc.errno in _NO_SUCH_HOST:
            raise EgressRefused(f"{host} does not exist") from None
        raise EgressRefused(f"{host} could not be looked up; try again") from None
    except OSError:
        raise EgressRefused(f"{host} could not be looked up; try again") from None
    addresses = [ipaddress.ip_address(r["host"].split("%", 1)[0]) for r in results]
    if not addresses:
        raise EgressRefused(f"{host} has no addresses")
    for ip in addresses:
        if reason := refusal_reason(ip, policy.allow_private):
            raise EgressRefused(f"{host} resolves to {ip}, which is not allowed: {reason}")
    return addresses
