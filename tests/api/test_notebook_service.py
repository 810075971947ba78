"""Tests of api.services.notebook on a small generated demo store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from api.services import notebook as nb
from graph.errors import ConfigError
from referral import default_rules

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nb.DemoData]:
    data = nb.demo_store(tmp_path_factory.mktemp("nbdemo"), users=600, seed=3)
    try:
        yield data
    finally:
        data.store.close()


def _sql(demo: nb.DemoData, query: str) -> list[tuple]:
    return demo.store.conn.execute(query).fetchall()


def test_project_root_found_from_a_subfolder_and_refused_outside(tmp_path: Path) -> None:
    root = Path(nb.__file__).resolve().parents[2]
    assert nb.project_root(root / "api" / "services") == root
    with pytest.raises(ConfigError):
        nb.project_root(tmp_path)


def test_shared_data_dir_none_when_absent_path_when_present(tmp_path: Path) -> None:
    root = tmp_path / "main"
    (root / "graph").mkdir(parents=True)
    (root / "graph" / "store.py").write_text("")
    (root / "pyproject.toml").write_text("")
    assert nb.shared_data_dir(root) is None
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert nb.shared_data_dir(root / "graph") == tmp_path / "shared" / "data"


def test_demo_store_has_runs_kols_and_ledger(demo: nb.DemoData) -> None:
    assert set(demo.runs) == {"2026-09", "2026-10", "all"}
    assert demo.store.latest_run().run_id == demo.runs["all"]
    n_kols = _sql(demo, "SELECT count(*) FROM role_declarations WHERE role = 'kol'")[0][0]
    assert n_kols >= 5
    assert _sql(demo, "SELECT count(*) FROM referral_entries")[0][0] > 0
    assert demo.truth_users.is_file()


def test_spend_vs_koc_splits_top_k_and_spend_is_net(demo: nb.DemoData) -> None:
    k = 20
    res = nb.spend_vs_koc(demo.store, k=k)
    assert res["overlap"] + len(res["missed"]) == k
    spend_ids = {row["user_id"] for row in res["spend_top"]}
    assert not spend_ids & {row["user_id"] for row in res["missed"]}
    amounts = [row["net_spend"] for row in res["spend_top"]]
    assert amounts == sorted(amounts, reverse=True)
    # independent net spend of the biggest spender: orders minus (capped) refunds in SQL
    top = res["spend_top"][0]
    (net,) = _sql(
        demo,
        f"""SELECT sum(o.amount - least(coalesce(r.r, 0), o.amount)) FROM orders o
            LEFT JOIN (SELECT order_id, sum(amount) r FROM refunds GROUP BY order_id) r
            USING (order_id) JOIN users u ON u.idx = o.buyer
            WHERE u.user_id = '{top["user_id"]}'""",
    )[0]
    assert top["net_spend"] == Decimal(net)
    assert res["points"]["score"].shape == res["points"]["net_spend"].shape


def test_community_spreaders_are_the_best_members(demo: nb.DemoData) -> None:
    rows = nb.community_spreaders(demo.store, communities=3, k=2)
    scores = demo.store.read_scores(demo.runs["all"]).to_pylist()
    assert rows and [r["size"] for r in rows] == sorted((r["size"] for r in rows), reverse=True)
    for row in rows:
        members = sorted(
            (s for s in scores if s["community"] == row["community"]),
            key=lambda s: (-s["score"], s["user_id"]),
        )
        assert row["size"] == len(members)
        assert row["top_scores"] == pytest.approx([m["score"] for m in members[:2]])


def test_ledger_timeseries_and_holds_add_up(demo: nb.DemoData) -> None:
    series = nb.ledger_timeseries(demo.store, unit="month")
    (total,) = _sql(demo, "SELECT sum(amount) FROM referral_entries")[0]
    assert sum(r["amount"] for r in series) == total
    assert {r["kind"] for r in series} <= {"commission", "bonus", "reversal"}
    holds = nb.hold_reasons(demo.store)
    (held,) = _sql(
        demo,
        """SELECT count(*) FROM referral_entries e JOIN (
               SELECT entry_id, arg_max(status, seq) s FROM referral_status
               WHERE status IN ('held', 'released') GROUP BY entry_id) h
           ON h.entry_id = coalesce(e.orig_entry_id, e.entry_id) WHERE h.s = 'held'""",
    )[0]
    assert sum(r["entries"] for r in holds) == held
    by_reason = nb.hold_reasons(demo.store, by="reason")
    assert sum(r["entries"] for r in by_reason) == held
    for row in holds:  # every check named in the key appears in the reasons it groups
        assert set(row["reason"].split("+")) <= {*nb.HOLD_CHECKS, "other"}
    assert {"ring", "cycle"} & {c for r in holds for c in r["reason"].split("+")}
    with pytest.raises(ConfigError):
        nb.ledger_timeseries(demo.store, unit="year")


def test_top_beneficiaries_ordered_by_net(demo: nb.DemoData) -> None:
    rows = nb.top_beneficiaries(demo.store, model=None, limit=5)
    nets = [r["net"] for r in rows]
    assert nets == sorted(nets, reverse=True) and len(rows) <= 5
    (best,) = _sql(
        demo,
        "SELECT max(s) FROM (SELECT sum(amount) s FROM referral_entries GROUP BY beneficiary)",
    )[0]
    assert nets[0] == best


def test_what_if_default_equals_store_ledger_and_fewer_levels_pay_less(
    demo: nb.DemoData, tmp_path: Path
) -> None:
    rows = nb.what_if(
        demo.store,
        {"default": default_rules(), "one level": default_rules(levels=1, version="one-level")},
        tmp_path,
    )
    net = {
        name: sum(r["net"] for r in rows if r["scenario"] == name)
        for name in ("default", "one level")
    }
    (stored,) = _sql(demo, "SELECT sum(amount) FROM referral_entries")[0]
    assert net["default"] == stored
    assert net["one level"] < net["default"]


def test_order_arrays_align_with_snapshot(demo: nb.DemoData) -> None:
    from graph.snapshot import build_snapshot

    snap = build_snapshot(demo.store)
    buyer, ts = nb.order_arrays(demo.store, snap)
    (n_orders,) = _sql(demo, "SELECT count(*) FROM orders")[0]
    assert buyer.shape == ts.shape == (n_orders,)
    assert (buyer >= -1).all() and ts.min() > 1_700_000_000_000_000


def test_head_lines_copies_the_first_rows(tmp_path: Path) -> None:
    import gzip

    src = tmp_path / "a.txt.gz"
    with gzip.open(src, "wt") as fh:
        fh.write("".join(f"{i} {i + 1} 100 RT\n" for i in range(10)))
    assert nb.head_lines(src, tmp_path / "b.txt.gz", 4) == 4
    with gzip.open(tmp_path / "b.txt.gz", "rt") as fh:
        assert fh.read().splitlines() == [f"{i} {i + 1} 100 RT" for i in range(4)]
    assert nb.head_lines(src, tmp_path / "c.txt", 99) == 10
    with pytest.raises(ConfigError):
        nb.head_lines(src, tmp_path / "d.txt", 0)


def test_top_referrers_counts_distinct_referees(demo: nb.DemoData) -> None:
    from graph.duckdb_store import EVENT_CODES
    from graph.events import EventType

    rows = nb.top_referrers(demo.store, limit=3)
    expected = _sql(
        demo,
        f"""SELECT u.user_id, count(DISTINCT e.dst) n FROM events e
           JOIN users u ON u.idx = e.src WHERE e.etype = {EVENT_CODES[EventType.REFERRAL]}
           GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3""",
    )
    assert [(r["user_id"], r["referees"]) for r in rows] == expected
