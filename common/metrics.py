"""Prometheus metrics: one registry per app (never the global default, so several apps can live
in one process), request counts and latencies by route template, and counters that the rest of
the code keeps as plain integers and that are only read when ``/metrics`` is scraped."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from itertools import accumulate
from typing import overload

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Latency buckets for an API whose hits take well under a millisecond and whose misses one or
# two Redis round trips.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BOUNDS = [*(str(bound) for bound in _BUCKETS), "+Inf"]


# What a read returns: one value, or a value per label value (a label is then given).
Reading = float | Mapping[str, float]


class _Read(Collector):
    """A metric family read at scrape time from a callable."""

    def __init__(
        self, kind: str, name: str, doc: str, label: str | None, read: Callable[[], Reading]
    ) -> None:
        self.kind, self.name, self.doc, self.label, self.read = kind, name, doc, label, read

    def collect(self) -> Iterator[Metric]:
        family_type = CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily
        value = self.read()
        if self.label is None:
            assert not isinstance(value, Mapping)
            yield family_type(self.name, self.doc, value=value)
            return
        family = family_type(self.name, self.doc, labels=[self.label])
        assert isinstance(value, Mapping)
        for label_value, count in sorted(value.items()):
            family.add_metric([str(label_value)], count)
        yield family


# observe(route template, method, status, seconds): never a raw path, whose ids would explode
# the label set.
Observe = Callable[[str, str, int, float], None]
# count_hit(route template, method, status): a cache hit, counted but not timed.
CountHit = Callable[[str, str, int], None]


class _Requests(Collector):
    """Request counts and latency histograms, by route template, method and status.

    Kept as plain lists and turned into metric families only when scraped: prometheus_client's
    labelled children take a lock and validate on every call, a measurable share of a cached GET.
    Cache hits (the edge's ``CachedResponse``) are only counted: their handler time is
    microseconds, and latency objectives come from the load balancer (docs/operations.md). They
    are in ``http_requests`` and ``http_cache_hits``, not in the histogram.
    """

    def __init__(self) -> None:
        # (route, method, status) -> [sum of seconds, count per bucket..., count above the last]
        self.series: dict[tuple[str, str, int], list[float]] = {}
        self.hits: dict[tuple[str, str, int], int] = {}

    def count_hit(self, route: str, method: str, status: int) -> None:
        key = (route, method, status)
        self.hits[key] = self.hits.get(key, 0) + 1

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        series = self.series.get((route, method, status))
        if series is None:
            series = self.series[(route, method, status)] = [0.0] * (len(_BUCKETS) + 2)
        series[0] += seconds
        series[1 + bisect_left(_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "http_requests", "HTTP requests answered, by route template, method and status",
            labels=["route", "method", "status"],
        )
        hits = CounterMetricFamily(
            "http_cache_hits",
            "Answers served from the process's cache (counted, not timed), by route template, "
            "method and status",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in sorted(self.hits.items()):
            hits.add_metric([route, method, str(status)], count)
        # The histogram is by route and method: statuses are summed into one series.
        merged: dict[tuple[str, str], list[float]] = {}
        for key in sorted(self.series.keys() | self.hits.keys()):
            route, method, status = key
            series = self.series.get(key)
            timed = 0.0 if series is None else sum(series[1:])
            requests.add_metric([route, method, str(status)], timed + self.hits.get(key, 0))
            if series is None:
                continue
            total = merged.setdefault((route, method), [0.0] * len(series))
            for index, value in enumerate(series):
                total[index] += value
        latency = HistogramMetricFamily(
            "http_request_duration_seconds", "Time to answer, by route template and method",
            labels=["route", "method"],
        )
        for (route, method), series in merged.items():
            cumulative = list(accumulate(series[1:]))
            latency.add_metric(
                [route, method], buckets=list(zip(_BOUNDS, cumulative, strict=True)),
                sum_value=series[0],
            )
        yield requests
        yield hits
        yield latency


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = _Requests()
        self.registry.register(self._requests)
        self.observe = self._requests.observe
        self.count_hit = self._requests.count_hit

    @overload
    def counter(self, name: str, doc: str, read: Callable[[], float]) -> None: ...
    @overload
    def counter(
        self, name: str, doc: str, read: Callable[[], Mapping[str, float]], label: str
    ) -> None: ...
    def counter(
        self, name: str, doc: str, read: Callable[[], Reading], label: str | None = None
    ) -> None:
        """Expose a count the code keeps itself (an int, or a mapping label -> int)."""
        self.registry.register(_Read("counter", name, doc, label, read))

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self.registry.register(_Read("gauge", name, doc, None, read))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
