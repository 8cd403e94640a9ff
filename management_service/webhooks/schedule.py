"""The retry schedule: the delays after each failed attempt, with jitter that only shortens
them, so the last attempt is never later than the documented schedule says."""

from __future__ import annotations

import random

JITTER = 0.2  # a delay is drawn from [80 %, 100 %] of its step


def parse_schedule(spec: str) -> tuple[float, ...]:
    """``"5,300,1800"`` -> seconds (WEBHOOK_RETRY_SCHEDULE; the setting's pattern checked it)."""
    return tuple(float(part) for part in spec.split(",") if part)


def retry_delay_ms(
    schedule: tuple[float, ...], attempts: int, rand: random.Random | None = None
) -> int | None:
    """The delay before attempt ``attempts + 1`` after ``attempts`` failed ones, or None when
    the schedule is exhausted (the delivery has failed for good)."""
    if attempts < 1 or attempts > len(schedule):
        return None
    step = schedule[attempts - 1] * 1000
    draw = (rand or random).random()
    return int(step * (1 - JITTER * draw))
