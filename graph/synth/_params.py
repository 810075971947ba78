"""Parameters of the demo-data generator: time span, population shares, behaviour.

Every number that shapes the generated world lives here, so ``docs/synth.md``
can quote it and a test can read it. Rates are *means over the whole
four-month window* unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any

import numpy as np

__all__ = [
    "CHINA_TZ",
    "OFFSET_S",
    "WINDOW_START",
    "WINDOW_END",
    "MONTHS",
    "MONTH_BOUNDS",
    "Segment",
    "SEGMENT_ROLE",
    "Behaviour",
    "BEHAVIOUR",
    "SynthParams",
    "FORMATS",
]

#: China Standard Time, the zone every generated timestamp is written in.
CHINA_TZ = timezone(timedelta(hours=8))
#: Offset of China time from UTC in seconds.
OFFSET_S = 8 * 3600
#: First instant of the generated window (inclusive).
WINDOW_START = datetime(2026, 7, 1, tzinfo=CHINA_TZ)
#: End of the generated window (exclusive).
WINDOW_END = datetime(2026, 11, 1, tzinfo=CHINA_TZ)
#: Commission periods covered by the window, as ``YYYY-MM`` labels.
MONTHS: tuple[str, ...] = ("2026-07", "2026-08", "2026-09", "2026-10")
#: Epoch seconds (UTC) of the first instant of each month, plus the window end.
MONTH_BOUNDS = np.array(
    [int(datetime(2026, m, 1, tzinfo=CHINA_TZ).timestamp()) for m in (7, 8, 9, 10, 11)],
    dtype=np.int64,
)

#: Output formats understood by the writer.
FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")


class Segment(IntEnum):
    """Hidden behaviour class of a user (ground truth only, never written to events)."""

    REGULAR = 0
    KOC = 1
    BIG_SPENDER = 2
    HUB = 3
    EMPLOYEE = 4
    KOL = 5
    FRAUD = 6


#: True :class:`graph.events.Role` value of each segment.
SEGMENT_ROLE: dict[Segment, str] = {
    Segment.REGULAR: "consumer",
    Segment.KOC: "consumer",
    Segment.BIG_SPENDER: "consumer",
    Segment.HUB: "consumer",
    Segment.EMPLOYEE: "employee",
    Segment.KOL: "kol",
    Segment.FRAUD: "consumer",
}


@dataclass(frozen=True)
class Behaviour:
    """Per-segment behaviour, one array entry per :class:`Segment` (indexed by its value).

    Attributes
    ----------
    share_rate
        Mean shares per user over the window (times the user's activity).
    audience
        Mean views per share (times the user's audience factor). KOLs use
        :attr:`SynthParams.kol_audience` instead.
    friend_prob
        Probability that a viewer of the share is a friend (same community).
    customer_prob
        Probability that a viewer is a customer of the sharer's store (employees).
    conversion
        Probability that a view of this user's share or forward leads to an order.
    forward_prob
        Probability that a viewer forwards content shown by this user.
    comment_prob
        Probability that a user of this segment comments on what they view.
    organic_orders
        Mean orders placed without any attribution (times the spend factor).
    amount_mult
        Multiplier of the order amount (median 180 CNY).
    viewer_weight
        Weight of being picked as a random (non-friend) viewer.
    """

    share_rate: np.ndarray
    audience: np.ndarray
    friend_prob: np.ndarray
    customer_prob: np.ndarray
    conversion: np.ndarray
    forward_prob: np.ndarray
    comment_prob: np.ndarray
    organic_orders: np.ndarray
    amount_mult: np.ndarray
    viewer_weight: np.ndarray


def _a(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


#: Order of entries:   REGULAR  KOC    BIG    HUB    EMPL   KOL     FRAUD
BEHAVIOUR = Behaviour(
    share_rate=_a(0.5, 4.0, 0.2, 10.0, 18.0, 25.0, 0.1),
    audience=_a(3.0, 6.0, 3.0, 15.0, 6.0, 0.0, 2.0),
    friend_prob=_a(0.8, 0.9, 0.8, 0.25, 0.1, 0.03, 0.9),
    customer_prob=_a(0.0, 0.0, 0.0, 0.0, 0.85, 0.0, 0.0),
    conversion=_a(0.008, 0.13, 0.008, 0.0015, 0.03, 0.0006, 0.0),
    forward_prob=_a(0.05, 0.15, 0.05, 0.02, 0.03, 0.04, 0.0),
    comment_prob=_a(0.06, 0.08, 0.05, 0.5, 0.6, 0.02, 0.0),
    organic_orders=_a(0.8, 1.0, 12.0, 0.5, 0.3, 0.5, 0.2),
    amount_mult=_a(1.0, 1.0, 6.0, 1.0, 1.0, 1.5, 0.2),
    viewer_weight=_a(1.0, 1.0, 1.0, 20.0, 0.2, 0.2, 0.0),
)


@dataclass(frozen=True)
class SynthParams:
    """Size, seed and population shares of one generated data set.

    Parameters
    ----------
    users : int
        Number of users (at least 200).
    seed : int
        Seed of every random draw; the same seed gives byte-identical files.
    chunk_users : int
        Users whose activity is generated and written per chunk (memory bound).
    kol_fraction, min_kols : float, int
        Share of users who are KOLs (at least ``min_kols``).
    employee_fraction : float
        Share of users who are store employees (sales guides).
    koc_fraction : float
        Share of consumers planted as KOCs.
    big_spender_fraction, hub_fraction : float
        Share of consumers who spend a lot but influence nobody / who interact a lot
        at low value.
    unknown_role_fraction : float
        Share of users whose role is written as ``unknown`` in ``users``.
    users_per_store, mean_community_size : int
        Population density: one store per ``users_per_store`` users, friend circles
        of this mean (heavy-tailed) size.
    in_window_signup_fraction, referred_fraction : float
        Share of users who sign up inside the window, and share of those who
        sign up through a referral.
    refund_rate : float
        Probability that an order is (fully or partially) refunded.
    broken_fraction : float
        Broken rows written to ``broken.csv``, as a share of all valid rows.
    """

    users: int = 20_000
    seed: int = 0
    chunk_users: int = 50_000
    kol_fraction: float = 0.0002
    min_kols: int = 5
    employee_fraction: float = 0.015
    koc_fraction: float = 0.02
    big_spender_fraction: float = 0.01
    hub_fraction: float = 0.01
    unknown_role_fraction: float = 0.30
    users_per_store: int = 2_000
    mean_community_size: int = 40
    in_window_signup_fraction: float = 0.35
    referred_fraction: float = 0.8
    refund_rate: float = 0.05
    broken_fraction: float = 0.001

    @property
    def kol_audience(self) -> float:
        """Mean views per KOL share: 1% of users, between 20 and 300."""
        return float(min(300.0, max(20.0, 0.01 * self.users)))

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a JSON-ready dict (for ``ground_truth.json``)."""
        return {
            **asdict(self),
            "window_start": WINDOW_START.isoformat(),
            "window_end": WINDOW_END.isoformat(),
            "months": list(MONTHS),
            "kol_audience": self.kol_audience,
        }
