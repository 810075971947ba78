"""Share-to-buy attribution on real BeiBei group-buying data (Zhang et al., ICDE 2021).

Each line ``initiator item participant...`` is read as: the initiator shared the item
(content ``<item>@<initiator>``), each participant viewed that share and bought
through it. The data has **no prices and no timestamps**, so this loader assumes a
unit amount of 1.00 CNY per purchase and uses the line order as time (line ``i`` at
2026-07-01 + ``i`` seconds, the purchase half a second after the view). With the
default consumer share rate of 3 %, every purchase earns its initiator exactly 0.03:
the expected totals are counted straight from the file.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.store import ARROW_SCHEMAS
from referral.attribution import attribute
from referral.ledger import Ledger
from referral.reports import reconciliation
from referral.rules import default_rules
from tests.conftest import shared_dataset
from tests.referral.conftest import T0

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def _load(path) -> tuple[dict[EventType, pa.Table], Counter]:
    initiators, contents, viewers, line_no = [], [], [], []
    for i, line in enumerate(path.read_text().splitlines()):
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        for p in parts[2:]:
            initiators.append(parts[0])
            contents.append(f"{parts[1]}@{parts[0]}")
            viewers.append(p)
            line_no.append(i)
    n = len(viewers)
    base = np.datetime64(T0.replace(tzinfo=None), "us")
    view_ts = base + np.asarray(line_no, dtype="timedelta64[s]").astype("timedelta64[us]")
    ts_type = pa.timestamp("us", tz="UTC")
    views = pa.table(
        {
            "event_id": [f"v{k}" for k in range(n)],
            "viewer": viewers,
            "sharer": initiators,
            "content_id": contents,
            "channel": pa.nulls(n, pa.string()),
            "ts": pa.array(view_ts, ts_type),
        },
        schema=ARROW_SCHEMAS[EventType.VIEW],
    )
    orders = pa.table(
        {
            "event_id": [f"o{k}" for k in range(n)],
            "order_id": [f"bb{k}" for k in range(n)],
            "buyer": viewers,
            "amount": pa.array([Decimal("1.00")] * n, pa.decimal128(20, 4)),
            "currency": ["CNY"] * n,
            "ts": pa.array(view_ts + np.timedelta64(500_000, "us"), ts_type),
            "attribution_token": contents,
            "store_id": pa.nulls(n, pa.string()),
        },
        schema=ARROW_SCHEMAS[EventType.ORDER],
    )
    return {EventType.VIEW: views, EventType.ORDER: orders}, Counter(initiators)


def test_beibei_share_to_buy_totals(tmp_path) -> None:
    path = shared_dataset("beibei") / "test.txt"
    tables, per_initiator = _load(path)
    purchases = sum(per_initiator.values())
    with DuckDBStore(tmp_path / "bb.duckdb") as store:
        store.append_batch(tables)
        ledger = Ledger.open(store)
        summary = attribute(store, ledger, default_rules())
        assert summary.orders_new == purchases
        # 3% of 1.00 per purchase, credited to the initiator whose share was viewed
        assert summary.commission == Decimal("0.03") * purchases
        top, top_n = per_initiator.most_common(1)[0]
        got = ledger.scalar("SELECT sum(amount) FROM referral_entries WHERE beneficiary = ?", [top])
        assert got == Decimal("0.03") * top_n
        periods = ledger.arrow("SELECT DISTINCT period FROM referral_entries").column(0)
        for p in periods.to_pylist():
            assert all(reconciliation(ledger, p).column("ok").to_pylist())
    print(
        f"BeiBei test.txt: {purchases:,} purchases by share, {len(per_initiator):,} sharers, "
        f"commission {summary.commission} CNY; top sharer {top} {top_n} purchases"
    )
