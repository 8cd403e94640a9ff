"""Auto-brand's outbound ClientSession: a ``safe_session`` (management_service/safe_session.py:
vetted addresses only, no proxies, no cookies). Redirects are never followed by aiohttp;
``fetch`` follows them itself, re-checking each hop.
"""

from __future__ import annotations

from aiohttp import ClientSession, ClientTimeout
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from common.settings import Settings
from management_service.branding.ssrf import EgressPolicy, parse_ports
from management_service.safe_session import safe_session

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
    total = settings.auto_brand_timeout
    return safe_session(
        policy, inner or DefaultResolver(),
        timeout=ClientTimeout(total=total, connect=total, sock_read=total),
        limit=_CONNECTIONS, limit_per_host=_PER_HOST,
        headers={"User-Agent": USER_AGENT, "Accept-Language": "en"},
    )
