"""Evidence of caused conversions (:mod:`influence.evidence`) as Spark DataFrame transformations.

Spark computes the per-user *sums* of :func:`influence.evidence.conversion_evidence`
from the attributed orders (joins and group-bys over orders, user records and the
window's interaction edges); :func:`influence.evidence.finish_evidence` turns the
collected sums into the evidence (shrinkage toward the all-user mean, refund share,
flags), the same function the single-node code calls.

Exactness: every per-order quantity is the same IEEE double operation as in numpy
(strength ``token_repeat * untied_code``, ``strength * net``); the two float sums are
folded sequentially in the order numpy's ``bincount`` adds them (evidence buyers: a
user's distinct buyers in ascending buyer index; evidence GMV: the orders in read
order, ``seq``), so both engines give bit-equal values. All other sums are integers.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from graph.arrays import US_PER_DAY
from graph.events import EDGE_TYPE_CODES, EventType
from influence.config import EvidenceSection
from influence.engagement import RULE_REFERRAL, RULE_TOKEN, RULE_VIEW
from influence.evidence import EVIDENCE_RULES

__all__ = ["evidence_sums", "EVIDENCE_SUMS"]

#: Columns of :func:`evidence_sums` besides ``idx`` (the keys of
#: :func:`influence.evidence.finish_evidence`'s ``sums``).
EVIDENCE_SUMS: tuple[str, ...] = (
    "evidence_buyers",
    "evidence_gmv_units",
    "gross_units",
    "net_units",
    "orders",
    "staff_orders",
    "collusive_orders",
    *(f"buyers_{r}" for r in EVIDENCE_RULES),
    *(f"gmv_{r}_units" for r in EVIDENCE_RULES),
)

_REFERRAL = EDGE_TYPE_CODES[EventType.REFERRAL]


def _fold(items: Column) -> Column:
    """Sum of the ``v`` of structs ``(k, v)``, added one by one in ascending ``k``.

    Null items are skipped. This is the order in which numpy's ``bincount`` adds the
    weights of one bin, so the float sums are bit-equal.
    """
    ordered = F.array_sort(F.collect_list(items))
    return F.aggregate(ordered, F.lit(0.0), lambda acc, x: acc + x["v"])


def _item(key: str, value: str) -> Column:
    return F.struct(F.col(key).alias("k"), F.col(value).alias("v"))


def evidence_sums(
    attributed: DataFrame,
    *,
    users: DataFrame,
    edges: DataFrame,
    weights: EvidenceSection,
) -> DataFrame:
    """Per credited user, the sums :func:`influence.evidence.finish_evidence` needs.

    Parameters
    ----------
    attributed : pyspark.sql.DataFrame
        The window's orders from :func:`influence.spark.attribute_orders` with ``net``
        (:func:`influence.spark.net_order_units`): ``seq, buyer, ts, units, net,
        store_id, credited, rule, via_code``.
    users : pyspark.sql.DataFrame
        ``idx, device_hash, phone_hash`` (null = unknown).
    edges : pyspark.sql.DataFrame
        The window's edges ``src, dst, etype``: every non-referral edge between two
        users is a tie.
    weights : EvidenceSection
        ``[evidence]`` of the scoring configuration.

    Returns
    -------
    pyspark.sql.DataFrame
        ``idx`` plus :data:`EVIDENCE_SUMS`, for users with at least one credited order.
    """
    gap_us = int(weights.new_buyer_days * US_PER_DAY)
    by_buyer = Window.partitionBy("buyer").orderBy("ts", "seq")
    prev = F.lag("ts").over(by_buyer)
    orders = attributed.withColumn("new", prev.isNull() | (F.col("ts") - prev > F.lit(gap_us)))
    hit = orders.where(F.col("credited").isNotNull() & F.col("buyer").isNotNull())
    # ties: any view, forward or comment between the two users, either direction
    ties = (
        edges.where((F.col("etype") != _REFERRAL) & (F.col("src") != F.col("dst")))
        .select(F.least("src", "dst").alias("lo"), F.greatest("src", "dst").alias("hi"))
        .distinct()
        .withColumn("tied", F.lit(True))
    )
    hit = hit.join(
        ties,
        (F.least("buyer", "credited") == F.col("lo"))
        & (F.greatest("buyer", "credited") == F.col("hi")),
        "left",
    ).drop("lo", "hi")
    # collusion: the buyer shares a device or phone with the credited user, or they credit
    # each other
    ident_b = users.select(
        F.col("idx").alias("buyer"),
        F.col("device_hash").alias("b_dev"),
        F.col("phone_hash").alias("b_ph"),
    )
    ident_c = users.select(
        F.col("idx").alias("credited"),
        F.col("device_hash").alias("c_dev"),
        F.col("phone_hash").alias("c_ph"),
    )
    mutual = (
        hit.select(F.col("credited").alias("buyer"), F.col("buyer").alias("credited"))
        .distinct()
        .withColumn("mutual", F.lit(True))
    )
    hit = (
        hit.join(ident_b, "buyer", "left")
        .join(ident_c, "credited", "left")
        .join(mutual, ["buyer", "credited"], "left")
    )
    same = (F.col("b_dev").isNotNull() & (F.col("b_dev") == F.col("c_dev"))) | (
        F.col("b_ph").isNotNull() & (F.col("b_ph") == F.col("c_ph"))
    )
    collusive = F.coalesce(same, F.lit(False)) | F.col("mutual").isNotNull()
    token = F.col("rule") == RULE_TOKEN
    via_code = F.col("via_code")
    staff = token & via_code & F.col("store_id").isNotNull()
    base = (
        F.when(
            token, F.when(F.col("new"), F.lit(weights.token_new)).otherwise(weights.token_repeat)
        )
        .when(F.col("rule") == RULE_VIEW, F.lit(weights.view))
        .when(F.col("rule") == RULE_REFERRAL, F.lit(weights.referral))
        .otherwise(F.lit(0.0))
    )
    untied = ((token & via_code) | (F.col("rule") == RULE_REFERRAL)) & F.col("tied").isNull()
    strength = F.when(staff | collusive, F.lit(0.0)).otherwise(
        F.when(untied, base * F.lit(weights.untied_code)).otherwise(base)
    )
    scored = hit.select(
        "seq",
        "buyer",
        F.col("credited").alias("idx"),
        "rule",
        "via_code",
        F.col("units").alias("gross"),
        "net",
        strength.alias("s"),
        staff.alias("staff"),
        collusive.alias("collusive"),
    ).withColumn("sv", F.col("s") * F.col("net").cast("double"))
    kinds = {
        "token": token & ~via_code,
        "code": token & via_code,
        "view": F.col("rule") == RULE_VIEW,
        "referral": F.col("rule") == RULE_REFERRAL,
    }
    pair = scored.groupBy("idx", "buyer").agg(
        F.max("s").alias("s_max"),
        *(F.max(F.when(mask, 1).otherwise(0)).alias(f"has_{r}") for r, mask in kinds.items()),
    )
    per_pair = pair.groupBy("idx").agg(
        _fold(F.when(F.col("s_max") > 0, _item("buyer", "s_max"))).alias("evidence_buyers"),
        *(F.sum(f"has_{r}").cast("double").alias(f"buyers_{r}") for r in kinds),
    )
    per_order = scored.groupBy("idx").agg(
        _fold(_item("seq", "sv")).alias("evidence_gmv_units"),
        F.sum("gross").alias("gross_units"),
        F.sum("net").alias("net_units"),
        F.count("*").alias("orders"),
        F.sum(F.col("staff").cast("long")).alias("staff_orders"),
        F.sum(F.col("collusive").cast("long")).alias("collusive_orders"),
        *(
            F.sum(F.when(mask, F.col("net")).otherwise(F.lit(0))).alias(f"gmv_{r}_units")
            for r, mask in kinds.items()
        ),
    )
    return per_order.join(per_pair, "idx").select("idx", *EVIDENCE_SUMS)
