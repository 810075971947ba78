"""The user's own spend as RFM: recency, frequency and monetary value over the window.

RFM (recency, frequency, monetary) segmentation goes back to direct marketing
(Hughes, *Strategic Database Marketing*, 1994; Fader, Hardie and Lee, "RFM and CLV:
Using Iso-Value Curves for Customer Base Analysis", J. Marketing Research 42(4), 2005).

For each user with at least one order in the window:

* **recency** :math:`R` = days from the last order to the reference time ``now``
  (smaller is better),
* **frequency** :math:`F` = number of orders,
* **monetary** :math:`M` = gross order value minus refunds of those orders (exact decimal).

The RFM value is the weighted mean of the three percentile ranks
(:func:`influence.score.percentile_rank`; recency ranked on :math:`-R`), with weights
``w_R, w_F, w_M`` from the ``[spend]`` config section; users without orders get 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pyarrow as pa

from graph.arrays import US_PER_DAY, node_index
from graph.errors import ParameterError
from graph.money import to_units
from graph.params import Interval, validate_params
from influence.score import percentile_rank

__all__ = ["RFM", "rfm_from_spend", "rfm_value"]


@dataclass(frozen=True)
class RFM:
    """RFM inputs per user (node order).

    Attributes
    ----------
    buyer : numpy.ndarray of bool
        The user has an order in the window.
    recency_days : numpy.ndarray of float64
        Days since the last order (``nan`` for non-buyers).
    frequency : numpy.ndarray of int64
    monetary_units : numpy.ndarray of int64
        Net spend in units of ``10**-4`` (exact).
    """

    buyer: np.ndarray
    recency_days: np.ndarray
    frequency: np.ndarray
    monetary_units: np.ndarray


def rfm_from_spend(spend: pa.Table, node_ids: np.ndarray, now_us: int) -> RFM:
    """Arrange the store's spend table (:meth:`graph.store.GraphStore.read_spend`) by node.

    Parameters
    ----------
    spend : pyarrow.Table
        Columns ``user_id``, ``orders``, ``net``, ``last_order_ts``.
    node_ids : numpy.ndarray
        ``user_id`` of each node.
    now_us : int
        Reference time (epoch microseconds), usually the end of the window.

    Returns
    -------
    RFM
    """
    n = len(node_ids)
    idx = node_index(node_ids, spend.column("user_id"))
    keep = idx >= 0
    idx = idx[keep]
    buyer = np.zeros(n, dtype=bool)
    buyer[idx] = True
    frequency = np.zeros(n, dtype=np.int64)
    frequency[idx] = np.asarray(spend.column("orders").to_numpy(), dtype=np.int64)[keep]
    monetary = np.zeros(n, dtype=np.int64)
    monetary[idx] = to_units(spend.column("net"))[keep]
    last = spend.column("last_order_ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    recency = np.full(n, np.nan, dtype=np.float64)
    recency[idx] = (now_us - np.asarray(last.to_numpy(), dtype=np.int64)[keep]) / US_PER_DAY
    return RFM(buyer=buyer, recency_days=recency, frequency=frequency, monetary_units=monetary)


@validate_params(
    {
        "recency": [Interval(Real, 0, None)],
        "frequency": [Interval(Real, 0, None)],
        "monetary": [Interval(Real, 0, None)],
    }
)
def rfm_value(
    rfm: RFM, *, recency: float = 1.0, frequency: float = 1.0, monetary: float = 1.0
) -> np.ndarray:
    """Weighted mean of the R, F and M percentile ranks (0 for users without orders).

    Parameters
    ----------
    rfm : RFM
    recency, frequency, monetary : float
        Non-negative weights, not all zero.

    Raises
    ------
    ParameterError
        For a negative weight, or when all three are zero.

    Returns
    -------
    numpy.ndarray of float64 in [0, 1]
    """
    if recency + frequency + monetary <= 0:
        raise ParameterError(
            "The 'recency', 'frequency' and 'monetary' weights of rfm_value must not all be 0.",
            parameter="recency",
        )
    b = rfm.buyer
    r = percentile_rank(-np.nan_to_num(rfm.recency_days, nan=0.0), active=b)
    f = percentile_rank(rfm.frequency.astype(np.float64), active=b)
    # a buyer whose orders were all refunded still ranks (at the bottom), above non-buyers
    m = percentile_rank(rfm.monetary_units.astype(np.float64), active=b)
    return (recency * r + frequency * f + monetary * m) / (recency + frequency + monetary)
