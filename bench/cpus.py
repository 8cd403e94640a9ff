"""Where the load generator and the measured processes run, and how much the host took away.

On a small machine the scheduler moves wrk and the server under test between the same few
cores, and where each lands changes its speed: two identical baseline processes measured
10% apart. With two or more CPUs, wrk gets the first and the measured processes (the
service under load and the baseline) the others, so both sides of a ratio run alike. Redis
and the idle processes are left to the scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

_STAT = Path("/proc/stat")


def split() -> tuple[frozenset[int], frozenset[int]] | None:
    """(wrk's CPUs, the measured processes' CPUs), or None where pinning is unavailable."""
    if not hasattr(os, "sched_getaffinity"):  # not on macOS
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return frozenset(cpus[:1]), frozenset(cpus[1:])


def pin(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that runs the child (and every thread it starts) on ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def steal_ticks() -> int | None:
    """CPU time the hypervisor gave to others, in clock ticks over all CPUs (Linux guests)."""
    try:
        fields = _STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    return int(fields[8]) if len(fields) > 8 else None


def steal_share(before: int | None, after: int | None, seconds: float) -> float | None:
    """The share of the machine's CPU time taken by the host between two readings."""
    if before is None or after is None or seconds <= 0:
        return None
    ticks_per_second = os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return (after - before) / (ticks_per_second * seconds)


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and kernel) process ``pid`` has used, or None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the name: state is field 3 of proc(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
