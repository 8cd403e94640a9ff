"""Where webhooks may go (management_service/webhook_egress.py): the URL rules and the address
rule, with and without WEBHOOK_ALLOW_PRIVATE, on literal addresses and resolved names."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import ResolveResult

from management_service.branding.ssrf import SafeResolver
from management_service.webhook_egress import (
    EgressRefused,
    WebhookEgressPolicy,
    refusal_reason,
    resolve_allowed,
)
from tests.support.resolver import FakeResolver

STRICT = WebhookEgressPolicy(allow_private=False)
DEV = WebhookEgressPolicy(allow_private=True)

ALWAYS_REFUSED = [
    "169.254.169.254", "169.254.170.2", "169.254.1.1", "fe80::1", "fd00:ec2::254",
    "100.100.100.200", "168.63.129.16", "0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "ff02::1",
    "255.255.255.255", "240.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
]
PRIVATE = ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fc00::1",
           "100.64.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"]
PUBLIC = ["93.184.215.14", "2606:4700::1111", "8.8.8.8"]


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_link_local_metadata_and_reserved_are_refused_even_with_the_flag(address: str) -> None:
    ip = ipaddress.ip_address(address)
    for allow_private in (False, True):
        assert refusal_reason(ip, allow_private) is not None, (address, allow_private)


@pytest.mark.parametrize("address", PRIVATE)
def test_loopback_and_private_need_the_flag(address: str) -> None:
    ip = ipaddress.ip_address(address)
    reason = refusal_reason(ip, False)
    assert reason is not None and "WEBHOOK_ALLOW_PRIVATE=true" in reason
    assert refusal_reason(ip, True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address), False) is None


@pytest.mark.parametrize(("url", "words"), [
    ("http://93.184.215.14/hook", "use https"),
    ("ftp://93.184.215.14/hook", "scheme 'ftp'"),
    ("/relative/path", "absolute"),
    ("hooks.example.com/path", "absolute"),
    ("https://user:pw@93.184.215.14/", "credentials"),
    ("https://user@93.184.215.14/", "credentials"),
    ("https://127.0.0.1/hook", "loopback or private"),
    ("https://[::1]:8443/hook", "loopback or private"),
    ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
    ("https://93.184.215.14:0/", "port"),
    ("https://" + "a" * 2050 + ".com/", "longer than 2048"),
])
def test_urls_refused_before_any_lookup(url: str, words: str) -> None:
    with pytest.raises(EgressRefused, match=words.replace("(", r"\(")):
        STRICT.parse_url(url)


def test_http_and_private_literals_are_allowed_with_the_flag() -> None:
    assert DEV.parse_url("http://127.0.0.1:8080/hook").port == 8080
    with pytest.raises(EgressRefused, match="cloud metadata"):
        DEV.parse_url("http://169.254.169.254/")
    with pytest.raises(EgressRefused, match="scheme"):
        DEV.parse_url("ftp://127.0.0.1/")


RESOLVER = FakeResolver({
    "hooks.example.com": ["93.184.215.14"],
    "internal.example.com": ["10.0.0.7"],
    "mixed.example.com": ["93.184.215.14", "10.0.0.7"],
    "meta.example.com": ["169.254.169.254"],
    "loop.example.com": ["127.0.0.1"],
})


async def test_a_name_is_allowed_only_when_every_address_is() -> None:
    found = await resolve_allowed("https://hooks.example.com/x", STRICT, RESOLVER)
    assert found == [ipaddress.ip_address("93.184.215.14")]
    for name in ("internal", "mixed", "meta", "loop"):
        with pytest.raises(EgressRefused, match=f"{name}.example.com resolves to"):
            await resolve_allowed(f"https://{name}.example.com/x", STRICT, RESOLVER)
    with pytest.raises(EgressRefused, match="has no addresses"):
        await resolve_allowed("https://nowhere.example.com/x", STRICT, RESOLVER)


async def test_with_the_flag_private_names_pass_and_metadata_names_do_not() -> None:
    assert await resolve_allowed("http://internal.example.com/x", DEV, RESOLVER)
    assert await resolve_allowed("http://loop.example.com:9000/x", DEV, RESOLVER)
    with pytest.raises(EgressRefused, match="cloud metadata"):
        await resolve_allowed("http://meta.example.com/x", DEV, RESOLVER)


class FailingResolver(FakeResolver):
    def __init__(self, errno: int) -> None:
        super().__init__({})
        self.errno = errno

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        raise socket.gaierror(self.errno, "lookup failed")


async def test_lookup_failures_are_refusals_that_say_what_happened() -> None:
    with pytest.raises(EgressRefused, match="does not exist"):
        await resolve_allowed("https://gone.example/x", STRICT, FailingResolver(socket.EAI_NONAME))
    with pytest.raises(EgressRefused, match="could not be looked up"):
        await resolve_allowed("https://flaky.example/x", STRICT, FailingResolver(socket.EAI_AGAIN))


async def test_the_policy_works_inside_a_connector_resolver() -> None:
    """The worker can hand the same rule to aiohttp: SafeResolver keeps only allowed answers."""
    safe = SafeResolver(STRICT, RESOLVER)
    assert [r["host"] for r in await safe.resolve("mixed.example.com", 443)] == ["93.184.215.14"]
    with pytest.raises(OSError, match="not public"):
        await safe.resolve("meta.example.com", 443)
    assert not STRICT.allows_address(ipaddress.ip_address("10.0.0.7"))
