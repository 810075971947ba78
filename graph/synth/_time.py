"""Timestamps inside the window, with daily rhythms per kind of user.

Consumers are busiest at lunch and in the evening; employees (sales guides)
share during working hours (09:00-18:00 China time) on weekdays. All values
are UTC epoch seconds; every derived event is its cause's time plus a positive
delay, so cascades always move forward in time.
"""

from __future__ import annotations

import numpy as np

from graph.synth._params import MONTH_BOUNDS, OFFSET_S, WINDOW_END, WINDOW_START

__all__ = ["START_S", "END_S", "sample_ts", "later", "month_index"]

START_S = int(WINDOW_START.timestamp())
END_S = int(WINDOW_END.timestamp())
_DAYS = (END_S - START_S) // 86_400
#: weekday (0 = Monday) of each day of the window
_WEEKDAY = ((START_S + OFFSET_S) // 86_400 + 3 + np.arange(_DAYS)) % 7
_WORKDAYS = np.flatnonzero(_WEEKDAY < 5)

_CONSUMER_HOURS = np.array(
    [1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.0, 2.0, 2.0, 2.5]
    + [3.5, 3.0, 2.0, 2.0, 2.0, 2.5, 3.0, 4.0, 5.0, 5.5, 4.5, 2.5]
)
_CONSUMER_HOURS /= _CONSUMER_HOURS.sum()
_WORK_HOURS = np.zeros(24)
_WORK_HOURS[9:18] = 1.0
_WORK_HOURS /= _WORK_HOURS.sum()


def sample_ts(
    rng: np.random.Generator, work: np.ndarray, *, work_share: float = 0.85
) -> np.ndarray:
    """One timestamp per entry of ``work``, uniform over the window's days.

    Entries where ``work`` is true fall, with probability ``work_share``, on a
    weekday between 09:00 and 18:00 China time; the others follow the consumer
    rhythm (evening peak).
    """
    k = int(work.shape[0])
    at_work = work & (rng.random(k) < work_share)
    day = rng.integers(0, _DAYS, size=k)
    day[at_work] = _WORKDAYS[rng.integers(0, _WORKDAYS.shape[0], size=int(at_work.sum()))]
    hour = rng.choice(24, size=k, p=_CONSUMER_HOURS)
    hour[at_work] = rng.choice(24, size=int(at_work.sum()), p=_WORK_HOURS)
    seconds = rng.integers(0, 3_600, size=k)
    return START_S + day * 86_400 + hour * 3_600 + seconds


def later(
    rng: np.random.Generator, ts: np.ndarray, *, minimum: int, mean: float, cap: float | None = None
) -> np.ndarray:
    """``ts`` plus ``minimum`` seconds plus an exponential delay of mean ``mean`` (capped)."""
    delay = rng.exponential(mean, size=int(ts.shape[0]))
    if cap is not None:
        delay = np.minimum(delay, cap)
    return ts + minimum + delay.astype(np.int64)


def month_index(ts: np.ndarray) -> np.ndarray:
    """Index into :data:`graph.synth._params.MONTHS` of each timestamp (China time)."""
    return np.searchsorted(MONTH_BOUNDS, ts, side="right") - 1
