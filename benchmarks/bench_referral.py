"""Benchmark: attribute 1M orders over a 1M-user referral graph, close the period, report.

Run by hand (not in the test suite)::

    .venv/bin/python benchmarks/bench_referral.py --users 1000000 --orders 1000000

Synthetic data (seeded numpy): every user but the first 1,000 is referred by a
uniformly random earlier user (a random recursive tree, depth ~ ln n) at a random
time in July-October 2026, plus 2 % extra referrals by other referrers (touches
for the binding rules); roles 2 % employee, 3 % kol, 95 % consumer; devices shared
by a few planted pairs; orders by random users with amounts 1.00-999.99 CNY; half
of the orders follow a view of a share by a random user (attribution token set);
5 % of the orders refunded (half fully, half partially). Ingestion time is not
counted. Then a late referral file (``--late`` events, default 10,000: random
referrers and referees, dated in the first half of the span, i.e. mostly before
the referees' orders and often before their first referral) is ingested and
attributed again: the cost of re-examining the orders it may re-bind. Prints one
JSON object with timings (seconds) and sizes.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.store import ARROW_SCHEMAS
from referral.attribution import attribute, read_inputs
from referral.ledger import Ledger
from referral.period_report import write_period_report
from referral.periods import periods_between
from referral.reconciliation import reconciliation
from referral.rules import default_rules
from referral.settlement import close_period

__all__ = ["late_referrals", "make_tables", "main"]

_START = np.datetime64("2026-07-01T00:00:00", "us")
_SPAN_US = int(np.timedelta64(122, "D") / np.timedelta64(1, "us"))
_TS = pa.timestamp("us", tz="UTC")


def _ids(prefix: str, idx: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(prefix, idx.astype("U9")).astype(object), pa.string())


def _ts(offsets_us: np.ndarray) -> pa.Array:
    return pa.array(_START + offsets_us.astype("timedelta64[us]"), _TS)


def _money(cents: np.ndarray) -> pa.Array:
    """decimal128(20, 4) amounts from integer cents, without Python Decimals or floats.

    A decimal128 value is a 16-byte little-endian integer in units of 1e-4.
    """
    units = np.asarray(cents, dtype=np.int64) * 100
    words = np.empty((units.size, 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    return pa.Array.from_buffers(
        pa.decimal128(20, 4), units.size, [None, pa.py_buffer(words.tobytes())]
    )


def make_tables(n_users: int, n_orders: int, seed: int = 0) -> dict[EventType, pa.Table]:
    """Synthetic users, referrals, views, orders and refunds (see module docs)."""
    rng = np.random.default_rng(seed)
    users = np.arange(n_users)
    role = rng.choice(
        np.array(["employee", "kol", "consumer"], dtype=object), n_users, p=[0.02, 0.03, 0.95]
    )
    device = np.full(n_users, None, dtype=object)
    planted = rng.choice(n_users, 2000, replace=False)
    device[planted] = np.char.add("dev", (planted // 2).astype("U9")).astype(object)
    uid = _ids("u", users)
    t_users = pa.table(
        {
            "event_id": _ids("user-", users),
            "user_id": uid,
            "role": pa.array(role, pa.string()),
            "display_name": pa.nulls(n_users, pa.string()),
            "store_id": pa.nulls(n_users, pa.string()),
            "channel": pa.nulls(n_users, pa.string()),
            "created_at": pa.nulls(n_users, _TS),
            "attrs": pa.nulls(n_users, pa.string()),
            "phone_hash": pa.nulls(n_users, pa.string()),
            "device_hash": pa.array(device, pa.string()),
        },
        schema=ARROW_SCHEMAS[EventType.USER],
    )
    referees = np.arange(1000, n_users)
    referrers = (rng.random(referees.size) * referees).astype(np.int64)
    ref_ts = np.sort(rng.integers(0, _SPAN_US // 2, referees.size))
    extra = rng.choice(referees, referees.size // 50, replace=False)
    referees = np.concatenate([referees, extra])
    referrers = np.concatenate([referrers, rng.integers(0, n_users, extra.size)])
    ref_ts = np.concatenate([ref_ts, rng.integers(0, _SPAN_US, extra.size)])
    n_ref = referees.size
    t_refs = pa.table(
        {
            "event_id": _ids("r", np.arange(n_ref)),
            "referrer": _ids("u", referrers),
            "referee": _ids("u", referees),
            "campaign": pa.nulls(n_ref, pa.string()),
            "ts": _ts(ref_ts),
        },
        schema=ARROW_SCHEMAS[EventType.REFERRAL],
    )
    buyers = rng.integers(0, n_users, n_orders)
    order_ts = rng.integers(_SPAN_US // 4, _SPAN_US, n_orders)
    cents = rng.integers(100, 100_000, n_orders)
    shared = rng.random(n_orders) < 0.5
    n_view = int(shared.sum())
    sharers = rng.integers(0, n_users, n_view)
    content = _ids("c", sharers)
    token = np.full(n_orders, None, dtype=object)
    token[shared] = np.asarray(content.to_pylist(), dtype=object)
    t_views = pa.table(
        {
            "event_id": _ids("v", np.arange(n_view)),
            "viewer": _ids("u", buyers[shared]),
            "sharer": _ids("u", sharers),
            "content_id": content,
            "channel": pa.nulls(n_view, pa.string()),
            "ts": _ts(order_ts[shared] - rng.integers(1, 86_400_000_000, n_view)),
        },
        schema=ARROW_SCHEMAS[EventType.VIEW],
    )
    oid = _ids("o", np.arange(n_orders))
    t_orders = pa.table(
        {
            "event_id": _ids("oe", np.arange(n_orders)),
            "order_id": oid,
            "buyer": _ids("u", buyers),
            "amount": _money(cents),
            "currency": pa.array(["CNY"] * n_orders, pa.string()),
            "ts": _ts(order_ts),
            "attribution_token": pa.array(token, pa.string()),
            "store_id": pa.nulls(n_orders, pa.string()),
        },
        schema=ARROW_SCHEMAS[EventType.ORDER],
    )
    refunded = rng.choice(n_orders, n_orders // 20, replace=False)
    partial = rng.random(refunded.size) < 0.5
    ref_cents = np.where(partial, cents[refunded] // 3, cents[refunded])
    n_rf = refunded.size
    t_refunds = pa.table(
        {
            "event_id": _ids("f", np.arange(n_rf)),
            "refund_id": _ids("R", np.arange(n_rf)),
            "order_id": _ids("o", refunded),
            "amount": _money(ref_cents),
            "ts": _ts(order_ts[refunded] + rng.integers(1, 10 * 86_400_000_000, n_rf)),
        },
        schema=ARROW_SCHEMAS[EventType.REFUND],
    )
    return {
        EventType.USER: t_users,
        EventType.REFERRAL: t_refs,
        EventType.VIEW: t_views,
        EventType.ORDER: t_orders,
        EventType.REFUND: t_refunds,
    }


def late_referrals(n_users: int, n_late: int, seed: int = 1) -> pa.Table:
    """A late referral file: ``n_late`` referrals dated in the first half of the span."""
    rng = np.random.default_rng(seed)
    referees = rng.integers(0, n_users, n_late)
    referrers = (referees + rng.integers(1, n_users, n_late)) % n_users  # never oneself
    return pa.table(
        {
            "event_id": _ids("late", np.arange(n_late)),
            "referrer": _ids("u", referrers),
            "referee": _ids("u", referees),
            "campaign": pa.nulls(n_late, pa.string()),
            "ts": _ts(rng.integers(0, _SPAN_US // 2, n_late)),
        },
        schema=ARROW_SCHEMAS[EventType.REFERRAL],
    )


class _Clock:
    """Wall and process-CPU seconds of named phases (CPU time is robust to a busy machine)."""

    def __init__(self, out: dict[str, object]) -> None:
        self.out = out

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.out[f"{name}_s"] = round(time.perf_counter() - wall, 2)
        self.out[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--db", type=Path, default=None, help="store file (default: a temp dir)")
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--late", type=int, default=10_000, help="late referral events (0: none)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-referral-"))
    db = args.db or tmp / "bench.duckdb"
    out: dict[str, object] = {
        "users": args.users,
        "orders": args.orders,
        "threads": args.threads,
        "date": datetime.now(UTC).isoformat(),
    }
    clock = _Clock(out)
    with clock("generate"):
        tables = make_tables(args.users, args.orders)
    out["rows"] = {k.value: v.num_rows for k, v in tables.items()}
    with DuckDBStore(db, threads=args.threads, memory_limit="8GB") as store:
        with clock("ingest"):
            store.append_batch(tables)
        del tables
        rules = default_rules()
        ledger = Ledger.open(store)
        with clock("read_inputs"):
            inputs = read_inputs(store, rules)
        with clock("attribute"):
            summary = attribute(store, ledger, rules, inputs=inputs)
        del inputs
        out["attribute_total_s"] = round(out["read_inputs_s"] + out["attribute_s"], 2)
        out["entries"] = summary.entries_new
        out["reversals"] = summary.reversals_new
        out["holds"] = summary.holds_new
        out["commission"] = str(summary.commission)
        with clock("rerun"):
            out["rerun_noop"] = attribute(store, ledger, rules).already_done
        if args.late:
            # baseline: a run with one new order and no new referral (nothing to re-examine)
            one = make_tables(5000, 1, seed=2)[EventType.ORDER]
            one = one.set_column(1, "order_id", pa.array(["o-extra"], pa.string()))
            store.append_batch({EventType.ORDER: one.set_column(0, "event_id", one.column(1))})
            with clock("baseline_attribute"):
                attribute(store, ledger, rules)
            store.append_batch({EventType.REFERRAL: late_referrals(args.users, args.late)})
            with clock("late_attribute"):  # reads the inputs again, then re-examines
                late = attribute(store, ledger, rules)
            out["late"] = {
                k: str(v) if not isinstance(v, int) else v
                for k, v in late.to_dict().items()
                if k.startswith(("referrals_", "orders_re", "reattribut"))
            }
        with clock("close"):
            close_period(ledger, args.period, rules=rules)
        for fmt in ("csv", "xlsx", "html"):
            with clock(f"report_{fmt}"):
                files = write_period_report(ledger, args.period, fmt, tmp / "reports")
            out[f"report_{fmt}_bytes"] = sum(f.stat().st_size for f in files)
        out["reconciled"] = all(
            all(reconciliation(ledger, p).column("ok").to_pylist())
            for p in periods_between("2026-07", args.period)
        )
        out["reports_total_s"] = round(
            sum(out[f"report_{f}_s"] for f in ("csv", "xlsx", "html")), 2
        )
        # the same three formats from one build of the report's tables (--format all)
        out["reports_total_cpu_s"] = round(
            sum(out[f"report_{f}_cpu_s"] for f in ("csv", "xlsx", "html")), 2
        )
        with clock("report_all"):
            files = write_period_report(ledger, args.period, "all", tmp / "reports-all")
        out["report_all_bytes"] = sum(f.stat().st_size for f in files)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
