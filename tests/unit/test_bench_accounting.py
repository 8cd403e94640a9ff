"""The benchmark's CPU accounting: what the table's per-request CPU and busy columns rest on."""

from __future__ import annotations

import os
import sys
import time

import pytest

from bench.cpus import cpu_seconds
from bench.load import Result, combine, wrk_seconds


def result(requests: int, seconds: float, cpu: float | None) -> Result:
    return Result(requests, seconds, 1.0, 2.0, {200: requests}, 0, cpu)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_cpu_seconds_counts_the_process_s_own_work() -> None:
    before = cpu_seconds(os.getpid())
    assert before is not None
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # 0.2 s of CPU, not of waiting
        pass
    after = cpu_seconds(os.getpid())
    assert after is not None and after - before == pytest.approx(0.2, abs=0.05)


def test_cpu_seconds_of_no_such_process_is_none() -> None:
    assert cpu_seconds(2**22 + 12345) is None  # above Linux's pid_max


def test_per_request_cpu_and_busy_share_of_combined_runs() -> None:
    combined = combine([result(1000, 1.0, 0.05), result(3000, 1.0, 0.15)])
    assert combined.cpu_us == pytest.approx(50.0)  # 0.2 s over 4000 requests
    assert combined.busy == pytest.approx(0.1)  # 0.2 s of CPU in 2 s


def test_a_run_without_cpu_figures_leaves_the_columns_empty() -> None:
    combined = combine([result(1000, 1.0, 0.05), result(1000, 1.0, None)])
    assert combined.cpu_seconds is None and combined.cpu_us is None and combined.busy is None


@pytest.mark.parametrize(("seconds", "whole"), [(0.5, 1), (1.0, 1), (1.25, 2), (4.0, 4), (0.0, 1)])
def test_wrk_gets_whole_seconds(seconds: float, whole: int) -> None:
    # BENCH_SECONDS=2 makes each of the 4 rounds 0.5 s, which wrk refuses as "-d0.5s".
    assert wrk_seconds(seconds) == whole
