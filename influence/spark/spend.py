"""The RFM inputs of each buyer (:func:`influence.spend.rfm_from_spend`) on Spark.

Recency, frequency and monetary value over the window's orders (Hughes 1994;
Fader, Hardie, Lee 2005); the percentile ranks that turn them into the RFM value
are :func:`influence.spend.rfm_value`, applied to the collected per-user table.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from graph.arrays import US_PER_DAY

__all__ = ["rfm_inputs"]


def rfm_inputs(net_orders: DataFrame, now_us: int) -> DataFrame:
    """Per buyer: orders, net spend and days since the last order.

    Parameters
    ----------
    net_orders : pyspark.sql.DataFrame
        The window's orders with ``net`` (:func:`influence.spark.net_order_units`).
    now_us : int
        Reference time (epoch microseconds).

    Returns
    -------
    pyspark.sql.DataFrame
        ``idx, frequency, monetary_units, recency_days``.
    """
    return net_orders.groupBy(F.col("buyer").alias("idx")).agg(
        F.count("*").alias("frequency"),
        F.sum("net").alias("monetary_units"),
        ((F.lit(now_us) - F.max("ts")) / F.lit(US_PER_DAY)).alias("recency_days"),
    )
