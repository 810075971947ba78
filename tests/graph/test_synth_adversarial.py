"""``koc synth --world adversarial``: determinism and every planted trap, read back from the files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from api.cli import cli
from graph.duckdb_store import DuckDBStore
from graph.errors import ParameterError
from graph.ingest import ingest_files
from graph.synth._adv_params import AdversarialParams
from graph.synth.adversarial import generate_adversarial

USERS, SEED = 4_000, 3
OBSERVED_END = "2026-10-01T00:00:00+08:00"


def _world(out: Path, observability: str) -> Path:
    generate_adversarial(
        out, AdversarialParams(users=USERS, seed=SEED, observability=observability)
    )
    return out


@pytest.fixture(scope="module")
def high(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(tmp_path_factory.mktemp("adv-high"), "high")


@pytest.fixture(scope="module")
def low(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(tmp_path_factory.mktemp("adv-low"), "low")


def read(folder: Path, name: str) -> pa.Table:
    opts = pacsv.ConvertOptions(strings_can_be_null=True, column_types={"ts": pa.string()})
    return pacsv.read_csv(folder / f"{name}.csv.gz", convert_options=opts)


def truth(folder: Path) -> tuple[dict, pa.Table]:
    meta = json.loads((folder / "ground_truth.json").read_text("utf-8"))
    return meta, pq.read_table(folder / "ground_truth_users.parquet")


def ids_where(table: pa.Table, mask: np.ndarray) -> set[str]:
    return set(np.asarray(table.column("user_id").to_pylist(), dtype=object)[mask])


def test_generate_adversarial_same_seed_byte_identical(high: Path, tmp_path: Path):
    again = _world(tmp_path / "again", "high")
    first = json.loads((high / "manifest.json").read_text())["files"]
    second = json.loads((again / "manifest.json").read_text())["files"]
    assert [f["sha256"] for f in first] == [f["sha256"] for f in second]
    assert (high / "ground_truth_users.parquet").read_bytes() == (
        again / "ground_truth_users.parquet"
    ).read_bytes()


def test_generate_adversarial_observability_changes_logs_not_the_world(high: Path, low: Path):
    views_high, views_low = read(high, "views").num_rows, read(low, "views").num_rows
    # views are logged for 70% / 30% of the same exposures
    assert views_low / views_high == pytest.approx(0.3 / 0.7, rel=0.1)
    assert read(high, "shares").equals(read(low, "shares"))
    gmv = [c for c in truth(high)[1].column_names if c.startswith("true_referred_gmv")]
    assert truth(high)[1].select(gmv).equals(truth(low)[1].select(gmv))


def test_generate_adversarial_rejects_unknown_observability(tmp_path: Path):
    with pytest.raises(ParameterError, match="observability"):
        generate_adversarial(tmp_path, AdversarialParams(users=500, observability="perfect"))


def test_adversarial_every_row_ingests_and_nothing_after_the_observed_months(
    high: Path, tmp_path: Path
):
    with DuckDBStore(tmp_path / "adv.duckdb") as store:
        summary = ingest_files(store, sorted(high.glob("*.csv.gz")))
        assert summary.rejected == 0
        assert summary.inserted == summary.read
        assert store.watermark() < datetime.fromisoformat(OBSERVED_END)
    meta, users = truth(high)
    assert meta["params"]["holdout_month"] == "2026-10"
    assert pc.sum(pc.cast(users.column("true_referred_gmv_2026_10"), pa.float64())).as_py() > 0


def test_adversarial_undeclared_employees_labelled_consumer(high: Path):
    meta, _ = truth(high)
    users = read(high, "users")
    role = dict(
        zip(users.column("user_id").to_pylist(), users.column("role").to_pylist(), strict=True)
    )
    employees = meta["employees"]
    undeclared = [u for u in employees if role[u] != "employee"]
    assert 0.35 < len(undeclared) / len(employees) < 0.65
    as_consumer = [u for u in undeclared if role[u] == "consumer"]
    assert len(as_consumer) > len(undeclared) / 2
    assert set(as_consumer) == set(meta["undeclared_employees_as_consumer"])


def test_adversarial_employees_key_codes_into_store_orders_with_hundreds_of_ties(high: Path):
    meta, _ = truth(high)
    employees = set(meta["employees"])
    orders = read(high, "orders")
    token = orders.column("attribution_token").to_pylist()
    store = orders.column("store_id").to_pylist()
    keyed = [t[4:] for t, s in zip(token, store, strict=True) if t and t.startswith("ref-") and s]
    assert len(keyed) > 20 * len(employees)
    assert set(keyed) <= employees
    views = read(high, "views")
    pairs = {
        (s, v)
        for s, v in zip(views["sharer"].to_pylist(), views["viewer"].to_pylist(), strict=True)
    }
    per_employee = {}
    for s, _ in pairs:
        if s in employees:
            per_employee[s] = per_employee.get(s, 0) + 1
    assert np.median(list(per_employee.values())) >= 100


def test_adversarial_fraud_rings_share_devices_buy_through_each_other_and_refund(high: Path):
    meta, _ = truth(high)
    users = read(high, "users")
    device = dict(zip(users["user_id"].to_pylist(), users["device_hash"].to_pylist(), strict=True))
    orders, refunds = read(high, "orders"), read(high, "refunds")
    shares = read(high, "shares")
    sharer = dict(zip(shares["content_id"].to_pylist(), shares["sharer"].to_pylist(), strict=True))
    refunded = dict(
        zip(refunds["order_id"].to_pylist(), refunds["amount"].to_pylist(), strict=True)
    )
    for ring in meta["fraud_rings"]:
        assert len({device[u] for u in ring}) == 1
        members = set(ring)
        bought = [
            (o, a)
            for o, b, t, a in zip(
                orders["order_id"].to_pylist(),
                orders["buyer"].to_pylist(),
                orders["attribution_token"].to_pylist(),
                orders["amount"].to_pylist(),
                strict=True,
            )
            if b in members and t and (sharer.get(t) in members or t[4:] in members)
        ]
        assert bought, "ring members buy through each other's links"
    ring_members = {u for ring in meta["fraud_rings"] for u in ring}
    ring_orders = [
        (o, a)
        for o, b, a in zip(
            orders["order_id"].to_pylist(),
            orders["buyer"].to_pylist(),
            orders["amount"].to_pylist(),
            strict=True,
        )
        if b in ring_members
    ]
    back = sum(refunded.get(o, 0.0) for o, _ in ring_orders)
    assert back / sum(a for _, a in ring_orders) > 0.6


def test_adversarial_self_dealers_alts_share_device_and_buy_through_main(high: Path):
    meta, _ = truth(high)
    users = read(high, "users")
    device = dict(zip(users["user_id"].to_pylist(), users["device_hash"].to_pylist(), strict=True))
    shares = read(high, "shares")
    sharer = dict(zip(shares["content_id"].to_pylist(), shares["sharer"].to_pylist(), strict=True))
    orders = read(high, "orders")
    through_main = 0
    for deal in meta["self_dealers"]:
        assert {device[a] for a in deal["alts"]} == {device[deal["main"]]}
        alts = set(deal["alts"])
        for b, t in zip(
            orders["buyer"].to_pylist(), orders["attribution_token"].to_pylist(), strict=True
        ):
            if b in alts and t and (sharer.get(t) == deal["main"] or t == "ref-" + deal["main"]):
                through_main += 1
    assert through_main >= len(meta["self_dealers"])


def test_adversarial_tokens_mislead_coincidences_and_missing_tokens(high: Path, low: Path):
    for folder in (high, low):
        diag = truth(folder)[0]["attribution"]
        assert diag["token_orders_by_kind"]["coincidence"] > 0
        # most orders with a token were not caused by the user the token names
        assert diag["caused_share_of_token_orders"] < 0.4
        # some caused orders lost their token
        assert diag["token_orders_by_kind"]["caused_share"] < diag["caused_share_orders_observed"]
    assert (
        truth(low)[0]["attribution"]["token_orders_by_kind"]["coincidence"]
        > truth(high)[0]["attribution"]["token_orders_by_kind"]["coincidence"]
    )


def test_adversarial_persuasiveness_independent_of_audience_and_traps_persuade_little(high: Path):
    _, users = truth(high)
    seg = np.asarray(users["segment"].to_pylist(), dtype=object)
    p = users["persuasiveness"].to_numpy()
    friends = users["friends"].to_numpy()
    regular = seg == "regular"
    assert abs(spearmanr(p[regular], friends[regular]).statistic) < 0.05
    assert np.percentile(p[regular], 90) / np.percentile(p[regular], 10) > 5  # continuous spread
    for trap in ("kol", "socialite", "big_spender"):
        assert np.median(p[seg == trap]) < np.median(p[regular]) / 3
    assert friends[seg == "socialite"].mean() > 2 * friends[regular].mean()


def test_adversarial_staff_and_fraud_truth_is_zero_and_spenders_spend(high: Path):
    _, users = truth(high)
    total = pc.cast(users["true_referred_gmv_total"], pa.float64()).to_numpy()
    staff = users["is_staff"].to_numpy(zero_copy_only=False)
    fraud = users["is_fraud"].to_numpy(zero_copy_only=False)
    assert staff.any() and fraud.any()
    assert (total[staff | fraud] == 0).all()
    assert total.sum() > 0
    orders = read(high, "orders")
    seg = dict(zip(users["user_id"].to_pylist(), users["segment"].to_pylist(), strict=True))
    spent: dict[str, float] = {}
    for b, a in zip(orders["buyer"].to_pylist(), orders["amount"].to_pylist(), strict=True):
        spent[b] = spent.get(b, 0.0) + a
    top = sorted(spent, key=spent.__getitem__, reverse=True)[:20]
    assert sum(seg[u] == "big_spender" for u in top) >= 15
    big = ids_where(users, np.asarray(users["segment"].to_pylist(), dtype=object) == "big_spender")
    big_truth = total[np.isin(users["user_id"].to_pylist(), list(big))]
    assert big_truth.mean() < total[total > 0].mean() / 5


def test_adversarial_kols_have_the_largest_audiences(high: Path):
    meta, _ = truth(high)
    views = read(high, "views")
    audience: dict[str, set] = {}
    for s, v in zip(views["sharer"].to_pylist(), views["viewer"].to_pylist(), strict=True):
        audience.setdefault(s, set()).add(v)
    top = sorted(audience, key=lambda u: len(audience[u]), reverse=True)[: len(meta["kols"])]
    assert len(set(top) & set(meta["kols"])) >= len(meta["kols"]) // 2


def test_koc_synth_cli_world_adversarial(tmp_path: Path):
    result = CliRunner().invoke(
        cli,
        [
            "synth",
            "--world",
            "adversarial",
            "--observability",
            "low",
            "-n",
            "500",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "roster_employees.csv").is_file()
    meta = json.loads((tmp_path / "ground_truth.json").read_text())
    assert meta["world"] == "adversarial" and meta["params"]["observability"] == "low"
