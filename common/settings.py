"""Settings, read once from environment variables and passed down as one frozen object.

Every variable is documented in the README's configuration table; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from common.domains import DomainError, origin_list

# Defaults work for local development; `make run` overrides REDIS_URL to its private server.
_HOST_PORTS = r"^([^,:\s]+:\d{1,5}(,[^,:\s]+:\d{1,5})*)?$(?!\n)"
_LIMIT = r"^(off|[1-9]\d{0,6}/[1-9]\d{0,6})$(?!\n)"
_DEFAULT_PORTS = {"management": 8080, "runtime": 8081, "webhooks": 8083}
_DELAYS = r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$(?!\n)"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    service: str = "management"
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    shutdown_timeout: float = 15.0
    # A connection idle this long is closed, and so is one whose request head is still
    # incomplete this long after it opened or after its last answer: aiohttp's own default,
    # above the idle timeouts of the load balancers in front (see docs/security.md).
    keepalive_timeout: Annotated[float, msgspec.Meta(gt=0)] = 3630.0
    # A request body that has not arrived in full this long after its head answers 408.
    request_body_timeout: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    # Processes sharing the port on one host (SO_REUSEPORT); Kubernetes scales by pods instead.
    workers: Annotated[int, msgspec.Meta(ge=1)] = 1

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "ww"
    # Topology: a standalone server (REDIS_URL), a Redis Cluster (REDIS_URL names any node; the
    # rest is discovered) or Sentinel (REDIS_SENTINELS find the master REDIS_SENTINEL_MASTER;
    # REDIS_URL then gives only the database, credentials and TLS).
    redis_mode: Literal["standalone", "cluster", "sentinel"] = "standalone"
    redis_sentinels: Annotated[str, msgspec.Meta(pattern=_HOST_PORTS)] = ""
    redis_sentinel_master: str = "mymaster"
    redis_sentinel_password: str = ""
    # TLS (with a rediss:// URL): CA bundle to trust, and a client certificate when the server
    # asks for one.
    redis_tls_ca_file: str = ""
    redis_tls_cert_file: str = ""
    redis_tls_key_file: str = ""
    # Every Redis call is bounded, so a stalled server answers 503 instead of hanging a request.
    redis_timeout: float = 2.0

    # Runtime tier.
    public_origin: str = "http://127.0.0.1:8081"
    livekit_url: str = "ws://127.0.0.1:7880"
    livekit_api_key: str = "devkey"
    livekit_api_secret: str = "devsecret-change-me-devsecret-change-me"
    livekit_token_ttl: int = 900
    conversation_retention: int = 30 * 24 * 3600
    # The conversation lifecycle (docs/lifecycle.md): how long a finished room waits for late
    # webhooks before what did not happen decides, how often each pod sweeps, and how long the
    # conversation events stream keeps an event.
    lifecycle_settle: Annotated[float, msgspec.Meta(ge=0)] = 15.0
    lifecycle_sweep_interval: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    events_retention: Annotated[int, msgspec.Meta(ge=60)] = 7 * 24 * 3600
    widget_cache_size: int = 10_000
    widget_cache_ttl: float = 300.0
    negative_cache_ttl: float = 5.0
    public_cache_max_age: int = 30
    # Rate limits of the public endpoints, per client address and widget: "<requests>/<seconds>",
    # or "off". Starting conversations is the tightest: each start dispatches a paid agent, and
    # so does each resume, which spends the same budget.
    rate_limit_start: Annotated[str, msgspec.Meta(pattern=_LIMIT)] = "10/60"
    rate_limit_list: Annotated[str, msgspec.Meta(pattern=_LIMIT)] = "60/60"
    rate_limit_feedback: Annotated[str, msgspec.Meta(pattern=_LIMIT)] = "20/60"
    rate_limit_feedback_per_conversation: Annotated[str, msgspec.Meta(pattern=_LIMIT)] = "5/60"
    # Reverse proxies in front of the runtime whose X-Forwarded-For entries are believed.
    trusted_proxies: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0

    # Management tier.
    auto_brand_timeout: float = 10.0
    # Auto-brand egress limits. Private/loopback targets are for development and tests only.
    auto_brand_allow_private: bool = False
    auto_brand_ports: Annotated[str, msgspec.Meta(pattern=r"^\d{1,5}(,\d{1,5})*$(?!\n)")] = "80,443"
    auto_brand_max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 2 * 1024 * 1024
    auto_brand_max_redirects: Annotated[int, msgspec.Meta(ge=0, le=20)] = 5
    auto_brand_cache_ttl: Annotated[int, msgspec.Meta(ge=1)] = 24 * 3600
    auto_brand_negative_ttl: Annotated[int, msgspec.Meta(ge=1)] = 300
    # The agent's report: a summary may still arrive this long (s) after the end. With a
    # LiveKit API URL, ending a conversation also removes its room.
    report_grace: Annotated[int, msgspec.Meta(ge=0)] = 600
    livekit_api_url: str = ""
    # Browser dashboards allowed to call the management API (CORS): comma-separated origins.
    management_cors_origins: str = ""
    # Verified credentials kept per management process (0 turns the cache off); a revocation
    # drops them at once through the credential channel, the TTL is the safety net.
    credential_cache_ttl: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    credential_cache_size: Annotated[int, msgspec.Meta(ge=0)] = 10_000
    # Outbound webhooks: loopback and private targets (and plain http) for development only.
    webhook_allow_private: bool = False
    # The delivery worker (python -m management_service.webhooks; docs/architecture.md):
    # delivery shards (the same on every worker; change only when drained), attempts in flight
    # per process, per-attempt time-outs, the retry delays in seconds after each failed attempt
    # (jitter only shortens them), how long a dead worker's shards stay leased, and how long
    # delivery records are kept.
    webhook_shards: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 16
    webhook_concurrency: Annotated[int, msgspec.Meta(ge=1)] = 64
    webhook_connect_timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    webhook_timeout: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    webhook_retry_schedule: Annotated[str, msgspec.Meta(pattern=_DELAYS)] = (
        "5,300,1800,7200,18000,36000,36000,36000,36000,36000,36000"
    )
    webhook_lease_ttl: Annotated[float, msgspec.Meta(ge=0.2)] = 10.0
    webhook_delivery_retention: Annotated[int, msgspec.Meta(ge=60)] = 4 * 24 * 3600
    # Erasure (docs/architecture.md "Erasure"): how long an erased conversation's tombstone
    # outlives it (longer than webhook retries, so no pending delivery of it goes out), how many
    # conversations one erase call removes, how often each management pod looks for deleted
    # widgets to erase, and how long after a widget's deletion the eraser looks once more for a
    # conversation a runtime pod started from its cache (keep it above WIDGET_CACHE_TTL).
    conversation_tombstone_ttl: Annotated[int, msgspec.Meta(ge=60)] = 4 * 24 * 3600
    conversation_erase_batch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    widget_eraser_interval: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    widget_eraser_recheck: Annotated[int, msgspec.Meta(ge=0)] = 600
    # A widget's daily stats counters (both services write them) are kept this long (s) after
    # their last write; a live monitoring (listener) token is valid this long (s).
    stats_retention: Annotated[int, msgspec.Meta(ge=86400)] = 400 * 24 * 3600
    listener_token_ttl: Annotated[int, msgspec.Meta(ge=10, le=3600)] = 300

    def __post_init__(self) -> None:
        # A ValueError here is msgspec's ValidationError in from_env: refused at start.
        try:
            origin_list(self.management_cors_origins)
        except DomainError as exc:
            raise ValueError(f"MANAGEMENT_CORS_ORIGINS: {exc}") from None

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings for ``service`` from upper-case environment variables."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {"service": service, "port": _DEFAULT_PORTS[service]}
        for name in cls.__struct_fields__:
            raw = environ.get(name.upper())
            if raw is not None and name != "service":
                values[name] = raw
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SystemExit(f"invalid configuration: {exc}") from None
