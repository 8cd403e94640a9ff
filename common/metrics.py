"""Prometheus metrics: one registry per app (never the global default, so several apps can live
in one process), request counts and latencies by route template, and counters that the rest of
the code keeps as plain integers and that are only read when ``/metrics`` is scraped."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from common.appkeys import METRICS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Latency buckets for an API whose hits take well under a millisecond and whose misses one or
# two Redis round trips.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Read(Collector):
    """A metric family read at scrape time from a callable."""

    def __init__(
        self, kind: str, name: str, doc: str, label: str | None, read: Callable[[], object]
    ) -> None:
        self.kind, self.name, self.doc, self.label, self.read = kind, name, doc, label, read

    def collect(self) -> Iterator[Metric]:
        family_type = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        value = self.read()
        if self.label is None:
            yield family_type(self.name, self.doc, value=value)
            return
        family = family_type(self.name, self.doc, labels=[self.label])
        assert isinstance(value, Mapping)
        for label_value, count in sorted(value.items()):
            family.add_metric([str(label_value)], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = Counter(
            "http_requests", "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
        )
        self._latency = Histogram(
            "http_request_duration_seconds", "Time to answer, by route template and method",
            ["route", "method"], registry=self.registry, buckets=_BUCKETS,
        )
        # Labelled children resolved once per (route, method, status), not per request.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._requests.labels(route, method, str(status)),
                self._latency.labels(route, method),
            )
        children[0].inc()
        children[1].observe(seconds)

    def counter(
        self, name: str, doc: str, read: Callable[[], object], label: str | None = None
    ) -> None:
        """Expose a count the code keeps itself (an int, or a mapping label -> int)."""
        self.registry.register(_Read("counter", name, doc, label, read))

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self.registry.register(_Read("gauge", name, doc, None, read))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_label(request: web.Request) -> str:
    # The route's template, never the raw path: ids in paths would explode the label set.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        method = request.method if request.method in _METHODS else "OTHER"
        request.app[METRICS].observe(
            route_label(request), method, status, time.perf_counter() - start
        )


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
