"""Allowed-domain normalization: every entry becomes an origin (scheme://host[:port]).

Rules, from the product's allowed-domains page: ``https://`` is added when no scheme is given, only
http and https are accepted, path/query/trailing slash are dropped, the host is lower-cased, an
explicit port is kept (a default port is dropped, as browsers do in ``Origin``), and duplicates are
removed keeping the first. Wildcards, credentials and anything that is not a plain host are refused.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

MAX_DOMAINS = 100

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$(?!\n)")
_CODEPOINT = re.compile(r"U\+[0-9A-F]{4,6}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DomainError(ValueError):
    pass


def _idna_error(exc: idna.IDNAError) -> DomainError:
    codepoint = _CODEPOINT.search(str(exc))
    if isinstance(exc, idna.InvalidCodepointContext) and codepoint:
        return DomainError(f"invalid host name: joiner {codepoint[0]} not allowed here")
    if isinstance(exc, idna.InvalidCodepoint) and codepoint:
        return DomainError(f"invalid host name: {codepoint[0]} is not allowed in a domain name")
    return DomainError(f"invalid host name ({exc})")


def to_ascii_host(host: str) -> str:
    """IDNA 2008 with UTS #46 mapping, non-transitional, as browsers do: ``faß.de`` is
    ``xn--fa-hia.de`` (IDNA 2003, Python's "idna" codec, made it ``fass.de``). Characters
    IDNA 2008 disallows (emoji, symbols) are refused rather than guessed at."""
    if host.isascii() and "xn--" not in host:
        return host.lower()  # the common case, and what UTS #46 does to plain ASCII
    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise _idna_error(exc) from None
    except UnicodeError:
        raise DomainError("invalid host name") from None


def _check_host(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        if "%" in host:
            # A zone id names an interface of one machine (never an origin a browser sends),
            # and its text is free: it could carry ";" into the frame's CSP.
            raise DomainError("IPv6 zone ids (%...) are not allowed")
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise DomainError("invalid IPv6 address") from None
    host = to_ascii_host(host)
    labels = host.split(".")
    if len(host) > 253:
        raise DomainError("invalid host name: longer than 253 characters")
    if not all(_LABEL.match(label) for label in labels):
        raise DomainError(
            "invalid host name: each dot-separated label is 1 to 63 letters, digits or hyphens,"
            " not starting or ending with a hyphen"
        )
    return host


def normalize_origin(entry: str) -> str:
    """Return the origin for one ``domains`` entry or raise :class:`DomainError`."""
    text = entry.strip()
    if not text:
        raise DomainError("empty domain")
    if len(text) > 2048:
        raise DomainError("domain is too long")
    if "*" in text:
        raise DomainError("wildcards are not supported; list each origin")
    if "://" not in text:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)", text):
            raise DomainError("only http and https origins are allowed")
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise DomainError("invalid port or address") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise DomainError("only http and https origins are allowed")
    if parts.username is not None or parts.password is not None:
        raise DomainError("credentials are not allowed in a domain")
    netloc_host = parts.netloc.rsplit("@", 1)[-1]
    raw_host = netloc_host.rsplit(":", 1)[0] if not netloc_host.endswith("]") else netloc_host
    if not raw_host:
        raise DomainError("missing host")
    host = _check_host(raw_host if raw_host.startswith("[") else raw_host.lower())
    origin = f"{scheme}://{host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return origin


def normalize_domains(entries: list[str]) -> list[str]:
    """Normalize and de-duplicate a whole list; errors name the offending index."""
    if len(entries) > MAX_DOMAINS:
        raise DomainError(f"at most {MAX_DOMAINS} domains are allowed")
    seen: dict[str, None] = {}
    for index, entry in enumerate(entries):
        try:
            seen.setdefault(normalize_origin(entry), None)
        except DomainError as exc:
            raise DomainError(f"domains[{index}]: {exc}") from None
    return list(seen)


def origin_list(text: str) -> tuple[str, ...]:
    """A setting's comma-separated origins, each written in full (``scheme://host[:port]``, no
    path), normalized as above and de-duplicated; raises :class:`DomainError` naming the entry."""
    seen: dict[str, None] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            origin = normalize_origin(entry)
        except DomainError as exc:
            raise DomainError(f"{entry!r}: {exc}") from None
        # A bare host would get https:// and a path would be dropped: an origin must be exact.
        parts = urlsplit(entry)
        if "://" not in entry or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise DomainError(f"{entry!r}: write an origin as scheme://host[:port], no path")
        seen.setdefault(origin, None)
    return tuple(seen)
