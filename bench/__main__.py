"""``make bench``: every hot path against the framework's own ceiling, measured in one run.

A private Redis, the two services (one process each, plus three more runtime processes for the
invalidation test) and a bare aiohttp baseline run as separate processes; wrk loads them from
another process on loopback. Each row is the service and the baseline on the same route shape,
back to back, so the ratio holds even when absolute numbers drift; beside it, each side's CPU
time per request and how busy the service's core was (docs/performance.md). Knobs (environment):
BENCH_SECONDS (4), BENCH_CONNECTIONS (16), BENCH_UPDATES (200), BENCH_CONVERSATIONS (150000),
BENCH_OWNER_CONVERSATIONS (100000: the organization the owner's conversations rows read),
BENCH_ONLY (run only the rows whose name contains this text, and skip the other checks),
BENCH_WEBHOOK_EVENTS (3000: the webhook delivery burst), BENCH_MEMORY_STARTS (100000: the starts
whose Redis memory and CPU are measured).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import cpus, memory, propagation, services, tokens, webhook_delivery
from bench.load import Request, Result, combine, find_wrk, run_wrk
from bench.seed import VISITOR, WIDGET_PAGE, BenchData, seed
from bench.webhooks import WebhookLines, not_applied, outcomes
from common.redis_process import RedisProcess
from common.settings import Settings
from deploy.dev_run import WIDGET_CONFIG
from runtime_service.dev_webhook import event_body, sign

PUBLIC = "/core/public/web-widgets/"
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
WARMUP = 1.0
ROUNDS = 4  # alternations per side: a slow moment of the host falls on both
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
UPDATES = int(os.environ.get("BENCH_UPDATES", "200"))
ONLY = os.environ.get("BENCH_ONLY", "")
CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "150000"))
OWNER_CONVERSATIONS = int(os.environ.get("BENCH_OWNER_CONVERSATIONS", "100000"))
OWNER_PAGE = "/core/conversations?limit=20"
RUNTIMES = 4
# Signed webhooks prepared per run (signing them all up front would take minutes).
WEBHOOK_LINES = int(os.environ.get("BENCH_WEBHOOK_LINES", "20000"))
FEEDBACK = json.dumps({"data": {"rating": 5, "comment": "Quick and helpful"}})

# Targets from the benchmark issue: ratio to the baseline, and the two absolute ones.
GET_TARGET, START_TARGET, TOKEN_TARGET, PROPAGATION_P99_MS = 0.9, 0.5, 10.0, 10.0
MANAGEMENT_GET_TARGET = 0.5  # issue 20
MEMORY_TARGET = 700  # bytes of Redis memory per started conversation (issue 20)


@dataclass(frozen=True)
class Scenario:
    name: str
    service: str  # "runtime" or "management"
    route: str  # the baseline route (bench.baseline_app.ROUTES) of the same shape
    request: Request
    expected: frozenset[int] = frozenset({200})
    target: float | None = None
    fresh_ids: bool = False  # each request needs a conversation nobody used yet
    # With fresh_ids: what a conversation id becomes in the ids file (bench/webhooks.py).
    line: Callable[[str], str] | None = None


@dataclass
class Row:
    name: str
    service: Result
    baseline: Result | None
    expected: frozenset[int]
    target: float | None
    steal: float | None = None  # share of the machine the host took during the row
    not_applied: int = 0  # webhooks answered 200 that changed nothing (bench.webhooks)

    @property
    def ratio(self) -> float | None:
        return self.service.rps / self.baseline.rps if self.baseline else None

    @property
    def errors(self) -> int:
        baseline_errors = self.baseline.unexpected({200}) if self.baseline else 0
        return self.service.unexpected(set(self.expected)) + baseline_errors + self.not_applied

    @property
    def passed(self) -> bool:
        ratio_ok = self.target is None or (self.ratio or 0) >= self.target
        return ratio_ok and self.errors == 0


@dataclass
class IdPool:
    """Conversation ids handed out once: a run may use at most its requests plus in-flight."""

    ids: list[str]
    directory: Path
    used: int = 0
    files: int = 0

    lines: int = 0  # in the last file

    def file(self, line: Callable[[str], str] | None = None, limit: int | None = None) -> Path:
        """The unused ids (at most ``limit``), each as ``line`` makes it (default: itself)."""
        if self.used >= len(self.ids):
            # wrk would go round the used ones again: 409s that say nothing of the service.
            raise SystemExit("out of fresh conversations: raise BENCH_CONVERSATIONS")
        self.files += 1
        path = self.directory / f"ids-{self.files}.txt"
        ids = self.ids[self.used:] if limit is None else self.ids[self.used:self.used + limit]
        self.lines = len(ids)
        path.write_text("\n".join(map(line, ids) if line else ids) + "\n")
        return path

    def consumed(self, result: Result) -> None:
        if result.requests > self.lines:
            # wrk went round the file: some conversations were used twice.
            raise SystemExit("a run outran its ids file: raise BENCH_WEBHOOK_LINES")
        self.used += result.requests + CONNECTIONS


def scenarios(
    data: BenchData, etag: str, resume_id: str, duplicate_id: str, webhooks: WebhookLines
) -> list[Scenario]:
    widget = PUBLIC + data.widget_id
    auth = {"Authorization": f"Bearer {data.api_key}"}
    owner = {"Authorization": f"Bearer {data.owner.api_key}"}
    managed = "/core/web-widgets/" + data.managed_widget_id
    put_body = json.dumps({"config": {"v1": {**WIDGET_CONFIG["v1"], "title": "Bench {n}"}}})
    return [
        Scenario("public widget GET (cache hit)", "runtime", "widget",
                 Request("GET", widget), target=GET_TARGET),
        Scenario("public widget GET, If-None-Match", "runtime", "widget",
                 Request("GET", widget, headers={"If-None-Match": etag}),
                 expected=frozenset({304}), target=GET_TARGET),
        Scenario("conversation start", "runtime", "start",
                 Request("POST", widget + "/conversations", '{"user_id": "visitor-{n}"}'),
                 target=START_TARGET),
        Scenario("conversation resume", "runtime", "start",
                 Request("POST", widget + "/conversations", json.dumps(
                     {"user_id": VISITOR, "conversation_id": resume_id}))),
        Scenario("feedback, first submission", "runtime", "feedback",
                 Request("POST", widget + "/conversations/{id}/feedback", FEEDBACK),
                 fresh_ids=True),
        Scenario("feedback, duplicate (409)", "runtime", "feedback",
                 Request("POST", f"{widget}/conversations/{duplicate_id}/feedback", FEEDBACK),
                 expected=frozenset({409})),
        # A visitor's participant_joined, signed as LiveKit signs it, for a conversation nobody
        # used yet: verification, then token_created -> in_progress and its event.
        Scenario("livekit webhook (participant_joined)", "runtime", "webhook",
                 Request("POST", "/livekit/webhook", "{id}"), fresh_ids=True, line=webhooks),
        Scenario("conversation list page", "runtime", "list",
                 Request("GET", f"{widget}/conversations?user_id={VISITOR}&limit=20")),
        Scenario("management GET widget", "management", "management_get",
                 Request("GET", managed, headers=auth), target=MANAGEMENT_GET_TARGET),
        Scenario("management PUT widget", "management", "management_put",
                 Request("PUT", managed, put_body, headers=auth)),
        Scenario(f"management widget list page ({WIDGET_PAGE})", "management", "management_list",
                 Request("GET", f"/core/web-widgets?limit={WIDGET_PAGE}", headers=auth)),
        # The owner's conversations API, on an organization of OWNER_CONVERSATIONS: the newest
        # page of its own index; a status (merged from its widgets' status indexes); one GET.
        Scenario("owner conversations page (20)", "management", "owner_list",
                 Request("GET", OWNER_PAGE, headers=owner)),
        Scenario("owner conversations page, status", "management", "owner_list",
                 Request("GET", OWNER_PAGE + "&status=completed", headers=owner)),
        Scenario("owner conversation GET", "management", "owner_get",
                 Request("GET", f"/core/conversations/{data.owner.conversation_id}",
                         headers=owner)),
    ]


def fetch(method: str, url: str, body: str = "", headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        url, data=body.encode() or None, method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode(), dict(response.headers)


def baseline_bodies(
    runtime: str, management: str, data: BenchData, feedback_id: str, path: Path
) -> None:
    """What the real services answer, so the baseline serves the same bytes."""
    widget = runtime + PUBLIC + data.widget_id
    auth = {"Authorization": f"Bearer {data.api_key}"}
    managed = f"{management}/core/web-widgets/{data.managed_widget_id}"
    owner = {"Authorization": f"Bearer {data.owner.api_key}"}
    owner_get = f"{management}/core/conversations/{data.owner.conversation_id}"
    bodies = {
        "widget": fetch("GET", widget)[0],
        "start": fetch("POST", widget + "/conversations", '{"user_id": "visitor-0"}')[0],
        "list": fetch("GET", f"{widget}/conversations?user_id={VISITOR}&limit=20")[0],
        "feedback": fetch("POST", f"{widget}/conversations/{feedback_id}/feedback", FEEDBACK)[0],
        "management_get": fetch("GET", managed, headers=auth)[0],
        "management_put": fetch("PUT", managed, json.dumps({"config": WIDGET_CONFIG}), auth)[0],
        "management_list": fetch(
            "GET", f"{management}/core/web-widgets?limit={WIDGET_PAGE}", headers=auth
        )[0],
        # Every webhook the service takes answers these bytes.
        "webhook": fetch("POST", runtime + "/livekit/webhook", *_signed_unknown_room())[0],
        # Both list rows answer a page of 20 safe rows: the unfiltered page's bytes serve both.
        "owner_list": fetch("GET", management + OWNER_PAGE, headers=owner)[0],
        "owner_get": fetch("GET", owner_get, headers=owner)[0],
    }
    path.write_text(json.dumps(bodies))


def webhooks_outcomes(base_url: str) -> dict[str, int]:
    return outcomes(fetch("GET", base_url + "/metrics")[0])


def _signed_unknown_room() -> tuple[str, dict[str, str]]:
    body = event_body("room_started", "bench-capture", int(time.time()))
    return body.decode(), {"Authorization": sign(body, services.LIVEKIT_KEY,
                                                 services.LIVEKIT_SECRET)}


def measure(
    wrk: str, scenario: Scenario, target: services.Process, baseline_app: services.Process,
    pool: IdPool, load_cpus: frozenset[int] | None,
) -> Row:
    """Warm both up, then alternate service and baseline runs, so that a slow moment of a
    shared machine falls on both sides instead of skewing the ratio."""

    def run(side: services.Process, seconds: float, *, uses_ids: bool) -> Result:
        # Only the service consumes conversations: the baseline never looks at the ids.
        request = scenario.request
        if scenario.fresh_ids:
            limit = WEBHOOK_LINES if scenario.line else None
            request = dataclasses.replace(request, ids_file=pool.file(scenario.line, limit))
        result = run_wrk(
            wrk, side.base_url, request, seconds=seconds, connections=CONNECTIONS,
            cpus=load_cpus, server_pid=side.pid,
        )
        if scenario.fresh_ids and uses_ids:
            pool.consumed(result)
        return result

    run(target, WARMUP, uses_ids=True)
    run(baseline_app, WARMUP, uses_ids=False)
    service, baseline = [], []
    steal_before, started = cpus.steal_ticks(), time.monotonic()
    for _ in range(ROUNDS):
        service.append(run(target, SECONDS / ROUNDS, uses_ids=True))
        baseline.append(run(baseline_app, SECONDS / ROUNDS, uses_ids=False))
    steal = cpus.steal_share(steal_before, cpus.steal_ticks(), time.monotonic() - started)
    return Row(scenario.name, combine(service), combine(baseline), scenario.expected,
               scenario.target, steal)


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor() or "unknown CPU",
    ) if Path("/proc/cpuinfo").exists() else platform.processor()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}; "
        f"{wrk.split(' Copyright')[0].strip()}"
    )


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    print(f"\n{'scenario':36} {'service rps':>11} {'baseline rps':>12} {'ratio':>6} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'steal':>5} {'cpu us':>6} "
          f"{'base us':>7} {'busy':>4}  target  result")
    for row in rows:
        s, b = row.service, row.baseline
        target = f">={row.target:.1f}x" if row.target else "no err"
        print(f"{row.name:36} {s.rps:11.0f} {(b.rps if b else 0):12.0f} "
              f"{_number(row.ratio, '.2f'):>6} {s.p50_ms:7.2f} {s.p99_ms:7.2f} "
              f"{row.errors:6d} {_number(row.steal, '.0%'):>5} {_number(s.cpu_us, '.1f'):>6} "
              f"{_number(b.cpu_us if b else None, '.1f'):>7} {_number(s.busy, '.0%'):>4}  "
              f"{target:6}  {'PASS' if row.passed else 'FAIL'}")
    for row in rows:
        if row.errors:
            print(f"  {row.name}: statuses {row.service.statuses} (expected "
                  f"{sorted(row.expected)}), socket errors {row.service.socket_errors}; "
                  f"baseline statuses {row.baseline.statuses if row.baseline else '-'}; "
                  f"webhooks not applied {row.not_applied}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    wrk = find_wrk()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    redis = RedisProcess(data_dir=workdir / "redis").start()
    processes: list[services.Process] = []
    try:
        settings = Settings.from_env("runtime", services.service_env(redis.url, 0))
        data = asyncio.run(seed(settings, CONVERSATIONS, OWNER_CONVERSATIONS))
        load_cpus, server_cpus = cpus.split() or (None, None)
        management = services.service(
            "management", "management_service", redis.url, server_cpus
        ).start()
        # The first runtime takes the load; the others only follow invalidations.
        runtimes = [
            services.service(
                f"runtime-{n}", "runtime_service", redis.url, server_cpus if n == 1 else None
            ).start()
            for n in range(1, RUNTIMES + 1)
        ]
        processes += [management, *runtimes]
        for proc in processes:
            proc.wait_ready()
        runtime = runtimes[0]
        ids = data.conversation_ids
        resume_id, feedback_id = ids[0], ids[1]
        pool = IdPool(ids[2:], workdir)
        bodies = workdir / "bodies.json"
        baseline_bodies(runtime.base_url, management.base_url, data, feedback_id, bodies)
        baseline = services.baseline(bodies, server_cpus).start()
        processes.append(baseline)
        baseline.wait_ready()
        etag = fetch("GET", runtime.base_url + PUBLIC + data.widget_id)[1]["ETag"]

        print(f"machine: {machine()}")
        print(f"load: wrk, 1 thread, {CONNECTIONS} connections; per row {SECONDS:g} s on each "
              f"side in {ROUNDS} alternating runs after {WARMUP:g} s warm-up; each service and "
              f"the baseline run 1 process", flush=True)
        if load_cpus is not None and server_cpus is not None:
            print(f"cpus: wrk on {sorted(load_cpus)}, the measured service and the baseline on "
                  f"{sorted(server_cpus)}; steal = CPU time the host took, as a share of the "
                  f"machine", flush=True)
        rows = []
        webhooks = WebhookLines(services.LIVEKIT_KEY, services.LIVEKIT_SECRET)
        for scenario in scenarios(data, etag, resume_id, feedback_id, webhooks):
            if ONLY not in scenario.name:
                continue
            target = runtime if scenario.service == "runtime" else management
            before = webhooks_outcomes(runtime.base_url) if scenario.line else {}
            rows.append(measure(wrk, scenario, target, baseline, pool, load_cpus))
            if scenario.line:
                rows[-1].not_applied = not_applied(
                    before, webhooks_outcomes(runtime.base_url), rows[-1].service.requests
                )
            print(f"  measured: {scenario.name}", flush=True)
        print_table(rows)
        if ONLY:
            return 0 if all(row.passed for row in rows) else 1

        delays = asyncio.run(propagation.measure(
            management.base_url, data.api_key, [r.base_url for r in runtimes],
            data.propagation_widget_id, WIDGET_CONFIG, UPDATES,
        ))
        p50, p99 = (percentile(delays, q) * 1000 for q in (0.5, 0.99))
        propagation_ok = p99 < PROPAGATION_P99_MS
        print(f"\ninvalidation propagation to {RUNTIMES} runtime processes over {len(delays)} "
              f"updates: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(delays) * 1000:.2f} ms "
              f"(target p99 < {PROPAGATION_P99_MS:g} ms)  "
              f"{'PASS' if propagation_ok else 'FAIL'}")

        ours, theirs = tokens.ours_factory(), tokens.livekit_token
        identical = tokens.same_claims(ours(), theirs())
        ours_rate, theirs_rate = tokens.per_second(ours, 2.0), tokens.per_second(theirs, 2.0)
        token_ratio = ours_rate / theirs_rate
        tokens_ok = identical and token_ratio >= TOKEN_TARGET
        print(f"token minting: ours {ours_rate:,.0f}/s, livekit-api AccessToken.to_jwt "
              f"{theirs_rate:,.0f}/s, ratio {token_ratio:.1f}x (target >= {TOKEN_TARGET:g}x); "
              f"same claims, verified by TokenVerifier: {'yes' if identical else 'NO'}  "
              f"{'PASS' if tokens_ok else 'FAIL'}")

        # Before the webhook worker starts: its deliveries would count as the starts' memory.
        spent = asyncio.run(memory.measure(redis.url, runtime.base_url, data.widget_id, settings))
        memory_ok = spent.bytes_per_start <= MEMORY_TARGET
        print(f"redis per started conversation over {spent.starts:,} starts (distinct visitors): "
              f"{spent.bytes_per_start:,.0f} bytes (target <= {MEMORY_TARGET} bytes), "
              f"{spent.cpu_us_per_start:.1f} us of Redis CPU  {'PASS' if memory_ok else 'FAIL'}")
        print("  its parts (MEMORY USAGE, bytes per start): " + ", ".join(
            f"{part} {size:,.0f}" for part, size in spent.parts.items()
        ))
        print(f"  then, on {memory.SAMPLE:,} of them: a call that completes adds "
              f"{spent.completed_bytes:,.0f} bytes each (its facts, two events, the status "
              f"index), the agent's report ({memory.TRANSCRIPT_ITEMS}-turn transcript of "
              f"{memory.TRANSCRIPT_TEXT}-character turns, {memory.SUMMARY_TEXT}-character "
              f"summary) {spent.report_bytes:,.0f} more")

        # One webhook worker process (started only now: it must not compete with the rows).
        worker = services.service(
            "webhooks", "management_service.webhooks", redis.url, server_cpus
        )
        worker.env["WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver is on loopback
        processes.append(worker.start())
        worker.wait_ready()
        report = asyncio.run(webhook_delivery.measure(
            redis.url, settings.redis_key_prefix, runtime.base_url, data.widget_id
        ))
        d50, d99 = (percentile(report.delays, q) * 1000 for q in (0.5, 0.99))
        print(f"webhook delivery, 1 worker process to a loopback receiver: "
              f"{report.per_second:,.0f} deliveries/s ({report.events} events, 1 endpoint, "
              f"{webhook_delivery.CONVERSATIONS} conversations); conversation start to its "
              f"delivery over {len(report.delays)} starts: p50 {d50:.1f} ms, p99 {d99:.1f} ms")

        passed = all(row.passed for row in rows) and propagation_ok and tokens_ok and memory_ok
        print(f"\n{'ALL PASS' if passed else 'SOME FAIL'} in {time.monotonic() - started:.0f} s "
              f"(median service p50 {statistics.median(r.service.p50_ms for r in rows):.2f} ms)")
        return 0 if passed else 1
    finally:
        for proc in reversed(processes):
            proc.stop()
        redis.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
