"""Egress safety at every delivery: the one webhook address rule
(``management_service/webhook_egress.py``, which the API also applies at registration) applied
inside the worker's connector, with auto-brand's gates (``management_service/branding/ssrf.py``):

- the URL is checked before each attempt (``https`` unless WEBHOOK_ALLOW_PRIVATE=true, no
  credentials, IP literals vetted);
- the name is resolved anew for each connection (no DNS cache) by ``SafeResolver``, which keeps
  only addresses the rule allows, so a name that now resolves to a private address is refused
  even though it was public at registration; what was vetted is what is connected to;
- the peer the answer came from is checked again (``sender``); redirects are never followed.
"""

from __future__ import annotations

from aiohttp import ClientSession, ClientTimeout
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from common.settings import Settings
from management_service.safe_session import safe_session
from management_service.webhook_egress import WebhookEgressPolicy, webhook_egress_policy

USER_AGENT = "WebWidgets-Webhooks/1.0"

__all__ = ["USER_AGENT", "WebhookEgressPolicy", "build_session", "webhook_egress_policy"]


def build_session(
    settings: Settings, policy: WebhookEgressPolicy, inner: AbstractResolver | None = None
) -> ClientSession:
    """The worker's one ClientSession (inside a running loop); ``inner`` is the real resolver
    (tests pass a fake one). No DNS cache: every connection resolves and vets anew."""
    return safe_session(
        policy, inner or DefaultResolver(),
        timeout=ClientTimeout(
            total=settings.webhook_timeout, connect=settings.webhook_connect_timeout
        ),
        limit=settings.webhook_concurrency, limit_per_host=0,
        headers={"User-Agent": USER_AGENT}, use_dns_cache=False,
    )
