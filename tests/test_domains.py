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
