"""The worker's counts, kept as plain numbers and read when ``/metrics`` is scraped."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from common.metrics import Metrics

# A receiver answers in milliseconds to seconds; the attempt's time-out caps it.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BOUNDS = [*(str(bound) for bound in _BUCKETS), "+Inf"]


class Stats(Collector):
    def __init__(self) -> None:
        # succeeded | retried (an attempt failed, another is scheduled) | failed | dropped
        self.outcomes: Counter[str] = Counter()
        self.disabled: Counter[str] = Counter()  # gone | exhausted
        self.depth: dict[int, int] = {}  # deliveries not yet done, per shard this worker owns
        self.fanout_backlog = 0  # events not yet fanned out (the fan-out lease holder only)
        self._latency = [0.0] * (len(_BUCKETS) + 2)  # [sum, per bucket..., above the last]

    def observe(self, seconds: float) -> None:
        self._latency[0] += seconds
        self._latency[1 + bisect_left(_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "webhook_delivery_duration_seconds",
            "Time of each delivery attempt, from the request to the answer's end",
        )
        family.add_metric(
            [], buckets=list(zip(_BOUNDS, accumulate(self._latency[1:]), strict=True)),
            sum_value=self._latency[0],
        )
        yield family
        # Only the shards this worker owns: summed over the workers, every shard once.
        depth = GaugeMetricFamily(
            "webhook_queue_depth",
            "Deliveries not yet done (pending or retrying), per shard this worker owns",
            labels=["shard"],
        )
        for shard, count in sorted(self.depth.items()):
            depth.add_metric([str(shard)], count)
        yield depth

    def register(self, metrics: Metrics) -> None:
        metrics.registry.register(self)
        metrics.counter(
            "webhook_deliveries", "Webhook deliveries by outcome (retried: an attempt failed "
            "and another is scheduled)", lambda: dict(self.outcomes), "outcome",
        )
        metrics.counter(
            "webhook_endpoints_disabled", "Endpoints this worker disabled, by reason",
            lambda: dict(self.disabled), "reason",
        )
        metrics.gauge(
            "webhook_shards_owned", "Delivery shards this worker owns",
            lambda: len(self.depth),
        )
        metrics.gauge(
            "webhook_fanout_backlog", "Events not yet fanned out (on the fan-out lease holder)",
            lambda: self.fanout_backlog,
        )
