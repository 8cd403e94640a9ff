"""The management service's one outbound ClientSession, built so it can only reach vetted hosts.

- the connector's resolver is ``SafeResolver`` (disallowed addresses never reach the connector);
- no environment proxies (``trust_env=False``): a proxy would connect on our behalf, unvetted;
- no cookie jar: nothing one site sets is ever sent to another, or kept;
- redirects are never followed by aiohttp; ``fetch`` follows them itself, re-checking each hop.
"""

from __future__ import annotations

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from common.settings import Settings
from management_service.branding.ssrf import EgressPolicy, SafeResolver, parse_ports

USER_AGENT = "Mozilla/5.0 (compatible; WebWidgetsAutoBrand/1.0)"
# Brand lookups are rare, small and per domain: a few connections are plenty.
_CONNECTIONS = 32
_PER_HOST = 4


def egress_policy(settings: Settings) -> EgressPolicy:
    return EgressPolicy(
        ports=parse_ports(settings.auto_brand_ports),
        allow_private=settings.auto_brand_allow_private,
    )


def build_session(
    settings: Settings, policy: EgressPolicy, inner: AbstractResolver | None = None
) -> ClientSession:
    """Must be called inside a running loop (a cleanup context); ``inner`` is the real resolver
    (tests pass a fake one to control what names resolve to)."""
    connector = TCPConnector(
        resolver=SafeResolver(policy, inner or DefaultResolver()),
        limit=_CONNECTIONS,
        limit_per_host=_PER_HOST,
    )
    total = settings.auto_brand_timeout
    return ClientSession(
        connector=connector,
        timeout=ClientTimeout(total=total, connect=total, sock_read=total),
        cookie_jar=DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept-Language": "en"},
    )
