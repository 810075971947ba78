"""The Parquet lake: the store's users, events, orders and refunds as partitioned Parquet.

This is the layout the distributed ranking (``koc rank --engine spark``, the
``api.spark_job`` entry point) reads, on local disk or object storage::

    DIR/manifest.json                    format, watermark, row counts
    DIR/users/part-0.parquet             idx, user_id, role, device_hash, phone_hash
    DIR/events/type=<t>/part-0.parquet   seq, event_id, src, dst, ts, content_id
    DIR/orders/month=YYYY-MM/...         seq, event_id, order_id, buyer, amount, currency,
                                         ts, attribution_token, store_id
    DIR/refunds/month=YYYY-MM/...        seq, event_id, refund_id, order_id, amount, ts

Users are numbered by ``idx`` (the store's node index, the key the HyperANF hash
and every join use); ``src``, ``dst`` and ``buyer`` are such indices. Events are
partitioned by type (``view``, ``forward``, ``comment``, ``referral``: ``src``
influences ``dst`` as in :data:`graph.events.INFLUENCE_DIRECTION`; ``share``: ``src``
is the sharer and ``dst`` is null), orders and refunds by UTC month of ``ts``.
``seq`` is the position in the store's read order (views, forwards, comments: the
snapshot's edge order; referrals, shares, orders, refunds: ``(ts, event_id)``
order) and breaks ties between equal timestamps exactly as the single-node
pipeline does; a referee's binding referral is the earliest by ``(ts, event_id)``. Money is ``decimal(20, 4)``,
times are ``timestamp[us, UTC]``. A lake produced by other tools must follow the
same schema (``LAKE_SCHEMAS``).

:func:`export_lake` writes it through the :class:`graph.store.GraphStore` protocol
(any store); :func:`read_lake` opens it as Spark DataFrames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from graph.errors import StoreError
from graph.events import EDGE_TYPES, EventType
from graph.money import AMOUNT_SCALE
from graph.store import GraphStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["LAKE_FORMAT", "LAKE_SCHEMAS", "LakeSummary", "Lake", "export_lake", "read_lake"]

#: Version of the layout, recorded in ``manifest.json``.
LAKE_FORMAT = "koc-lake/1"

_TS = pa.timestamp("us", tz="UTC")
_MONEY = pa.decimal128(20, 4)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Schema of each table (partition columns excluded).
LAKE_SCHEMAS: dict[str, pa.Schema] = {
    "users": pa.schema(
        [
            ("idx", pa.int64()),
            ("user_id", pa.string()),
            ("role", pa.string()),
            ("device_hash", pa.string()),
            ("phone_hash", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("seq", pa.int64()),
            ("event_id", pa.string()),
            ("src", pa.int64()),
            ("dst", pa.int64()),
            ("ts", _TS),
            ("content_id", pa.string()),
        ]
    ),
    "orders": pa.schema(
        [
            ("seq", pa.int64()),
            ("event_id", pa.string()),
            ("order_id", pa.string()),
            ("buyer", pa.int64()),
            ("amount", _MONEY),
            ("currency", pa.string()),
            ("ts", _TS),
            ("attribution_token", pa.string()),
            ("store_id", pa.string()),
        ]
    ),
    "refunds": pa.schema(
        [
            ("seq", pa.int64()),
            ("event_id", pa.string()),
            ("refund_id", pa.string()),
            ("order_id", pa.string()),
            ("amount", _MONEY),
            ("ts", _TS),
        ]
    ),
}


_EVENTS_PARTITIONED = LAKE_SCHEMAS["events"].append(pa.field("type", pa.string()))


@dataclass(frozen=True)
class LakeSummary:
    """What :func:`export_lake` wrote.

    Attributes
    ----------
    directory : pathlib.Path
    rows : dict of str to int
        Rows per table (``events`` per type as ``events.<type>``).
    watermark : datetime or None
        Latest event time in the store.
    """

    directory: Path
    rows: dict[str, int]
    watermark: datetime | None


def _index(node_ids: pa.Array, column: pa.ChunkedArray) -> pa.Array:
    return pc.index_in(column, value_set=node_ids).cast(pa.int64())


def _month(ts: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.strftime(ts, format="%Y-%m")


def _write(table: pa.Table, path: Path, partition: str) -> None:
    if table.num_rows == 0:  # no partitions to write: one empty file keeps the schema readable
        path.mkdir(parents=True, exist_ok=True)
        for old in path.rglob("*.parquet"):
            old.unlink()
        pq.write_table(table, path / "part-0.parquet")
        return
    ds.write_dataset(
        table,
        path,
        format="parquet",
        partitioning=[partition],
        partitioning_flavor="hive",
        existing_data_behavior="delete_matching",
        basename_template="part-{i}.parquet",
    )


def export_lake(store: GraphStore, directory: Path | str) -> LakeSummary:
    """Write the store's users, events, orders and refunds as the Parquet lake.

    Parameters
    ----------
    store : graph.store.GraphStore
        Any store (read through the protocol).
    directory : path
        Target folder; each table's partitions are replaced, other files are kept.

    Returns
    -------
    LakeSummary
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    node_ids = pa.array(store.node_ids(), type=pa.string())
    rows: dict[str, int] = {}
    # declared roles and identity hashes of user records; users only seen in events have none
    declared = store.read_events(EventType.USER)
    pos = pc.index_in(node_ids, value_set=declared.column("user_id"))
    users = pa.table(
        {
            "idx": pa.array(np.arange(len(node_ids)), pa.int64()),
            "user_id": node_ids,
            **{
                name: pc.take(declared.column(name).combine_chunks(), pos)
                for name in ("role", "device_hash", "phone_hash")
            },
        },
        schema=LAKE_SCHEMAS["users"],
    )
    (root / "users").mkdir(exist_ok=True)
    ds.write_dataset(
        users,
        root / "users",
        format="parquet",
        existing_data_behavior="delete_matching",
        basename_template="part-{i}.parquet",
    )
    rows["users"] = users.num_rows

    # views, forwards, comments in the snapshot's read order (``seq``: the view tie-break);
    # referrals and shares as events, in (ts, event_id) order, with their event ids
    plain = [t for t in EDGE_TYPES if t is not EventType.REFERRAL]
    edges = store.read_edges(plain)
    names = np.array([t.value for t in EDGE_TYPES], dtype=object)
    n_edges = len(edges.src)
    parts = [
        pa.table(
            {
                "seq": pa.array(np.arange(n_edges), pa.int64()),
                "event_id": pa.nulls(n_edges, pa.string()),
                "src": pa.array(edges.src, pa.int64()),
                "dst": pa.array(edges.dst, pa.int64()),
                "ts": pa.array(edges.ts, pa.int64()).cast(_TS),
                "content_id": pa.nulls(n_edges, pa.string()),
                "type": pa.array(names[edges.etype], pa.string()),
            },
            schema=_EVENTS_PARTITIONED,
        )
    ]
    for event_type, src, dst in (
        (EventType.REFERRAL, "referrer", "referee"),
        (EventType.SHARE, "sharer", None),
    ):
        table = store.read_events(event_type)
        if dst is not None:  # an edge needs both users
            table = table.filter(pc.is_valid(table.column(dst)))
        k = table.num_rows
        parts.append(
            pa.table(
                {
                    "seq": pa.array(np.arange(k), pa.int64()),
                    "event_id": table.column("event_id"),
                    "src": _index(node_ids, table.column(src)),
                    "dst": pa.nulls(k, pa.int64())
                    if dst is None
                    else _index(node_ids, table.column(dst)),
                    "ts": table.column("ts"),
                    "content_id": table.column("content_id")
                    if "content_id" in table.column_names
                    else pa.nulls(k, pa.string()),
                    "type": pa.array(np.full(k, event_type.value), pa.string()),
                },
                schema=_EVENTS_PARTITIONED,
            )
        )
    events = pa.concat_tables(parts)
    _write(events, root / "events", "type")
    for t, count in zip(
        *np.unique(events.column("type").to_numpy(zero_copy_only=False), return_counts=True),
        strict=True,
    ):
        rows[f"events.{t}"] = int(count)

    orders = store.read_events(EventType.ORDER)
    order_table = pa.table(
        {
            "seq": pa.array(np.arange(orders.num_rows), pa.int64()),
            "event_id": orders.column("event_id"),
            "order_id": orders.column("order_id"),
            "buyer": _index(node_ids, orders.column("buyer")),
            "amount": orders.column("amount").cast(_MONEY),
            "currency": orders.column("currency"),
            "ts": orders.column("ts"),
            "attribution_token": orders.column("attribution_token"),
            "store_id": orders.column("store_id"),
            "month": _month(orders.column("ts")),
        }
    )
    _write(order_table, root / "orders", "month")
    rows["orders"] = order_table.num_rows

    refunds = store.read_events(EventType.REFUND)
    refund_table = pa.table(
        {
            "seq": pa.array(np.arange(refunds.num_rows), pa.int64()),
            "event_id": refunds.column("event_id"),
            "refund_id": refunds.column("refund_id"),
            "order_id": refunds.column("order_id"),
            "amount": refunds.column("amount").cast(_MONEY),
            "ts": refunds.column("ts"),
            "month": _month(refunds.column("ts")),
        }
    )
    _write(refund_table, root / "refunds", "month")
    rows["refunds"] = refund_table.num_rows

    watermark = store.watermark()
    manifest: dict[str, Any] = {
        "format": LAKE_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "watermark": None if watermark is None else watermark.astimezone(UTC).isoformat(),
        "rows": rows,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return LakeSummary(directory=root, rows=rows, watermark=watermark)


@dataclass(frozen=True)
class Lake:
    """The lake's tables as Spark DataFrames, in the column conventions of :mod:`influence.spark`.

    Attributes
    ----------
    users : DataFrame
        ``idx, user_id, role, device_hash, phone_hash`` (the hashes null when unknown,
        or when a lake of other tools has no such columns).
    edges : DataFrame
        ``seq, event_id, src, dst, etype, ts`` (edge types only; ``ts`` in epoch
        microseconds; ``event_id`` set for referrals).
    shares : DataFrame
        ``seq, src, content_id, ts``.
    orders : DataFrame
        ``seq, event_id, order_id, buyer, units, ts, attribution_token, store_id``.
    refunds : DataFrame
        ``order_id, units, ts``.
    watermark : datetime or None
        From ``manifest.json``, else the latest time in the lake.
    """

    users: DataFrame
    edges: DataFrame
    shares: DataFrame
    orders: DataFrame
    refunds: DataFrame
    watermark: datetime | None


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def read_lake(spark: SparkSession, root: str | Path) -> Lake:
    """Open a lake written by :func:`export_lake` (local path or any Hadoop URI, e.g. ``s3a://``).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    root : str or path

    Returns
    -------
    Lake

    Raises
    ------
    StoreError
        When a table is missing (the message names it).
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from graph.events import EDGE_TYPE_CODES

    base = str(root)

    def table(name: str) -> DataFrame:
        try:
            return spark.read.parquet(_join(base, name))
        except AnalysisException as exc:
            raise StoreError(
                f"The lake at {base} has no readable {name!r} table ({exc.getMessage()[:200]}); "
                "write one with `koc export parquet DIR`."
            ) from None

    users = table("users")
    users = users.select(
        "idx",
        "user_id",
        "role",
        *(
            F.col(c) if c in users.columns else F.lit(None).cast("string").alias(c)
            for c in ("device_hash", "phone_hash")
        ),
    )
    events = table("events")
    code = F.create_map(
        *(x for t in EDGE_TYPES for x in (F.lit(t.value), F.lit(EDGE_TYPE_CODES[t])))
    )
    edge_names = [t.value for t in EDGE_TYPES]
    edges = events.where(F.col("type").isin(edge_names)).select(
        "seq",
        "event_id",
        "src",
        "dst",
        code[F.col("type")].cast("int").alias("etype"),
        F.unix_micros("ts").alias("ts"),
    )
    shares = events.where(F.col("type") == EventType.SHARE.value).select(
        "seq", "src", "content_id", F.unix_micros("ts").alias("ts")
    )
    units = (F.col("amount") * F.lit(10**AMOUNT_SCALE)).cast("long")
    orders = table("orders").select(
        "seq",
        "event_id",
        "order_id",
        "buyer",
        units.alias("units"),
        F.unix_micros("ts").alias("ts"),
        "attribution_token",
        "store_id",
    )
    refunds = table("refunds").select(
        "order_id", units.alias("units"), F.unix_micros("ts").alias("ts")
    )
    watermark = _manifest_watermark(spark, base)
    if watermark is None:
        both = edges.select("ts").unionByName(orders.select("ts")).unionByName(refunds.select("ts"))
        latest = both.agg(F.max("ts")).collect()[0][0]
        watermark = None if latest is None else _EPOCH + timedelta(microseconds=int(latest))
    return Lake(users, edges, shares, orders, refunds, watermark)


def _manifest_watermark(spark: SparkSession, base: str) -> datetime | None:
    from pyspark.errors import AnalysisException

    try:
        text = "\n".join(r.value for r in spark.read.text(_join(base, "manifest.json")).collect())
    except AnalysisException:  # a lake written by other tools may have no manifest
        return None
    value = json.loads(text).get("watermark")
    return None if value is None else datetime.fromisoformat(value)
