"""Orders, refunds and the ground-truth credit of referred revenue.

Every generated order knows, besides its buyer, whom the generator *made* it
happen for (``credit``): the user whose share or forward the buyer viewed, or
whose invitation the buyer accepted. That credit, net of refunds and counted
in the month of the order (China time), is the true referred GMV of
``ground_truth_users.parquet``. Orders the buyer would have placed anyway
(organic and repeat purchases) credit nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from graph.synth._params import BEHAVIOUR, MONTHS
from graph.synth._time import END_S, later, month_index
from graph.synth._writer import TypeSink, money, prefixed_ids, take_ids

__all__ = ["MEDIAN_AMOUNT_CENTS", "amounts", "OrderBuffer", "Credit"]

#: Median order amount: 180.00 CNY.
MEDIAN_AMOUNT_CENTS = 18_000
#: Orders must leave room for a refund inside the window.
_LAST_ORDER_S = END_S - 3_600


def amounts(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    """Order amounts in cents: log-normal around 180 CNY, scaled per buyer segment."""
    raw = rng.lognormal(np.log(MEDIAN_AMOUNT_CENTS), 0.7, segment.shape[0])
    return np.maximum(100, (raw * BEHAVIOUR.amount_mult[segment]).astype(np.int64))


@dataclass
class Credit:
    """Accumulated true referred GMV (cents) and orders per user and month."""

    n: int
    cents: np.ndarray = field(init=False)
    orders: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cents = np.zeros((self.n, len(MONTHS)), dtype=np.int64)
        self.orders = np.zeros(self.n, dtype=np.int64)

    def add(self, user: np.ndarray, ts: np.ndarray, cents: np.ndarray, *, count: bool) -> None:
        """Add ``cents`` (negative for refunds) to ``user`` in the month of ``ts``."""
        keep = user >= 0
        if not keep.any():
            return
        flat = user[keep] * len(MONTHS) + month_index(ts[keep])
        total = np.bincount(flat, weights=cents[keep], minlength=self.cents.size)
        self.cents += np.rint(total).astype(np.int64).reshape(self.cents.shape)
        if count:
            self.orders += np.bincount(user[keep], minlength=self.n)


class OrderBuffer:
    """Collects one chunk's orders, then writes them with their refunds.

    ``token`` is an Arrow string array (or None), ``store`` a store index or -1,
    ``credit`` the credited user index or -1.
    """

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._tokens: list[pa.Array] = []

    def add(
        self,
        buyer: np.ndarray,
        ts: np.ndarray,
        cents: np.ndarray,
        token: pa.Array | None,
        store: np.ndarray,
        credit: np.ndarray,
    ) -> None:
        """Queue orders (rows past the last order time are dropped)."""
        keep = ts < _LAST_ORDER_S
        if token is None:
            token = pa.nulls(buyer.shape[0], pa.string())
        self._parts.append((buyer[keep], ts[keep], cents[keep], store[keep], credit[keep]))
        self._tokens.append(token.filter(pa.array(keep)))

    def flush(
        self,
        rng: np.random.Generator,
        *,
        first_number: int,
        refund_rate: float,
        user_ids: pa.Array,
        store_ids: pa.Array,
        orders: TypeSink,
        refunds: TypeSink,
        credit: Credit,
    ) -> int:
        """Number, write and refund the queued orders; returns how many were written."""
        if not self._parts:
            return 0
        buyer, ts, cents, store, who = (np.concatenate(c) for c in zip(*self._parts, strict=True))
        token = pa.concat_arrays(self._tokens)
        self._parts, self._tokens = [], []
        k = buyer.shape[0]
        number = first_number + np.arange(k, dtype=np.int64)
        order_ids = prefixed_ids("o", number)
        orders.write(
            {
                "order_id": order_ids,
                "buyer": take_ids(user_ids, buyer),
                "amount": money(cents),
                "currency": pa.repeat(pa.scalar("CNY"), k),
                "ts": ts,
                "attribution_token": token,
                "store_id": take_ids(store_ids, store),
            }
        )
        credit.add(who, ts, cents.astype(np.float64), count=True)

        refunded = np.flatnonzero(rng.random(k) < refund_rate)
        full = rng.random(refunded.shape[0]) < 0.7
        share = rng.uniform(0.1, 0.9, refunded.shape[0])
        r_cents = np.where(full, cents[refunded], np.maximum(1, (cents[refunded] * share)))
        r_cents = np.minimum(r_cents.astype(np.int64), cents[refunded])
        r_ts = np.minimum(later(rng, ts[refunded], minimum=600, mean=5 * 86_400.0), END_S - 1)
        refunds.write(
            {
                "order_id": order_ids.take(pa.array(refunded)),
                "amount": money(r_cents),
                "ts": r_ts,
                "refund_id": prefixed_ids("r", number[refunded]),
            }
        )
        credit.add(who[refunded], ts[refunded], -r_cents.astype(np.float64), count=False)
        return k
