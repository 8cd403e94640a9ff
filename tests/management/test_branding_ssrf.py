"""SSRF controls of auto-brand's fetcher, against a real site on loopback.

The site is reached as 127.0.0.1 through a policy that treats exactly that address as public;
everything else on loopback (127.0.0.2 reaches the same server on Linux) stays refused, so each
test shows a request that would have succeeded without the control."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from common.settings import Settings
from management_service.branding.fetch import HTML, Blocked, Fetcher, NoSuchHost, Unreachable
from management_service.branding.session import build_session
from management_service.branding.ssrf import EgressPolicy, IPAddress, is_public_address
from tests.support.resolver import FakeResolver

PUBLIC_STAND_IN = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True)
class StandInPolicy(EgressPolicy):
    def allows_address(self, ip: IPAddress) -> bool:
        return ip == PUBLIC_STAND_IN or is_public_address(ip)


@pytest.fixture
async def site(aiohttp_server: Any) -> Any:
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        target = request.query.get("to")
        if target:
            raise web.HTTPFound(target)
        return web.Response(text="<html><head><title>ok</title></head></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.hits = hits
    return server


@pytest.fixture
async def fetcher(site: Any) -> Any:
    policy = StandInPolicy(ports=frozenset({80, 443, site.port}))
    resolver = FakeResolver({
        "public.test": ["127.0.0.1"],
        "rebind.test": ["127.0.0.2"],
        "mixed.test": ["10.0.0.7", "127.0.0.1"],
        "metadata.test": ["169.254.169.254"],
    })
    settings = Settings.from_env("management", {"AUTO_BRAND_TIMEOUT": "3"})
    async with build_session(settings, policy, resolver) as session:
        yield Fetcher(session, policy, max_bytes=65536, max_redirects=5)


async def test_a_public_site_is_fetched(fetcher: Fetcher, site: Any) -> None:
    fetched = await fetcher.get(URL(f"http://public.test:{site.port}/"), HTML)
    assert b"<title>ok</title>" in fetched.body


async def test_only_allowed_answers_of_a_name_are_connected_to(
    fetcher: Fetcher, site: Any
) -> None:
    fetched = await fetcher.get(URL(f"http://mixed.test:{site.port}/"), HTML)
    assert fetched.url.host == "mixed.test"


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/",  # loopback literal
        "http://[::ffff:127.0.0.2]:{port}/",  # IPv4-mapped IPv6
        "http://rebind.test:{port}/",  # a name resolving to loopback
        "http://metadata.test/",  # a name resolving to the cloud metadata address
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://public.test:22/",  # port not allowed
        "file:///etc/passwd",
        "gopher://public.test:{port}/",
        "http://user:pw@public.test:{port}/",
    ],
)
async def test_redirect_to_a_refused_destination_is_blocked(
    fetcher: Fetcher, site: Any, target: str
) -> None:
    start = URL(f"http://public.test:{site.port}/").with_query(to=target.format(port=site.port))
    with pytest.raises(Blocked):
        await fetcher.get(start, HTML)
    assert site.hits == ["/"]  # the first hop only: the refused one never connected


async def test_refused_first_urls_never_connect(fetcher: Fetcher, site: Any) -> None:
    for url in (f"http://127.0.0.2:{site.port}/", f"http://rebind.test:{site.port}/"):
        with pytest.raises(Blocked):
            await fetcher.get(URL(url), HTML)
    assert site.hits == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fec0::1", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001:db8::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1",
                "64:ff9b::101:101"]
)
def test_public_addresses(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


class FailingResolver(AbstractResolver):
    """A resolver whose lookups fail the way getaddrinfo does."""

    def __init__(self, errno: int) -> None:
        self.errno = errno

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise socket.gaierror(self.errno, "lookup failed")

    async def close(self) -> None:
        pass


async def test_a_name_without_addresses_is_no_such_host(fetcher: Fetcher) -> None:
    with pytest.raises(NoSuchHost):
        await fetcher.get(URL("http://nowhere.test/"), HTML)


@pytest.mark.parametrize("errno", [socket.EAI_NONAME, socket.EAI_AGAIN, socket.EAI_FAIL])
async def test_only_nxdomain_is_no_such_host(errno: int) -> None:
    policy = StandInPolicy(ports=frozenset({80, 443}))
    settings = Settings.from_env("management", {"AUTO_BRAND_TIMEOUT": "3"})
    async with build_session(settings, policy, FailingResolver(errno)) as session:
        fetcher = Fetcher(session, policy, max_bytes=65536, max_redirects=5)
        with pytest.raises(Unreachable) as caught:
            await fetcher.get(URL("http://example.test/"), HTML)
    # A failed lookup (resolver down, SERVFAIL) says nothing about the name existing.
    assert isinstance(caught.value, NoSuchHost) == (errno == socket.EAI_NONAME)


async def test_a_redirect_to_a_missing_name_is_unreachable_not_missing(
    fetcher: Fetcher, site: Any
) -> None:
    start = URL(f"http://public.test:{site.port}/").with_query(to="http://nowhere.test/")
    with pytest.raises(Unreachable) as caught:
        await fetcher.get(start, HTML)
    assert not isinstance(caught.value, NoSuchHost)


async def test_blocked_says_whether_a_redirect_led_there(fetcher: Fetcher, site: Any) -> None:
    with pytest.raises(Blocked) as first:
        await fetcher.get(URL(f"http://rebind.test:{site.port}/"), HTML)
    assert not first.value.redirected
    start = URL(f"http://public.test:{site.port}/").with_query(to="http://metadata.test/")
    with pytest.raises(Blocked) as hop:
        await fetcher.get(start, HTML)
    assert hop.value.redirected
