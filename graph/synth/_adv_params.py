"""Parameters of the adversarial world (``koc synth --world adversarial``).

A second generative model, built to break naive KOC scores (see ``docs/synth.md``):
persuasiveness is continuous and independent of audience size, staff key their codes
into store orders, fraud rings and self-dealers buy through each other's links and
refund, organic orders carry a recently seen share token by coincidence, views are
logged for only a fraction of exposures and some caused orders lose their token.

The window is the one of ``koc synth`` (2026-07-01 .. 2026-11-01 China time), but
only the first three months are written as events; October is the **held-out
month**, present only in the ground truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from graph.synth._params import MONTH_BOUNDS, MONTHS, WINDOW_END, WINDOW_START

__all__ = [
    "AdvSegment",
    "ADV_SEGMENT_ROLE",
    "Observability",
    "OBSERVABILITY",
    "AdversarialParams",
    "OBSERVED_END_S",
    "HOLDOUT_MONTH",
]

#: Events at or after this instant (2026-10-01 China time) are never written.
OBSERVED_END_S = int(MONTH_BOUNDS[3])
#: The month only the ground truth knows.
HOLDOUT_MONTH = MONTHS[3]


class AdvSegment(IntEnum):
    """Hidden behaviour class of a user in the adversarial world (ground truth only)."""

    REGULAR = 0
    KOL = 1
    EMPLOYEE = 2
    SOCIALITE = 3
    BIG_SPENDER = 4
    COUPON_HUNTER = 5
    FRAUD_RING = 6
    SELF_DEALER = 7
    ALT_ACCOUNT = 8


#: True role of each segment.
ADV_SEGMENT_ROLE: dict[AdvSegment, str] = {
    AdvSegment.REGULAR: "consumer",
    AdvSegment.KOL: "kol",
    AdvSegment.EMPLOYEE: "employee",
    AdvSegment.SOCIALITE: "consumer",
    AdvSegment.BIG_SPENDER: "consumer",
    AdvSegment.COUPON_HUNTER: "consumer",
    AdvSegment.FRAUD_RING: "consumer",
    AdvSegment.SELF_DEALER: "consumer",
    AdvSegment.ALT_ACCOUNT: "consumer",
}


@dataclass(frozen=True)
class Observability:
    """How much of what happened the event log shows.

    Attributes
    ----------
    view_log_rate
        Share of exposures (someone saw a share) written as a ``view`` event.
    token_keep_rate
        Share of caused orders that keep the share's token (the rest lose it: app
        switch, cleared cookies).
    coincidence_rate
        Probability that an organic online order placed within 7 days of an exposure
        carries that share's token although the share did not cause it.
    """

    view_log_rate: float
    token_keep_rate: float
    coincidence_rate: float


#: The observability levels: ``high`` (good logging) and ``low`` (a typical messy shop).
OBSERVABILITY: dict[str, Observability] = {
    "high": Observability(view_log_rate=0.7, token_keep_rate=0.85, coincidence_rate=0.25),
    "low": Observability(view_log_rate=0.3, token_keep_rate=0.55, coincidence_rate=0.45),
}


@dataclass(frozen=True)
class AdversarialParams:
    """Size, seed, observability and population shares of one adversarial world.

    Parameters
    ----------
    users : int
        Number of users (at least 200).
    seed : int
        Seed of every random draw; the same parameters give byte-identical files.
    observability : {"high", "low"}
        Logging level (:data:`OBSERVABILITY`).
    kol_fraction, employee_fraction, socialite_fraction, big_spender_fraction, \
coupon_fraction : float
        Population shares of the planted segments.
    undeclared_employee_share : float
        Share of employees whose user record does not say ``employee``; of these,
        ``undeclared_as_consumer`` carry ``role=consumer``, the rest ``unknown``.
    users_per_ring, users_per_self_dealer : int
        One fraud ring (4-8 accounts) per this many users, one self-dealer (with 1-3
        alt accounts) per this many users (at least 3 of each).
    mean_community_size, users_per_store : int
        Friend circles (log-normal sizes) and store neighbourhoods.
    mean_friends : float
        Mean friendship degree (log-normal, heavy-tailed).
    """

    users: int = 100_000
    seed: int = 0
    observability: str = "high"
    kol_fraction: float = 0.0005
    employee_fraction: float = 0.01
    socialite_fraction: float = 0.01
    big_spender_fraction: float = 0.01
    coupon_fraction: float = 0.005
    undeclared_employee_share: float = 0.5
    undeclared_as_consumer: float = 0.7
    users_per_ring: int = 5_000
    users_per_self_dealer: int = 5_000
    mean_community_size: int = 50
    users_per_store: int = 2_000
    mean_friends: float = 10.0

    @property
    def level(self) -> Observability:
        """The :class:`Observability` of :attr:`observability`."""
        return OBSERVABILITY[self.observability]

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a JSON-ready dict (for ``ground_truth.json``)."""
        return {
            **asdict(self),
            **asdict(self.level),
            "world": "adversarial",
            "window_start": WINDOW_START.isoformat(),
            "window_end": WINDOW_END.isoformat(),
            "observed_end": "2026-10-01T00:00:00+08:00",
            "holdout_month": HOLDOUT_MONTH,
            "months": list(MONTHS),
        }


def _a(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


#: Per-segment behaviour (index = :class:`AdvSegment` value).
#:                 REG    KOL    EMPL   SOCIAL BIG    COUPON RING   SELF   ALT
SHARES_PER_MONTH = _a(0.5, 4.0, 2.5, 3.0, 0.3, 0.5, 2.0, 5.0, 0.0)
#: Mean exposures per share as a multiple of the user's friends (KOL / employee: fixed counts).
AUDIENCE_OF_FRIENDS = _a(0.5, 0.0, 0.0, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0)
#: Organic orders per month (times the spend factor).
ORGANIC_PER_MONTH = _a(0.5, 0.4, 0.3, 0.5, 8.0, 0.3, 0.0, 0.2, 0.0)
#: Order amount multiplier (median 180 CNY).
AMOUNT_MULT = _a(1.0, 1.5, 1.0, 1.0, 5.0, 0.5, 1.0, 1.0, 1.0)
#: Probability of commenting on what one sees.
COMMENT_PROB = _a(0.04, 0.01, 0.3, 0.5, 0.03, 0.05, 0.0, 0.0, 0.0)
#: Probability that a viewer forwards content shown by this segment.
FORWARD_PROB = _a(0.03, 0.02, 0.01, 0.08, 0.02, 0.02, 0.0, 0.0, 0.0)
#: Median persuasiveness (chance that an exposed friend buys because of the share).
PERSUASION_MEDIAN = _a(0.01, 0.0003, 0.02, 0.0015, 0.0, 0.002, 0.0, 0.0, 0.0)
#: Friendship degree multiplier (socialites know many people).
FRIEND_MULT = _a(1.0, 1.0, 1.0, 5.0, 1.0, 1.5, 0.3, 0.5, 0.3)
