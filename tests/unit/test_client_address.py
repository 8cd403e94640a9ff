"""X-Forwarded-For entries as load balancers write them: bare addresses, `ip:port`,
`[ipv6]:port`, and garbage, which never becomes anyone's address."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from runtime_service.client_address import client_address, parse_entry


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("203.0.113.7:0", "203.0.113.7"),
        ("[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::9]", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),  # bare IPv6: its colons are not a port
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_entries_with_and_without_ports(entry: str, expected: str) -> None:
    assert parse_entry(entry) == expected


@pytest.mark.parametrize(
    "entry",
    [
        "", "unknown", "_hidden", "garbage", "203.0.113.7:", "203.0.113.7:port",
        "203.0.113.7:65536", "203.0.113.7:-1", "203.0.113.7:80:80", "1.2.3.4.5",
        "[203.0.113.7]:80",  # brackets are for IPv6 only
        "[2001:db8::1", "2001:db8::1]:80", "[2001:db8::1]80", "[2001:db8::1]:", "[]:80",
        "[2001:db8::1]:99999", "[2001:db8::1%eth0]:80", "fe80::1%eth0",
        "203.0.113.7 198.51.100.1", "203.0.113.7\x00", "1" * 5000,
        "203.0.113.7:" + "9" * 4000,
    ],
)
def test_garbage_entries_are_refused(entry: str) -> None:
    assert parse_entry(entry) is None


def _request(remote: str, forwarded: list[str]) -> web.Request:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    return make_mocked_request("GET", "/", headers=headers).clone(remote=remote)


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (1, ["6.6.6.6:1, 203.0.113.7:51234"], "203.0.113.7"),
        (1, ["[2001:db8:1:2::9]:443"], "2001:db8:1:2::/64"),
        (2, ["203.0.113.7:1", "172.16.0.9:8080"], "203.0.113.7"),
        # The trusted proxy's entry is garbage: only the peer is known (never the client's own
        # words further left).
        (1, ["203.0.113.7, nonsense"], "10.0.0.1"),
        (1, ["203.0.113.7, 198.51.100.1:99999"], "10.0.0.1"),
    ],
)
def test_client_address_reads_the_trusted_entry(
    trusted: int, forwarded: list[str], expected: str
) -> None:
    assert client_address(_request("10.0.0.1", forwarded), trusted) == expected
