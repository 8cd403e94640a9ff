"""One delivery attempt: a signed POST, no redirects, a capped read of the answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from management_service.branding.ssrf import BlockedError, NoSuchHostError
from management_service.webhooks.egress import WebhookEgressPolicy

# Bytes of a response body read at most; a non-2xx body is kept (truncated) as the last error.
BODY_CAP = 4096


@dataclass(frozen=True, slots=True)
class Attempt:
    status: int | None  # the HTTP status, None when no answer came
    error: str | None  # None on a 2xx
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    body = b""
    while len(body) < BODY_CAP:
        chunk = await response.content.read(BODY_CAP - len(body))
        if not chunk:
            break
        body += chunk
    return body


async def send(
    session: aiohttp.ClientSession, policy: WebhookEgressPolicy, url: str, headers: dict[str, str],
    body: bytes,
) -> Attempt:
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target = URL(url)
        policy.check_url(target)
        async with session.post(
            target, data=body, allow_redirects=False,
            headers={**headers, "Content-Type": "application/json"},
        ) as response:
            if response.connection is not None and response.connection.transport is not None:
                policy.check_peer(response.connection.transport.get_extra_info("peername"))
            text = await _read_capped(response)
            status = response.status
            # Whatever is left unread is not wanted: the connection is closed, not reused.
            response.close()
    except BlockedError as exc:
        return Attempt(None, f"refused by the egress policy: {exc}", took())
    except NoSuchHostError as exc:
        return Attempt(None, f"no such host: {exc}", took())
    except aiohttp.ClientConnectorError as exc:
        # The resolver's refusal arrives wrapped by the connector.
        if isinstance(exc.os_error, BlockedError):
            return Attempt(None, f"refused by the egress policy: {exc.os_error}", took())
        if isinstance(exc.os_error, NoSuchHostError):
            return Attempt(None, f"no such host: {exc.os_error}", took())
        return Attempt(None, f"connection failed: {exc}"[:500], took())
    except TimeoutError:
        return Attempt(None, "timed out", took())
    except (aiohttp.ClientError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
        return Attempt(None, f"connection failed: {exc!r}"[:500], took())
    if 200 <= status < 300:
        return Attempt(status, None, took())
    error = f"HTTP {status}"
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    if text:
        error += ": " + text.decode("utf-8", "replace")
    return Attempt(status, error, took())
