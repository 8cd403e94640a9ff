"""The request's domain: what is stripped, what is kept, what is refused (422 in the API)."""

from __future__ import annotations

import pytest

from management_service.branding.ssrf import EgressPolicy
from management_service.branding.target import TargetError, parse_target

PUBLIC = EgressPolicy(ports=frozenset({80, 443, 8443}))
PRIVATE_OK = EgressPolicy(ports=frozenset({80, 443, 8443}), allow_private=True)


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("example.com", "example.com"),
        ("https://www.Example.com/", "example.com"),
        ("http://example.com/pricing?plan=pro#faq", "example.com"),
        ("//www.example.com", "example.com"),
        ("  EXAMPLE.com.  ", "example.com"),
        ("example.com:443", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("shop.example.co.uk:8443", "shop.example.co.uk:8443"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, as browsers (IDNA 2003 made it fass.de)
        ("www.www.example.com", "www.example.com"),  # only one leading www. is stripped
        ("93.184.216.34", "93.184.216.34"),
        ("[2606:2800:220:1:248:1893:25c8:1946]:8443", "[2606:2800:220:1:248:1893:25c8:1946]:8443"),
    ],
)
def test_domains_are_normalized(raw: str, domain: str) -> None:
    assert parse_target(raw, PUBLIC).domain == domain


def test_home_pages_are_tried_https_first_then_www() -> None:
    urls = [str(u) for u in parse_target("www.example.com", PUBLIC).urls()]
    assert urls == [
        "https://example.com/",
        "https://www.example.com/",
        "http://example.com/",
        "http://www.example.com/",
    ]
    ip = parse_target("127.0.0.1:8443", PRIVATE_OK)
    assert [str(u) for u in ip.urls()] == ["https://127.0.0.1:8443/", "http://127.0.0.1:8443/"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "A domain is required"),
        ("https://", "A domain is required"),
        ("ftp://example.com", "Only http and https"),
        ("javascript:alert(1)", "Invalid"),
        ("user:pass@example.com", "credentials"),
        ("example.com:22", "Port 22 is not allowed"),
        ("example.com:0", "Invalid port"),
        ("example.com:99999", "Invalid port"),
        ("example.com:http", "Invalid port"),
        ("localhost", "fully qualified"),
        ("intranet", "fully qualified"),
        ("127.1", "fully qualified"),
        ("2130706433", "fully qualified"),
        ("exa mple.com", "Invalid domain name"),
        ("-bad-.com", "Invalid domain name"),
        ("a..b.com", "Invalid domain name"),
        ("x" * 64 + ".com", "Invalid domain name"),
        ("example_site.com", "Invalid domain name"),
        ("127.0.0.1", "not a public address"),
        ("10.1.2.3", "not a public address"),
        ("169.254.169.254", "not a public address"),
        ("[::1]", "not a public address"),
        ("[::ffff:127.0.0.1]", "not a public address"),
        ("[::1", "Invalid IPv6"),
        ("[example.com]", "Invalid IPv6"),
    ],
)
def test_bad_domains_are_refused(raw: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_target(raw, PUBLIC)


def test_private_literals_are_accepted_only_when_allowed() -> None:
    assert parse_target("127.0.0.1:8443", PRIVATE_OK).domain == "127.0.0.1:8443"
    assert parse_target("[::1]", PRIVATE_OK).domain == "[::1]"
