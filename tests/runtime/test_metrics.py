"""Prometheus /metrics on both services, after real requests against a real redis-server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from common.ids import new_id
from common.metrics import Metrics
from common.redis_keys import RedisKeys
from tests.support.paths import ROOT
from tests.support.polling import eventually
from tests.support.seed import FEEDBACK_CONFIG, seed_agent_version, seed_widget

PREFIX = "/core/public/web-widgets"


async def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def requests(samples: dict[Any, float], route: str, method: str, status: str) -> float:
    labels = (("method", method), ("route", route), ("status", status))
    return samples.get(("http_requests_total", labels), 0.0)


async def test_requests_are_counted_by_route_template(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    widget = await seed_widget(redis, keys, await seed_agent_version(redis, keys, new_id()))
    for _ in range(3):
        assert (await runtime_client.get(f"{PREFIX}/{widget.id}")).status == 200
    for _ in range(2):
        await runtime_client.get(f"{PREFIX}/{new_id()}")
    await runtime_client.get(f"/no/such/{new_id()}")
    await runtime_client.request("PATCH", f"{PREFIX}/{widget.id}")
    samples = await scrape(runtime_client)
    template = PREFIX + "/{id}"
    assert requests(samples, template, "GET", "200") == 3
    assert requests(samples, template, "GET", "404") == 2
    assert requests(samples, "unmatched", "GET", "404") == 1
    assert requests(samples, "unmatched", "PATCH", "405") == 1  # no route for the method
    assert not any(widget.id in str(key) for key in samples)  # no ids in labels
    # The first 200 read Redis (timed); the next two were cache hits (counted, not timed).
    hits = samples[("http_cache_hits_total", (("method", "GET"), ("route", template),
                                              ("status", "200")))]
    assert hits == 2
    count = samples[("http_request_duration_seconds_count",
                     (("method", "GET"), ("route", template)))]
    assert count == 3


def test_latency_histogram_buckets_are_cumulative_and_inclusive() -> None:
    metrics = Metrics()
    for seconds in (0.0004, 0.001, 0.003, 10.0):
        metrics.observe("/r", "GET", 200, seconds)
    metrics.observe("/r", "GET", 404, 0.0002)
    samples = {
        (sample.name, sample.labels.get("le"), sample.labels.get("status")): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    bucket = "http_request_duration_seconds_bucket"
    assert samples[(bucket, "0.0005", None)] == 2  # both statuses share the route's histogram
    assert samples[(bucket, "0.001", None)] == 3  # an upper bound is inclusive
    assert samples[(bucket, "0.005", None)] == 4
    assert samples[(bucket, "5.0", None)] == 4
    assert samples[(bucket, "+Inf", None)] == 5
    assert samples[("http_request_duration_seconds_sum", None, None)] == pytest.approx(10.0046)
    assert samples[("http_requests_total", None, "200")] == 4
    assert samples[("http_requests_total", None, "404")] == 1


async def test_cache_and_subscription_metrics(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    # No event for the new widget: arriving after the first read, it would drop the entry.
    widget = await seed_widget(
        redis, keys, await seed_agent_version(redis, keys, new_id()), publish_event=False
    )
    unknown = new_id()
    for _ in range(3):
        await runtime_client.get(f"{PREFIX}/{widget.id}")
        await runtime_client.get(f"{PREFIX}/{unknown}")
    samples = await scrape(runtime_client)

    def cache(event: str) -> float:
        return samples[("widget_cache_events_total", (("event", event),))]

    assert cache("misses") == 2 and cache("hits") == 2 and cache("negative_hits") == 2
    assert samples[("invalidation_subscription_live", ())] == 1
    assert samples[("invalidation_subscriptions_total", ())] >= 1
    before = cache("invalidations")
    await seed_widget(redis, keys, await seed_agent_version(redis, keys, new_id()),
                      widget_id=widget.id)

    async def invalidated() -> bool:
        samples = await scrape(runtime_client)
        return samples[("widget_cache_events_total", (("event", "invalidations"),))] > before

    await eventually(invalidated)


async def test_conversation_feedback_and_rate_limit_metrics(
    aiohttp_client: Any, settings_factory: Any, redis: Redis, keys: RedisKeys
) -> None:
    from runtime_service.app import create_app

    client = await aiohttp_client(create_app(settings_factory("runtime", rate_limit_list="1/60")))
    version = await seed_agent_version(redis, keys, new_id())
    widget = await seed_widget(redis, keys, version, config=FEEDBACK_CONFIG)
    url = f"{PREFIX}/{widget.id}/conversations"
    cid = (await (await client.post(url, json={"user_id": "u"})).json())["conversation"]["id"]
    await client.post(url, json={"user_id": "u", "conversation_id": cid})
    for _ in range(2):
        await client.post(f"{url}/{cid}/feedback", json={"data": {"rating": 5}})
    for _ in range(2):
        await client.get(url, params={"user_id": "u"})
    samples = await scrape(client)
    assert samples[("conversations_total", (("action", "start"),))] == 1
    assert samples[("conversations_total", (("action", "resume"),))] == 1
    assert samples[("feedback_submissions_total", (("outcome", "ok"),))] == 1
    assert samples[("feedback_submissions_total", (("outcome", "duplicate"),))] == 1
    assert samples[("rate_limited_total", (("action", "list"),))] == 1


async def test_management_metrics_and_probes(
    management_client: Any, org_with_key: Any, redis_proc: Any
) -> None:
    _, headers = await org_with_key()
    await management_client.get("/core/web-widgets", headers=headers)
    await management_client.get("/core/web-widgets")
    samples = await scrape(management_client)
    assert requests(samples, "/core/web-widgets", "GET", "200") == 1
    assert requests(samples, "/core/web-widgets", "GET", "401") == 1
    assert ("auto_brand_cache_hits_total", ()) in samples
    assert (await management_client.get("/healthz")).status == 200
    assert (await management_client.get("/readyz")).status == 200
    redis_proc.stop()
    assert (await management_client.get("/readyz")).status == 503
    assert (await management_client.get("/healthz")).status == 200


def _documented_series() -> set[str]:

    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


async def _exposed_series(client: Any) -> set[str]:
    resp = await client.get("/metrics")
    names = set()
    for family in text_string_to_metric_families(await resp.text()):
        # The parser names a counter's family without its `_total`; the table names the series.
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


async def test_every_exposed_metric_is_in_the_operations_table(
    runtime_client: Any, management_client: Any, org_with_key: Any, redis: Redis,
    keys: RedisKeys,
) -> None:
    # Exercise both services a little first, so what appears only after use appears.
    widget = await seed_widget(redis, keys, await seed_agent_version(redis, keys, new_id()),
                               config=FEEDBACK_CONFIG)
    url = f"{PREFIX}/{widget.id}/conversations"
    await runtime_client.get(f"{PREFIX}/{widget.id}")
    start = await runtime_client.post(url, json={"user_id": "u"})
    cid = (await start.json())["conversation"]["id"]
    await runtime_client.post(f"{url}/{cid}/feedback", json={"data": {"rating": 5}})
    await runtime_client.get(url, params={"user_id": "u"})
    _, headers = await org_with_key()
    await management_client.get("/core/web-widgets", headers=headers)
    documented = _documented_series()
    for client in (runtime_client, management_client):
        exposed = await _exposed_series(client)
        assert exposed, "nothing exposed"
        assert exposed <= documented, sorted(exposed - documented)


async def test_cached_public_answers_carry_only_the_callers_id_and_hits_are_not_timed(
    runtime_client: Any, redis: Redis, keys: RedisKeys
) -> None:
    """The widget GET (200 and 304) and the embed loader, on the real app."""
    version = await seed_agent_version(redis, keys, new_id())
    answers = []
    for path in (PREFIX + "/{}", "/public/embed/{}"):
        path = path.format((await seed_widget(redis, keys, version)).id)  # a widget each
        first = await runtime_client.get(path)  # a miss: read from Redis
        etag = first.headers["ETag"]
        for headers in ({}, {"If-None-Match": etag}, {"X-Request-ID": "visitor-7"}):
            answers.append(await runtime_client.get(path, headers=headers))
        answers.insert(0, first)
    for resp in answers:
        assert resp.status in (200, 304)
        assert resp.headers.get("X-Request-ID") == resp.request_info.headers.get("X-Request-ID")
    # An error on the same route still gets a generated id.
    missing = await runtime_client.get(f"{PREFIX}/{new_id()}")
    assert missing.status == 404 and len(missing.headers["X-Request-ID"]) == 32

    samples = await scrape(runtime_client)
    for route in (PREFIX + "/{id}", "/public/embed/{id}"):
        hits = {status: samples.get(("http_cache_hits_total", (
            ("method", "GET"), ("route", route), ("status", status))), 0.0)
            for status in ("200", "304")}
        assert hits == {"200": 2, "304": 1}, route
        timed = samples[("http_request_duration_seconds_count",
                         (("method", "GET"), ("route", route)))]
        assert timed == (1 if route.startswith("/public") else 2), route  # the miss (+ the 404)
