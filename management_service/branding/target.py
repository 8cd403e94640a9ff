"""The request's ``domain``, normalized into what is fetched and what is cached.

Per the contract the protocol, a leading ``www.`` and a trailing slash are stripped. Beyond that:
a path, query or fragment is dropped too (a brand belongs to the site, and the home page is
read); a port is kept (``80``/``443`` are the defaults and dropped) and must be on the port
allowlist; credentials (``user@``) are refused; internationalized names become punycode; IP
literals are accepted only when the egress policy would allow them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yarl import URL

from common.domains import DomainError, to_ascii_host
from management_service.branding.ssrf import EgressPolicy, literal_address

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$(?!\n)")
_DEFAULT_PORTS = frozenset({80, 443})


class TargetError(ValueError):
    """The domain is not something auto-brand can look up (a 422 in the API)."""


@dataclass(frozen=True)
class Target:
    domain: str  # canonical: ``host`` or ``host:port``; the cache key
    host: str  # ASCII; IPv6 without brackets
    port: int | None
    is_ip: bool

    def urls(self) -> list[URL]:
        """Home pages to try, in order, until one answers over HTTP."""
        hosts = [self.host] if self.is_ip else [self.host, f"www.{self.host}"]
        return [
            URL.build(scheme=scheme, host=host, port=self.port, path="/")
            for scheme in ("https", "http")
            for host in hosts
        ]


def parse_target(raw: str, policy: EgressPolicy) -> Target:
    value = raw.strip().lower()
    if "://" in value:
        scheme, _, value = value.partition("://")
        if scheme not in ("http", "https"):
            raise TargetError("Only http and https sites can be looked up")
    value = value.removeprefix("//")
    hostport = re.split(r"[/?#]", value, maxsplit=1)[0]
    if "@" in hostport:
        raise TargetError("The domain must not contain credentials")
    host, port = _split_port(hostport)
    host = host.rstrip(".").removeprefix("www.")
    if not host:
        raise TargetError("A domain is required")
    if port is not None and port not in _DEFAULT_PORTS and port not in policy.ports:
        raise TargetError(f"Port {port} is not allowed")
    port = None if port in _DEFAULT_PORTS else port
    ip = literal_address(host)
    if ip is not None:
        if not policy.allows_address(ip):
            raise TargetError(f"{ip} is not a public address")
        name = f"[{ip}]" if ip.version == 6 else str(ip)
        return Target(_join(name, port), str(ip), port, True)
    ascii_host = _to_ascii(host)
    return Target(_join(ascii_host, port), ascii_host, port, False)


def _split_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else None
        if not bracket or (rest and port_text is None) or literal_address(host) is None:
            raise TargetError("Invalid IPv6 literal")
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    else:
        return hostport, None  # a name, or a bare IPv6 literal
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise TargetError("Invalid port")
    return host, int(port_text)


def _to_ascii(host: str) -> str:
    try:
        ascii_host = to_ascii_host(host)  # IDNA 2008 + UTS #46, as browsers and allowed domains
    except DomainError:
        raise TargetError("Invalid domain name") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise TargetError("Invalid domain name")
    if len(labels) < 2 or labels[-1].isdigit():
        raise TargetError("The domain must be a fully qualified name, e.g. example.com")
    return ascii_host


def _join(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"
