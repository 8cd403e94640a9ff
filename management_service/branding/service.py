"""The auto-brand lookup: cache first, else read the site within one deadline and cache the outcome.

Reading a site: the home page (``https://`` then ``http://``, the bare host then ``www.``, moving
on only when there was no HTTP answer at all; a domain none of whose names exist is "no brand"),
then its web app manifest, then ``/favicon.ico`` when nothing declared an icon. A manifest or
favicon that cannot be used is skipped; the home page failing, or the deadline passing anywhere,
fails the whole lookup, so a half-read brand is never returned. Concurrent lookups of one domain
in this process share one fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from yarl import URL

from common.timeutil import iso_from_ms, now_ms
from management_service.branding.brand import build_brand
from management_service.branding.cache import BrandCache
from management_service.branding.fetch import (
    HTML,
    IMAGE,
    MANIFEST,
    Blocked,
    Fetched,
    Fetcher,
    FetchError,
    NoSuchHost,
    Unreachable,
    Unusable,
)
from management_service.branding.models import Brand, Lookup
from management_service.branding.parse import (
    ImageRef,
    Manifest,
    decode_html,
    image_format,
    parse_manifest,
    parse_page,
)
from management_service.branding.ssrf import EgressPolicy
from management_service.branding.target import Target, parse_target


class BrandService:
    def __init__(self, fetcher: Fetcher, cache: BrandCache, timeout: float) -> None:
        self.fetcher = fetcher
        self.cache = cache
        self.timeout = timeout
        self._inflight: dict[str, asyncio.Task[Lookup]] = {}
        # Outcomes of lookups that read a site, and answers served from the Redis cache.
        self.fetched: Counter[str] = Counter()
        self.cache_hits = 0

    @property
    def policy(self) -> EgressPolicy:
        return self.fetcher.policy

    def target(self, raw: str) -> Target:
        """Raises TargetError for a domain that cannot be looked up."""
        return parse_target(raw, self.policy)

    async def lookup(self, target: Target) -> Lookup:
        cached = await self.cache.get(target.domain)
        if cached is not None:
            self.cache_hits += 1
            return cached
        task = self._inflight.get(target.domain)
        if task is None:
            task = asyncio.create_task(self._fresh(target))
            self._inflight[target.domain] = task
            task.add_done_callback(lambda done: self._forget(target.domain, done))
        # Shielded: one caller going away must not cancel the fetch the others wait on.
        return await asyncio.shield(task)

    def _forget(self, domain: str, task: asyncio.Task[Lookup]) -> None:
        if self._inflight.get(domain) is task:
            del self._inflight[domain]

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _fresh(self, target: Target) -> Lookup:
        lookup = await self._read(target)
        self.fetched[lookup.outcome] += 1
        await self.cache.put(target.domain, lookup)
        return lookup

    async def _read(self, target: Target) -> Lookup:
        try:
            async with asyncio.timeout(self.timeout):
                brand = await self._read_site(target)
        except TimeoutError:
            detail = f"The site did not answer within {self.timeout:g} seconds"
            return Lookup(outcome="timeout", detail=detail)
        except Blocked as exc:
            if exc.redirected:
                detail = f"The site redirected to a destination that cannot be fetched: {exc}"
                return Lookup(outcome="redirect_blocked", detail=detail)
            detail = f"The domain cannot be looked up: {exc}; auto-brand only reads public sites"
            return Lookup(outcome="blocked", detail=detail)
        except NoSuchHost:
            detail = "No brand found: the domain does not exist"
            return Lookup(outcome="no_such_domain", detail=detail)
        except Unreachable as exc:
            return Lookup(outcome="unreachable", detail=f"The site could not be reached: {exc}")
        except Unusable as exc:
            detail = f"The site's answer could not be used: {exc}"
            return Lookup(outcome="unusable", detail=detail)
        if brand is None:
            return Lookup(outcome="not_found", detail="No brand found for this domain")
        return Lookup(outcome="found", brand=brand)

    async def _read_site(self, target: Target) -> Brand | None:
        page = await self._home_page(target)
        info = parse_page(decode_html(page.body, page.charset), page.url, page.truncated)
        if not info.head_complete:
            raise Unusable(f"the page's <head> is larger than {self.fetcher.max_bytes} bytes")
        manifest = await self._manifest(info.manifest_url) if info.manifest_url else None
        favicon = None
        if not info.icons and not (manifest and manifest.icons):
            favicon = await self._favicon(page.url)
        return build_brand(target.domain, page.url, info, manifest, favicon, iso_from_ms(now_ms()))

    async def _home_page(self, target: Target) -> Fetched:
        # A name that does not exist only when no variant exists (``www.`` may, when the bare
        # name does not); otherwise the first real failure is the answer.
        first: Unreachable | None = None
        missing: NoSuchHost | None = None
        for url in target.urls():
            try:
                return await self.fetcher.get(url, HTML)
            except NoSuchHost as exc:
                missing = missing or exc
            except Unreachable as exc:
                first = first or exc
        failure = first or missing
        assert failure is not None
        raise failure

    async def _manifest(self, url: URL) -> Manifest | None:
        try:
            fetched = await self.fetcher.get(url, MANIFEST)
        except FetchError:
            return None
        return parse_manifest(fetched.body, fetched.url)

    async def _favicon(self, page_url: URL) -> ImageRef | None:
        try:
            fetched = await self.fetcher.get(page_url.origin() / "favicon.ico", IMAGE)
        except FetchError:
            return None
        if not fetched.body:
            return None
        url = str(fetched.url)
        return ImageRef(url, "favicon.ico", image_format(fetched.content_type, url))
