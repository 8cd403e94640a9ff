"""Domain normalization follows the reference's table; anything that is not an http(s) origin is
refused with a message naming the entry."""

from __future__ import annotations

import pytest

from common.domains import DomainError, normalize_domains, normalize_origin


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        ("yourdomain.com", "https://yourdomain.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://app.example.com/checkout", "https://app.example.com"),
        ("HTTPS://WWW.Example.COM/", "https://www.example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80/x?y=1#z", "http://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("localhost:3000", "https://localhost:3000"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://münchen.de", "https://xn--mnchen-3ya.de"),
        ("  example.com  ", "https://example.com"),
    ],
)
def test_normalizes_to_origin(entry: str, origin: str) -> None:
    assert normalize_origin(entry) == origin


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "ftp://example.com",
        "javascript:alert(1)",
        "*.example.com",
        "https://*.example.com",
        "https://",
        "https://a..b",
        "https://user:pass@example.com",
        "example.com:99999",
        "https://exa mple.com",
        "https://-bad-.com",
    ],
)
def test_refuses_non_origins(entry: str) -> None:
    with pytest.raises(DomainError):
        normalize_origin(entry)


def test_list_deduplicates_in_order_and_names_bad_index() -> None:
    assert normalize_domains(["b.com", "https://a.com/", "B.COM", "http://a.com"]) == [
        "https://b.com",
        "https://a.com",
        "http://a.com",
    ]
    with pytest.raises(DomainError, match=r"domains\[1\]"):
        normalize_domains(["a.com", "ftp://b.com"])


def test_list_length_is_capped() -> None:
    with pytest.raises(DomainError):
        normalize_domains([f"d{i}.com" for i in range(101)])


# --- IPv6 zone ids (issue 15 item 4) ---------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        "http://[fe80::1%x;frame-src https: data:]",
        "http://[fe80::1%25eth0]",
        "https://[fe80::1%eth0]:8443",
        "http://[fe80::1%\x01\x7f]",
    ],
)
def test_refuses_ipv6_zone_ids(entry: str) -> None:
    # A zone id names an interface of one machine: never an origin, and it can carry ";".
    with pytest.raises(DomainError, match="zone"):
        normalize_origin(entry)


# --- IDNA 2008 with UTS #46 mapping, as browsers (issue 15 item 7) ---------------------------


@pytest.mark.parametrize(
    ("entry", "origin"),
    [
        # Deviation characters are kept (non-transitional), as browsers send them.
        ("faß.de", "https://xn--fa-hia.de"),
        ("https://FAß.DE/", "https://xn--fa-hia.de"),
        ("ς.com", "https://xn--3xa.com"),
        ("xn--fa-hia.de", "https://xn--fa-hia.de"),
        # Uppercase and full-width letters are mapped, as the URL standard does.
        ("MÜNCHEN.DE", "https://xn--mnchen-3ya.de"),
        ("\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "https://example.com"),
        # A joiner is allowed where IDNA 2008's context rule allows it (after a virama).
        ("\u0915\u094d\u200d.com", "https://xn--11b6iy14e.com"),
    ],
)
def test_idna_2008_uts46(entry: str, origin: str) -> None:
    assert normalize_origin(entry) == origin


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("a\u200db.com", "invalid host name: joiner U+200D not allowed here"),
        ("😀.com", "invalid host name: U+1F600 is not allowed in a domain name"),
        ("xn--zz.com", "invalid host name"),
        ("a_b.com", "invalid host name: each dot-separated label is 1 to 63 letters"),
    ],
)
def test_idna_refusals_say_why(entry: str, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_origin(entry)
    assert str(caught.value).startswith(message)
