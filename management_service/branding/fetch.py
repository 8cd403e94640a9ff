"""Bounded GETs through the SSRF-safe session.

Every hop is checked by the egress policy before it is requested and after it connects;
redirects are followed here (never by aiohttp), at most ``max_redirects`` of them. A body is read
in chunks and reading stops at the size cap. Only the expected content types are accepted.
Timeouts are left to the caller, which bounds the whole lookup with one deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import ClientConnectorDNSError, ClientError, ClientResponse, ClientSession
from yarl import URL

from management_service.branding.ssrf import BlockedError, EgressPolicy, NoSuchHostError

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class FetchError(Exception):
    """The resource could not be used; ``str(exc)`` is a client-safe explanation."""


class Blocked(FetchError):
    """The egress policy refused a destination (first URL, a redirect hop, or the peer).
    ``redirected``: refused at a redirect hop, i.e. the site itself was allowed."""

    def __init__(self, message: str, redirected: bool = False) -> None:
        super().__init__(message)
        self.redirected = redirected


class Unreachable(FetchError):
    """No HTTP answer: the name did not resolve, the connection or TLS failed, or it dropped."""


class NoSuchHost(Unreachable):
    """The name does not exist (or has no addresses): nothing there to read."""


class Unusable(FetchError):
    """An HTTP answer that cannot be used: a bad status, content type or size, or too many
    redirects."""


@dataclass(frozen=True)
class Fetched:
    url: URL  # after redirects
    content_type: str
    charset: str | None
    body: bytes
    truncated: bool  # the body was cut at the size cap


@dataclass(frozen=True)
class Accept:
    """What a request will take: the Accept header, the content types, and whether a body past
    the cap may be cut (an HTML head is usable) or makes the resource unusable."""

    header: str
    types: frozenset[str]
    prefix: str = ""  # any content type starting with this is accepted too (``image/``)
    truncate: bool = False

    def takes(self, content_type: str) -> bool:
        if content_type in self.types:
            return True
        return bool(self.prefix) and content_type.startswith(self.prefix)


HTML = Accept(
    "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    frozenset({"text/html", "application/xhtml+xml"}),
    truncate=True,
)
MANIFEST = Accept(
    "application/manifest+json,application/json;q=0.9,*/*;q=0.1",
    frozenset(
        {
            "application/manifest+json",
            "application/json",
            "application/x-web-app-manifest+json",
            "text/json",
            "text/plain",  # common for .webmanifest on servers that do not know the type
            "application/octet-stream",
        }
    ),
)
IMAGE = Accept("image/*", frozenset(), prefix="image/")


class Fetcher:
    def __init__(
        self, session: ClientSession, policy: EgressPolicy, max_bytes: int, max_redirects: int
    ) -> None:
        self.session = session
        self.policy = policy
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects

    async def get(self, url: URL, accept: Accept) -> Fetched:
        """GET ``url`` following redirects; raises a FetchError (or TimeoutError)."""
        for hop in range(self.max_redirects + 1):
            try:
                self.policy.check_url(url)
                async with self.session.get(
                    url, allow_redirects=False, headers={"Accept": accept.header}
                ) as resp:
                    self._check_peer(resp)
                    if resp.status in REDIRECTS:
                        url = _next_hop(url, resp)
                        continue
                    return await self._read(url, resp, accept)
            except BlockedError as exc:
                raise Blocked(str(exc), redirected=hop > 0) from None
            except ClientConnectorDNSError as exc:
                if isinstance(exc.os_error, BlockedError):
                    raise Blocked(str(exc.os_error), redirected=hop > 0) from None
                if isinstance(exc.os_error, NoSuchHostError) and hop == 0:
                    raise NoSuchHost(f"{url.host} does not exist") from None
                raise Unreachable(f"{url.host} could not be resolved") from None
            except TimeoutError:
                raise
            except (ClientError, OSError) as exc:
                raise Unreachable(f"{_origin(url)} could not be reached ({_reason(exc)})") from None
        raise Unusable(f"more than {self.max_redirects} redirects")

    def _check_peer(self, resp: ClientResponse) -> None:
        connection = resp.connection
        transport = connection.transport if connection is not None else None
        if transport is None:
            # The body is already fully buffered and the connection released: nothing to vet
            # after the fact, but it came through the vetted connector anyway.
            return
        self.policy.check_peer(transport.get_extra_info("peername"))

    async def _read(self, url: URL, resp: ClientResponse, accept: Accept) -> Fetched:
        if not 200 <= resp.status < 300:
            raise Unusable(f"{_origin(url)} answered HTTP {resp.status}")
        if not accept.takes(resp.content_type):
            raise Unusable(f"{url} is {resp.content_type}, not what was expected")
        declared = resp.content_length
        if declared is not None and declared > self.max_bytes and not accept.truncate:
            raise Unusable(f"{url} is larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        truncated = False
        async for chunk in resp.content.iter_chunked(_CHUNK):
            room = self.max_bytes - size
            if len(chunk) > room:
                chunks.append(chunk[:room])
                truncated = True
                break
            chunks.append(chunk)
            size += len(chunk)
        if truncated:
            resp.close()  # stop the transfer; the connection is not reused
            if not accept.truncate:
                raise Unusable(f"{url} is larger than {self.max_bytes} bytes")
        return Fetched(url, resp.content_type, resp.charset, b"".join(chunks), truncated)


def _next_hop(url: URL, resp: ClientResponse) -> URL:
    location = resp.headers.get("Location")
    if not location:
        raise Unusable(f"{_origin(url)} sent a redirect without a Location")
    try:
        return url.join(URL(location)).with_fragment(None)
    except ValueError:
        raise Unusable(f"{_origin(url)} sent an invalid redirect Location") from None


def _origin(url: URL) -> str:
    return str(url.origin()) if url.absolute and url.host else str(url)


def _reason(exc: BaseException) -> str:
    return type(exc).__name__
