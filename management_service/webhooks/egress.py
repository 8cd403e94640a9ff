"""Egress safety at every delivery, with auto-brand's gates (management_service/branding/ssrf.py)
and a stricter address rule: the URL is checked before each attempt, the name is resolved anew
for each connection by ``SafeResolver`` (only vetted addresses reach the connector, so a name
that now resolves to a private address is refused even though it was public at registration),
and the peer the answer came from is checked again. Redirects are never followed.

- ``https`` only, unless WEBHOOK_ALLOW_PRIVATE=true (development and tests);
- public addresses only, unless WEBHOOK_ALLOW_PRIVATE=true, which opens loopback and private
  ranges; link-local (169.254.0.0/16, fe80::/10), cloud metadata addresses, the unspecified and
  multicast addresses are refused always.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

from common.settings import Settings
from management_service.branding.ssrf import (
    BlockedError,
    EgressPolicy,
    IPAddress,
    SafeResolver,
    is_public_address,
)

USER_AGENT = "WebWidgets-Webhooks/1.0"
ALL_PORTS = frozenset(range(1, 65536))
# Metadata services that are not link-local (those are refused as link-local anyway).
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)


def never_allowed(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return never_allowed(ip.ipv4_mapped)
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip in METADATA


@dataclass(frozen=True)
class WebhookPolicy(EgressPolicy):
    """Any port (receivers often listen on 8443 and the like): the address rules are the gate."""

    def allows_address(self, ip: IPAddress) -> bool:
        if never_allowed(ip):
            return False
        return self.allow_private or is_public_address(ip)

    def check_url(self, url: URL) -> None:
        if url.scheme != "https" and not (self.allow_private and url.scheme == "http"):
            raise BlockedError(f"scheme {url.scheme or '(none)'!r} is not allowed (https only)")
        super().check_url(url)


def webhook_policy(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(ports=ALL_PORTS, allow_private=settings.webhook_allow_private)


def build_session(
    settings: Settings, policy: WebhookPolicy, inner: AbstractResolver | None = None
) -> ClientSession:
    """The worker's one ClientSession (inside a running loop); ``inner`` is the real resolver
    (tests pass a fake one). No DNS cache: every connection resolves and vets anew. No
    environment proxies, no cookies."""
    connector = TCPConnector(
        resolver=SafeResolver(policy, inner or DefaultResolver()),
        use_dns_cache=False,
        limit=settings.webhook_concurrency,
        limit_per_host=0,
    )
    return ClientSession(
        connector=connector,
        timeout=ClientTimeout(
            total=settings.webhook_timeout, connect=settings.webhook_connect_timeout
        ),
        cookie_jar=DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )
