"""Orders of the adversarial world: every order knows who (if anyone) caused it.

An order's **cause** is the user without whose share or invitation it would not have
happened (but-for); organic orders, coincidental tokens, store orders keyed with a
sales guide's code and fraud have none. Its **token** is what the shop records: a
share's content id or a referral code ``ref-<user_id>``, true or not. The ground
truth is the caused GMV net of refunds per user and month (month of the order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.synth._adv_params import AMOUNT_MULT, OBSERVED_END_S
from graph.synth._orders import MEDIAN_AMOUNT_CENTS
from graph.synth._time import END_S, later, month_index
from graph.synth._writer import TypeSink, money, prefixed_ids, take_ids

__all__ = ["OrderKind", "OrderLog", "order_cents"]


class OrderKind:
    """Why an order exists (ground-truth diagnostics)."""

    ORGANIC = 0
    CAUSED_SHARE = 1
    STORE_CODE = 2
    COINCIDENCE = 3
    REFERRAL = 4
    COUPON = 5
    FRAUD_RING = 6
    SELF_DEALING = 7
    NAMES = (
        "organic",
        "caused_share",
        "store_code",
        "coincidence",
        "referral",
        "coupon",
        "fraud_ring",
        "self_dealing",
    )


def order_cents(
    rng: np.random.Generator, buyer_segment: np.ndarray, scale: float = 1.0
) -> np.ndarray:
    """Amounts in cents: log-normal around 180 CNY times the buyer's segment multiplier."""
    raw = rng.lognormal(np.log(MEDIAN_AMOUNT_CENTS), 0.7, buyer_segment.shape[0])
    return np.maximum(100, (raw * AMOUNT_MULT[buyer_segment] * scale).astype(np.int64))


@dataclass
class OrderLog:
    """All orders of the world, appended group by group, then refunded and written."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(
        self,
        *,
        buyer: np.ndarray,
        ts: np.ndarray,
        cents: np.ndarray,
        kind: int,
        cause: np.ndarray | None = None,
        token_content: np.ndarray | None = None,
        token_ref: np.ndarray | None = None,
        store: np.ndarray | None = None,
        refund_prob: float = 0.05,
    ) -> None:
        """Queue orders (those past the window end are dropped)."""
        k = buyer.shape[0]
        none = np.full(k, -1, dtype=np.int64)
        part: dict[str, np.ndarray] = {
            "buyer": buyer.astype(np.int64),
            "ts": ts.astype(np.int64),
            "cents": cents.astype(np.int64),
            "kind": np.full(k, kind, dtype=np.int8),
            "cause": none if cause is None else cause.astype(np.int64),
            "token_content": none if token_content is None else token_content.astype(np.int64),
            "token_ref": none if token_ref is None else token_ref.astype(np.int64),
            "store": none if store is None else store.astype(np.int64),
            "refund_prob": np.full(k, refund_prob),
        }
        keep = part["ts"] < END_S - 3_600
        self.parts.append({key: v[keep] for key, v in part.items()})

    def finish(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Concatenate, order by time, number and draw refunds (amount, time)."""
        cols = {key: np.concatenate([p[key] for p in self.parts]) for key in self.parts[0]}
        order = np.lexsort((cols["buyer"], cols["ts"]))
        cols = {key: v[order] for key, v in cols.items()}
        k = cols["ts"].shape[0]
        refunded = rng.random(k) < cols["refund_prob"]
        full = (rng.random(k) < 0.7) | (cols["refund_prob"] > 0.5)
        share = rng.uniform(0.1, 0.9, k)
        r_cents = np.where(full, cols["cents"], np.maximum(1, cols["cents"] * share))
        cols["refund_cents"] = np.where(refunded, r_cents.astype(np.int64), 0)
        cols["refund_ts"] = later(rng, cols["ts"], minimum=600, mean=4 * 86_400.0)
        cols["number"] = np.arange(1, k + 1, dtype=np.int64)
        return cols

    @staticmethod
    def tokens(cols: dict[str, np.ndarray], ids: pa.Array) -> pa.Array:
        """The shop's ``attribution_token`` of each order (content id, referral code or null)."""
        content = cols["token_content"]
        ref = cols["token_ref"]
        c = pc.binary_join_element_wise(
            pa.scalar("c"), pc.cast(pa.array(np.maximum(content, 0)), pa.string()), ""
        )
        r = pc.binary_join_element_wise(pa.scalar("ref-"), take_ids(ids, np.maximum(ref, 0)), "")
        out = pc.if_else(pa.array(content >= 0), c, pa.scalar(None, pa.string()))
        return pc.if_else(pa.array(ref >= 0), r, out)

    @staticmethod
    def write(
        cols: dict[str, np.ndarray],
        ids: pa.Array,
        store_ids: pa.Array,
        orders: TypeSink,
        refunds: TypeSink,
    ) -> tuple[int, int]:
        """Write the observed orders and refunds (before the held-out month)."""
        seen = cols["ts"] < OBSERVED_END_S
        order_ids = prefixed_ids("o", cols["number"][seen])
        orders.write(
            {
                "order_id": order_ids,
                "buyer": take_ids(ids, cols["buyer"][seen]),
                "amount": money(cols["cents"][seen]),
                "currency": pa.repeat(pa.scalar("CNY"), int(seen.sum())),
                "ts": cols["ts"][seen],
                "attribution_token": OrderLog.tokens(cols, ids).filter(pa.array(seen)),
                "store_id": take_ids(store_ids, cols["store"][seen]),
            }
        )
        ref = seen & (cols["refund_cents"] > 0) & (cols["refund_ts"] < OBSERVED_END_S)
        refunds.write(
            {
                "order_id": prefixed_ids("o", cols["number"][ref]),
                "amount": money(cols["refund_cents"][ref]),
                "ts": cols["refund_ts"][ref],
                "refund_id": prefixed_ids("r", cols["number"][ref]),
            }
        )
        return int(seen.sum()), int(ref.sum())

    @staticmethod
    def caused_cents(cols: dict[str, np.ndarray], n_users: int, n_months: int) -> np.ndarray:
        """Caused GMV net of refunds, cents, per (cause user, month of the order)."""
        hit = cols["cause"] >= 0
        flat = cols["cause"][hit] * n_months + month_index(cols["ts"][hit])
        net = (cols["cents"] - cols["refund_cents"])[hit]
        out = np.bincount(flat, weights=net.astype(np.float64), minlength=n_users * n_months)
        return np.rint(out).astype(np.int64).reshape(n_users, n_months)
