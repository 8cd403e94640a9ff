"""Closed-loop HTTP load from a separate process: wrk, one thread, fixed connections."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpus import cpu_seconds, pin

SCRIPT = Path(__file__).resolve().parent / "wrk" / "scenario.lua"
INSTALL_HINT = "wrk is required: sudo apt-get install wrk (Debian/Ubuntu) or brew install wrk"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # "{n}" is a per-request counter, "{id}" the next line of ids_file
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    ids_file: Path | None = None


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: int
    # CPU time the measured server process used during the run (None: not measurable here).
    cpu_seconds: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float | None:
        """The server's CPU time (user and kernel) per request, in microseconds."""
        if self.cpu_seconds is None or not self.requests:
            return None
        return self.cpu_seconds / self.requests * 1e6

    @property
    def busy(self) -> float | None:
        """The share of one core the server used: below 1, it was at times waiting."""
        if self.cpu_seconds is None or not self.seconds:
            return None
        return self.cpu_seconds / self.seconds

    def unexpected(self, expected: set[int]) -> int:
        wrong = sum(n for status, n in self.statuses.items() if status not in expected)
        return wrong + self.socket_errors


def combine(results: list[Result]) -> Result:
    """Several runs of one side as one: totals, and the median run's percentiles."""
    by_p50 = sorted(results, key=lambda r: r.p50_ms)
    cpu = [r.cpu_seconds for r in results]
    statuses: dict[int, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return Result(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        p50_ms=by_p50[len(by_p50) // 2].p50_ms,
        p99_ms=sorted(r.p99_ms for r in results)[len(results) // 2],
        statuses=statuses,
        socket_errors=sum(r.socket_errors for r in results),
        cpu_seconds=None if None in cpu else sum(cpu),  # type: ignore[arg-type]
    )


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(INSTALL_HINT)
    return wrk


def wrk_seconds(seconds: float) -> int:
    """wrk takes whole seconds only (``-d0.5s`` is refused): a fraction is rounded up. Rates are
    computed from the duration wrk reports, so the rounding does not skew them."""
    return max(1, math.ceil(seconds))


def run_wrk(
    wrk: str, base_url: str, request: Request, *, seconds: float, connections: int,
    cpus: frozenset[int] | None = None, server_pid: int | None = None,
) -> Result:
    """One wrk run; with ``server_pid``, also the CPU time that process used meanwhile."""
    env = {
        **os.environ,
        "BENCH_METHOD": request.method,
        "BENCH_PATH": request.path,
        "BENCH_BODY": request.body,
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in request.headers.items()),
        "BENCH_IDS": str(request.ids_file or ""),
    }
    duration = wrk_seconds(seconds)
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
         "-s", str(SCRIPT), base_url],
        env=env, capture_output=True, text=True, check=True, timeout=duration + 30,
        preexec_fn=pin(cpus),
    ).stdout
    cpu_after = cpu_seconds(server_pid) if server_pid else None
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    return Result(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        statuses={int(k): v for k, v in raw["statuses"].items()},
        socket_errors=raw["socket_errors"],
        cpu_seconds=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )
