"""Share-to-buy attribution on BeiBei group-buying data (Zhang et al., ICDE 2021).

The files are loaded with ``koc ingest --source beibei`` (:mod:`graph.ingest.sources.beibei`):
each line ``initiator item participant...`` is a share of content
``beibei:<item>@<initiator>``, and each participant viewed that share and bought through
it. The data has **no prices and no timestamps**, so the loader assumes a unit amount of
1.00 CNY per purchase and uses the line order as time. With the default consumer share
rate of 3 %, every purchase earns its initiator exactly 0.03: the expected totals are
counted straight from the file.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from graph.duckdb_store import DuckDBStore
from graph.ingest import ingest_files
from referral.attribution import attribute
from referral.ledger import Ledger
from referral.reconciliation import reconciliation
from referral.rules import default_rules
from tests.conftest import shared_dataset


def _purchases_per_initiator(path: Path) -> Counter:
    """Participants per initiator, counted from the file with plain Python."""
    counts: Counter = Counter()
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) > 2:
            counts[parts[0]] += len(parts) - 2
    return counts


def _attribute_file(path: Path, db: Path) -> None:
    per_initiator = _purchases_per_initiator(path)
    purchases = sum(per_initiator.values())
    with DuckDBStore(db) as store:
        loaded = ingest_files(store, [path], dataset="beibei")
        assert loaded.rejected == 0
        ledger = Ledger.open(store)
        summary = attribute(store, ledger, default_rules())
        assert summary.orders_new == purchases
        # 3% of 1.00 per purchase, credited to the initiator whose share was viewed
        assert summary.commission == Decimal("0.03") * purchases
        for who, n in per_initiator.most_common(3):
            got = ledger.scalar(
                "SELECT sum(amount) FROM referral_entries WHERE beneficiary = ?", [who]
            )
            assert got == Decimal("0.03") * n
        periods = ledger.arrow("SELECT DISTINCT period FROM referral_entries").column(0)
        for p in periods.to_pylist():
            assert all(reconciliation(ledger, p).column("ok").to_pylist())
    top, top_n = per_initiator.most_common(1)[0]
    print(
        f"BeiBei {path.name}: {purchases:,} purchases by share, {len(per_initiator):,} sharers, "
        f"commission {summary.commission} CNY; top sharer {top} {top_n} purchases"
    )


def test_beibei_share_to_buy_sample(tmp_path) -> None:
    """A hand-made file: 10 and 12 earn for 2 purchases each, 11 (no participant) nothing."""
    path = tmp_path / "sample.txt"
    path.write_text("10\t20\t30\n12\t22\t31\t32\n11\t21\n10\t23\t33\n")
    assert _purchases_per_initiator(path) == Counter({"10": 2, "12": 2})
    _attribute_file(path, tmp_path / "bb.duckdb")


@pytest.mark.slow
@pytest.mark.realdata
def test_beibei_share_to_buy_totals(tmp_path) -> None:
    _attribute_file(shared_dataset("beibei") / "test.txt", tmp_path / "bb.duckdb")
