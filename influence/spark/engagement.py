"""Engagement signals and order attribution as Spark DataFrame transformations.

The rules, precedence and tie-breaks of :mod:`influence.engagement`, written with
joins, group-bys and window functions instead of sorted numpy arrays:

* "the latest item at or before t" (the sharer of the latest share of a token's
  content, a buyer's last view) is a window over the union of items and queries,
  ordered by ``(ts, items before queries, seq)``, taking the last item: equal times
  resolve to the item read last, as in
  :func:`influence.engagement.last_at_or_before`;
* a referee's binding referral is the earliest non-self referral by ``(ts, event_id)``,
  as in :func:`graph.referrals.first_referrers`.

Money stays in exact ``int64`` units of ``10**-4``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from graph.events import EDGE_TYPE_CODES, EventType
from influence.engagement import RULE_NONE, RULE_REFERRAL, RULE_TOKEN, RULE_VIEW

__all__ = [
    "last_at_or_before",
    "first_referrals",
    "net_order_units",
    "attribute_orders",
    "conversion_totals",
    "engagement_signals",
]

_VIEW = EDGE_TYPE_CODES[EventType.VIEW]
_FORWARD = EDGE_TYPE_CODES[EventType.FORWARD]
_COMMENT = EDGE_TYPE_CODES[EventType.COMMENT]
_REFERRAL = EDGE_TYPE_CODES[EventType.REFERRAL]


def last_at_or_before(items: DataFrame, queries: DataFrame, payload: list[str]) -> DataFrame:
    """For each query, the latest item of its group at or before the query's time.

    Parameters
    ----------
    items : pyspark.sql.DataFrame
        ``g, ts, seq`` plus the ``payload`` columns. Equal ``(g, ts)``: the item
        with the larger ``seq`` wins.
    queries : pyspark.sql.DataFrame
        ``qid, g, ts``.
    payload : list of str
        Item columns to return.

    Returns
    -------
    pyspark.sql.DataFrame
        ``qid, hit``: ``hit`` is a struct ``(ts, *payload)`` of the item, or null.
    """
    item = F.struct(F.col("ts").alias("ts"), *(F.col(c) for c in payload))
    it = items.select("g", "ts", F.lit(0).alias("kind"), "seq", item.alias("hit"))
    it = it.withColumn("qid", F.lit(None).cast("long"))
    hit_type = it.schema["hit"].dataType
    q = queries.select(
        "g",
        "ts",
        F.lit(1).alias("kind"),
        F.lit(None).cast("long").alias("seq"),
        F.lit(None).cast(hit_type).alias("hit"),
        "qid",
    )
    w = (
        Window.partitionBy("g")
        .orderBy("ts", "kind", "seq")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    both = it.unionByName(q)
    return both.select("qid", F.last("hit", ignorenulls=True).over(w).alias("hit")).where(
        F.col("qid").isNotNull()
    )


def first_referrals(edges: DataFrame) -> DataFrame:
    """The binding referral of each referee (:mod:`graph.referrals`): self-referrals left
    out, the earliest ``ts``, then the smallest ``event_id`` (then ``seq``).

    Returns
    -------
    pyspark.sql.DataFrame
        ``referee, referrer, ts``.
    """
    w = Window.partitionBy("dst").orderBy("ts", "event_id", "seq")
    return (
        edges.where((F.col("etype") == _REFERRAL) & (F.col("src") != F.col("dst")))
        .withColumn("_n", F.row_number().over(w))
        .where(F.col("_n") == 1)
        .select(F.col("dst").alias("referee"), F.col("src").alias("referrer"), "ts")
    )


def net_order_units(orders: DataFrame, refunds: DataFrame) -> DataFrame:
    """``orders`` with ``net``: amount minus its refunds (all of them, capped at the amount)."""
    per_order = refunds.groupBy("order_id").agg(F.sum("units").alias("_refunded"))
    refunded = F.least(F.coalesce(F.col("_refunded"), F.lit(0)), F.col("units"))
    return (
        orders.join(per_order, "order_id", "left")
        .withColumn("net", F.col("units") - refunded)
        .drop("_refunded")
    )


def _first_valid(buyer: Column, *candidates: tuple[Column, int]) -> tuple[Column, Column]:
    credited: Column | None = None
    rule: Column | None = None
    for cand, code in candidates:
        ok = cand.isNotNull() & (cand != buyer)
        credited = F.when(ok, cand) if credited is None else credited.when(ok, cand)
        rule = F.when(ok, F.lit(code)) if rule is None else rule.when(ok, F.lit(code))
    assert credited is not None and rule is not None
    return credited, rule.otherwise(F.lit(RULE_NONE))


def attribute_orders(
    orders: DataFrame,
    *,
    shares: DataFrame,
    edges: DataFrame,
    users: DataFrame,
    use_token: bool,
    referral_code_prefix: str,
    view_window_us: int,
    referral_window_us: int,
) -> DataFrame:
    """Credit each order to a sharer or referrer (:func:`influence.engagement.attribute_orders`).

    Parameters
    ----------
    orders : pyspark.sql.DataFrame
        ``seq, buyer, ts, attribution_token`` (plus any other columns, kept).
    shares, edges : pyspark.sql.DataFrame
        The window's shares and edges (see :mod:`influence.spark`).
    users : pyspark.sql.DataFrame
        ``idx, user_id``: resolves referral-code tokens.
    use_token, referral_code_prefix, view_window_us, referral_window_us
        The ``[attribution]`` settings (windows in microseconds, inclusive).

    Returns
    -------
    pyspark.sql.DataFrame
        ``orders`` plus ``credited`` (node index or null), ``rule``
        (:data:`influence.engagement.RULE_TOKEN` ...) and ``via_code`` (the token
        named a referral code, not a share's content id).
    """
    o = orders.alias("o")
    queries = orders.select(F.col("seq").alias("qid"), F.col("ts"))
    if use_token:
        tq = orders.where(F.col("attribution_token").isNotNull()).select(
            F.col("seq").alias("qid"), F.col("attribution_token").alias("g"), "ts"
        )
        items = shares.select(
            F.col("content_id").alias("g"), "ts", "seq", F.col("src").alias("sharer")
        )
        tok = last_at_or_before(items, tq, ["sharer"]).select(
            "qid", F.col("hit.sharer").alias("content_sharer")
        )
        queries = queries.join(tok, "qid", "left")
        if referral_code_prefix:
            n = len(referral_code_prefix)
            codes = orders.where(
                F.col("attribution_token").startswith(referral_code_prefix)
            ).select(
                F.col("seq").alias("qid"),
                F.expr(f"substring(attribution_token, {n + 1})").alias("user_id"),
            )
            code_user = codes.join(users, "user_id").select("qid", F.col("idx").alias("code_user"))
            queries = queries.join(code_user, "qid", "left")
        else:
            queries = queries.withColumn("code_user", F.lit(None).cast("long"))
        queries = queries.withColumn(
            "token_cand", F.coalesce(F.col("content_sharer"), F.col("code_user"))
        ).withColumn("via_code", F.col("content_sharer").isNull() & F.col("code_user").isNotNull())
    else:
        queries = queries.withColumn("token_cand", F.lit(None).cast("long")).withColumn(
            "via_code", F.lit(False)
        )
    # last view of the buyer (not of their own share) at or before the order
    views = edges.where((F.col("etype") == _VIEW) & (F.col("src") != F.col("dst"))).select(
        F.col("dst").alias("g"), "ts", "seq", F.col("src").alias("sharer")
    )
    vq = orders.select(F.col("seq").alias("qid"), F.col("buyer").alias("g"), "ts")
    last_view = last_at_or_before(views, vq, ["sharer"]).select(
        "qid", F.col("hit.ts").alias("view_ts"), F.col("hit.sharer").alias("view_sharer")
    )
    queries = queries.join(last_view, "qid", "left").withColumn(
        "view_cand",
        F.when(F.col("ts") - F.col("view_ts") <= F.lit(view_window_us), F.col("view_sharer")),
    )
    # the buyer's first referral, if the order falls within the referral window after it
    first = first_referrals(edges)
    ref = (
        orders.join(first, orders["buyer"] == first["referee"])
        .where(
            (orders["ts"] >= first["ts"])
            & (orders["ts"] - first["ts"] <= F.lit(referral_window_us))
        )
        .select(F.col("seq").alias("qid"), F.col("referrer").alias("ref_cand"))
    )
    queries = queries.join(ref, "qid", "left").select(
        "qid", "token_cand", "via_code", "view_cand", "ref_cand"
    )
    joined = o.join(queries, o["seq"] == queries["qid"], "left")
    credited, rule = _first_valid(
        F.col("o.buyer"),
        (F.col("token_cand"), RULE_TOKEN),
        (F.col("view_cand"), RULE_VIEW),
        (F.col("ref_cand"), RULE_REFERRAL),
    )
    return joined.select("o.*", credited.alias("credited"), rule.alias("rule"), F.col("via_code"))


def conversion_totals(attributed: DataFrame) -> DataFrame:
    """Per credited user: ``conversions``, ``attributed_gmv_units``, ``token_gmv_units``.

    Parameters
    ----------
    attributed : pyspark.sql.DataFrame
        Output of :func:`attribute_orders` with ``net`` (:func:`net_order_units`).

    Returns
    -------
    pyspark.sql.DataFrame
        ``idx`` plus the three totals (users with at least one credited order).
    """
    return (
        attributed.where(F.col("credited").isNotNull())
        .groupBy(F.col("credited").alias("idx"))
        .agg(
            F.count("*").alias("conversions"),
            F.sum("net").alias("attributed_gmv_units"),
            F.sum(F.when(F.col("rule") == RULE_TOKEN, F.col("net")).otherwise(0)).alias(
                "token_gmv_units"
            ),
        )
    )


def engagement_signals(edges: DataFrame, shares: DataFrame, orders: DataFrame) -> DataFrame:
    """Engagement counts per user (:func:`influence.engagement.engagement_signals`).

    Parameters
    ----------
    edges, shares, orders : pyspark.sql.DataFrame
        The window's edges (self-loops included), shares and orders.

    Returns
    -------
    pyspark.sql.DataFrame
        ``idx, comments_received, forwards_received, shares_made, unique_audience,
        referrals_made, referrals_converted`` for every user with a non-zero count
        (missing users have 0 everywhere).
    """
    by_src = edges.groupBy(F.col("src").alias("idx")).agg(
        F.sum(F.when(F.col("etype") == _COMMENT, 1).otherwise(0)).alias("comments_received"),
        F.sum(F.when(F.col("etype") == _FORWARD, 1).otherwise(0)).alias("forwards_received"),
        F.countDistinct("dst").alias("unique_audience"),
        F.countDistinct(F.when(F.col("etype") == _REFERRAL, F.col("dst"))).alias("referrals_made"),
    )
    made = shares.groupBy(F.col("src").alias("idx")).agg(F.count("*").alias("shares_made"))
    last_order = orders.groupBy(F.col("buyer").alias("referee")).agg(F.max("ts").alias("last_ts"))
    first = first_referrals(edges)
    converted = (
        first.join(last_order, "referee")
        .where(F.col("last_ts") >= F.col("ts"))
        .groupBy(F.col("referrer").alias("idx"))
        .agg(F.count("*").alias("referrals_converted"))
    )
    return by_src.join(made, "idx", "full").join(converted, "idx", "full")
