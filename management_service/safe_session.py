"""The one way management code builds an outbound ClientSession (auto-brand, webhook delivery):
it can only reach hosts its egress policy allows.

- the connector's resolver is ``SafeResolver`` (disallowed addresses never reach the connector);
- no environment proxies (``trust_env=False``): a proxy would connect on our behalf, unvetted;
- no cookie jar: nothing one site sets is ever sent to another, or kept.
"""

from __future__ import annotations

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector
from aiohttp.abc import AbstractResolver

from management_service.branding.ssrf import EgressPolicy, SafeResolver


def safe_session(
    policy: EgressPolicy, inner: AbstractResolver, *, timeout: ClientTimeout,
    limit: int, limit_per_host: int, headers: dict[str, str], use_dns_cache: bool = True,
) -> ClientSession:
    """Must be called inside a running loop; ``inner`` resolves names, ``SafeResolver`` vets
    its answers."""
    connector = TCPConnector(
        resolver=SafeResolver(policy, inner),
        use_dns_cache=use_dns_cache,
        limit=limit,
        limit_per_host=limit_per_host,
    )
    return ClientSession(
        connector=connector, timeout=timeout, cookie_jar=DummyCookieJar(), trust_env=False,
        headers=headers,
    )
