"""The roles service on a small store with role-typical behaviour written by hand.

240 users: 8 KOLs whose shares reach 30 random people each, 20 sales guides in
two stores whose customers comment on them and whom they refer, and 212
consumers who view a few shares and buy. Three quarters of each role are
declared on the user record; the rest are ``unknown`` and must be inferred.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from threadpoolctl import threadpool_limits

from api.services.ranking import leaderboard, run_ranking
from api.services.roles import (
    effective_roles,
    evaluate_roles,
    import_roles,
    infer_roles,
    role_view,
    roles_summary,
)
from graph.duckdb_store import DuckDBStore
from graph.errors import ConfigError, NotFoundError
from graph.events import EventType
from graph.roles import role_at
from graph.store import ARROW_SCHEMAS

T0 = datetime(2026, 7, 1, tzinfo=UTC)
N_KOL, N_EMP, N_CON = 8, 20, 212


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


KOLS, EMPS, CONS = _ids("k", N_KOL), _ids("e", N_EMP), _ids("c", N_CON)
TRUE_ROLE = {
    **{u: "kol" for u in KOLS},
    **{u: "employee" for u in EMPS},
    **{u: "consumer" for u in CONS},
}


def _table(event_type: EventType, cols: dict[str, list]) -> pa.Table:
    schema = ARROW_SCHEMAS[event_type]
    n = len(next(iter(cols.values())))
    return pa.table({name: cols.get(name, [None] * n) for name in schema.names}, schema=schema)


def _populate(store: DuckDBStore) -> None:
    rng = np.random.default_rng(11)
    users = KOLS + EMPS + CONS
    declared = rng.random(len(users)) < 0.75
    home = {u: f"S{i % 2}" for i, u in enumerate(EMPS + CONS)}
    ts = lambda k: [T0 + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 60, k)]  # noqa: E731
    tables = {
        EventType.USER: _table(
            EventType.USER,
            {
                "event_id": [f"user-{u}" for u in users],
                "user_id": users,
                "role": [
                    TRUE_ROLE[u] if d else "unknown" for u, d in zip(users, declared, strict=True)
                ],
                "store_id": [home.get(u) for u in users],
            },
        )
    }
    view_s, view_v, fwd_from, fwd_by, com_on, com_by, ref_r, ref_e = ([] for _ in range(8))
    for k in KOLS:
        viewers = rng.choice(CONS, 30, replace=False).tolist()
        view_s += [k] * 30
        view_v += viewers
        fwd_from += [k] * 3
        fwd_by += viewers[:3]
    for i, e in enumerate(EMPS):
        customers = [c for j, c in enumerate(CONS) if j % 2 == i % 2]
        picked = rng.choice(customers, 8, replace=False).tolist()
        com_on += [e] * 8
        com_by += picked
        ref_r += [e] * 2
        ref_e += picked[:2]
        view_s += [e] * 4
        view_v += picked[2:6]
    for c in CONS:
        view_s += rng.choice(CONS, 2).tolist()
        view_v += [c, c]
    tables[EventType.VIEW] = _table(
        EventType.VIEW,
        {
            "event_id": [f"v{i}" for i in range(len(view_s))],
            "viewer": view_v,
            "sharer": view_s,
            "content_id": [f"post-{s}" for s in view_s],
            "ts": ts(len(view_s)),
        },
    )
    tables[EventType.FORWARD] = _table(
        EventType.FORWARD,
        {
            "event_id": [f"f{i}" for i in range(len(fwd_by))],
            "forwarder": fwd_by,
            "from_user": fwd_from,
            "content_id": [f"post-{s}" for s in fwd_from],
            "ts": ts(len(fwd_by)),
        },
    )
    tables[EventType.COMMENT] = _table(
        EventType.COMMENT,
        {
            "event_id": [f"m{i}" for i in range(len(com_by))],
            "commenter": com_by,
            "on_user": com_on,
            "content_id": [f"post-{s}" for s in com_on],
            "ts": ts(len(com_by)),
        },
    )
    tables[EventType.REFERRAL] = _table(
        EventType.REFERRAL,
        {
            "event_id": [f"r{i}" for i in range(len(ref_r))],
            "referrer": ref_r,
            "referee": ref_e,
            "ts": ts(len(ref_r)),
        },
    )
    shares = KOLS * 10 + EMPS * 3
    tables[EventType.SHARE] = _table(
        EventType.SHARE,
        {
            "event_id": [f"s{i}" for i in range(len(shares))],
            "sharer": shares,
            "content_id": [f"post-{s}" for s in shares],
            "ts": ts(len(shares)),
        },
    )
    buyers = CONS + CONS[:100] + view_v[:40]
    tables[EventType.ORDER] = _table(
        EventType.ORDER,
        {
            "event_id": [f"o{i}" for i in range(len(buyers))],
            "order_id": [f"o{i}" for i in range(len(buyers))],
            "buyer": buyers,
            "amount": [Decimal(int(a)) for a in rng.integers(50, 500, len(buyers))],
            "currency": ["CNY"] * len(buyers),
            "ts": ts(len(buyers)),
            "attribution_token": [
                f"post-{view_s[i]}" if i < 40 else None for i in range(len(buyers))
            ],
        },
    )
    store.append_batch(tables)


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    with threadpool_limits(1):
        yield


@pytest.fixture
def rstore(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "roles.duckdb")
    _populate(s)
    yield s
    s.close()


def _by_user(table: pa.Table) -> dict[str, dict]:
    return {r["user_id"]: r for r in table.to_pylist()}


def test_effective_roles_before_inference_declared_or_unknown(rstore: DuckDBStore) -> None:
    eff = effective_roles(rstore)
    assert eff.column_names == ["user_id", "role", "source", "confidence", "model_version"]
    assert eff.num_rows == N_KOL + N_EMP + N_CON
    for r in eff.to_pylist():
        assert (r["source"] == "declared") == (r["role"] != "unknown")
        assert r["role"] in ("unknown", TRUE_ROLE[r["user_id"]])


def test_infer_roles_fills_unknowns_and_never_overrides_declared(rstore: DuckDBStore) -> None:
    before = _by_user(effective_roles(rstore))
    result = infer_roles(rstore, threshold=0.6, cv_folds=3)
    after = _by_user(effective_roles(rstore))
    assert result["trained_on"] == {
        role: sum(1 for r in before.values() if r["role"] == role)
        for role in ("consumer", "employee", "kol")
    }
    assert result["metrics"]["cv"]["macro"]["f1"] > 0.85
    for u, r in before.items():
        if r["source"] == "declared":
            assert after[u] == r  # untouched
    inferred = [r for r in after.values() if r["source"] == "inferred"]
    assert inferred and all(r["model_version"] == result["model_version"] for r in inferred)
    assert all(r["confidence"] >= 0.6 for r in inferred)
    right = sum(r["role"] == TRUE_ROLE[r["user_id"]] for r in inferred)
    assert right / len(inferred) >= 0.9
    rows = rstore.conn.execute(
        "SELECT role, predicted_role, confidence FROM role_inferences WHERE model_version = ?",
        [result["model_version"]],
    ).fetchall()
    assert all((role == "unknown") == (conf < 0.6) for role, _, conf in rows)
    assert roles_summary(rstore)["model"]["model_version"] == result["model_version"]


def test_evaluate_roles_scores_hidden_users_against_truth(
    rstore: DuckDBStore, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.csv"
    pacsv.write_csv(pa.table({"user_id": list(TRUE_ROLE), "role": list(TRUE_ROLE.values())}), truth)
    out = evaluate_roles(rstore, folds=3, ground_truth=truth)
    assert out["n_declared"] + out["n_undeclared"] == len(TRUE_ROLE)
    assert out["holdout"]["n"] == out["n_undeclared"]
    assert out["holdout"]["macro"]["f1"] > 0.85
    assert 0.0 < out["holdout_thresholded"]["coverage"] <= 1.0
    assert len(out["cv"]["confusion"]["matrix"]) == 3


def test_employee_who_left_is_consumer_in_views_commissions_and_ranking(
    rstore: DuckDBStore, tmp_path: Path
) -> None:
    leaver, stayer = EMPS[0], EMPS[1]
    roster = tmp_path / "employees.csv"
    roster.write_text(
        f"user_id,store_id,since,until\n{leaver},S0,2026-01-01,2026-08-01\n{stayer},S1,2026-01-01,\n"
    )
    assert import_roles(rstore, roster, kind="employee")["inserted"] == 2
    # commissions: the role at each order date
    at = role_at(
        rstore.conn,
        [leaver, leaver],
        [datetime(2026, 7, 31, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)],
    )
    assert at.column("role").to_pylist() == ["employee", "consumer"]
    before = role_view(rstore, "employee", at=datetime(2026, 7, 15, tzinfo=UTC), limit=50)
    after = role_view(rstore, "employee", at=datetime(2026, 9, 1, tzinfo=UTC), limit=50)
    assert leaver in {r["user_id"] for r in before["items"]}
    assert leaver not in {r["user_id"] for r in after["items"]}
    assert {r["user_id"]: r["store_id"] for r in after["items"]}[stayer] == "S1"
    run_ranking(rstore)  # roles are read now, after the leaving date
    scores = _by_user(rstore.read_scores(rstore.latest_run().run_id))
    assert scores[leaver]["role"] == "consumer" and scores[stayer]["role"] == "employee"


def test_ranking_never_lists_staff_on_consumer_leaderboard(
    rstore: DuckDBStore, tmp_path: Path
) -> None:
    hidden_kol = next(
        u for u in KOLS if effective_roles(rstore).to_pylist()[KOLS.index(u)]["role"] == "unknown"
    )
    kols = tmp_path / "kols.csv"
    kols.write_text(f"user_id,agency,since,fee\n{hidden_kol},Acme,2026-06-01,1000\n")
    import_roles(rstore, kols, kind="kol")
    infer_roles(rstore, threshold=0.6)
    run_ranking(rstore)
    scores = _by_user(rstore.read_scores(rstore.latest_run().run_id))
    assert scores[hidden_kol]["role"] == "kol"
    board = leaderboard(rstore, limit=10_000)
    assert not {r["role"] for r in board} & {"employee", "kol"}
    assert hidden_kol in {r["user_id"] for r in leaderboard(rstore, role="kol", limit=100)}
    consumer = role_view(rstore, "consumer", limit=30)
    staff = {
        u for u, r in _by_user(effective_roles(rstore)).items() if r["role"] in ("employee", "kol")
    }
    assert consumer["items"] and not {r["user_id"] for r in consumer["items"]} & staff
    assert [r["rank"] for r in consumer["items"]] == list(range(1, len(consumer["items"]) + 1))
    kol = role_view(rstore, "kol", limit=20)
    item = {r["user_id"]: r for r in kol["items"]}[hidden_kol]
    assert item["fee"] == "1000.00" and item["audience"] == 30
    assert item["reach"] >= 30  # exact multi-hop reach includes the one-hop audience
    assert item["gmv_per_fee"] == pytest.approx(float(Decimal(item["attributed_gmv"]) / 1000))
    assert kol["overlap"] and all(0 < p["jaccard"] <= 1 for p in kol["overlap"])


def test_role_view_rejects_unknown_role_and_bad_limit(rstore: DuckDBStore) -> None:
    with pytest.raises(NotFoundError, match="employee, kol, consumer"):
        role_view(rstore, "ceo")
    with pytest.raises(ConfigError, match="'limit' parameter"):
        role_view(rstore, "kol", limit=0)
    with pytest.raises(NotFoundError, match="koc rank"):
        role_view(rstore, "consumer")  # no ranking run yet


def test_koc_roles_cli_import_infer_summary_top(rstore: DuckDBStore, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from api.cli import cli

    path = rstore.path
    rstore.close()
    roster = tmp_path / "employees.csv"
    roster.write_text(f"user_id,store_id,since\n{EMPS[0]},S0,2026-01-01\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,store_id,since\nx,,2026-01-01\n")
    runner = CliRunner()

    def koc(*args: str) -> str:
        result = runner.invoke(cli, ["--db", path, "roles", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    assert json.loads(koc("import", str(roster), "--kind", "employee", "--json"))["inserted"] == 1
    with pytest.raises(Exception, match="row 1, field 'store_id'"):
        runner.invoke(
            cli,
            ["--db", path, "roles", "import", str(bad), "--kind", "employee"],
            catch_exceptions=False,
        )
    assert "model roles-" in koc("infer", "--threshold", "0.7")
    summary = json.loads(koc("summary", "--json"))
    assert summary["roles"]["employee"]["declared"] >= 1 and summary["model"]["threshold"] == 0.7
    view = json.loads(koc("top", "--role", "employee", "--limit", "3", "--json"))
    assert view["role"] == "employee" and len(view["items"]) == 3
    assert "per store" in koc("top", "--role", "employee")


def test_small_sample_caveats_give_the_wilson_interval() -> None:
    from api.services.roles._inference import small_sample_caveats

    report = {
        "per_class": {
            "kol": {"precision": 1.0, "recall": 1.0, "support": 4},
            "consumer": {"precision": 1.0, "recall": 1.0, "support": 40},
        },
        "confusion": {"labels": ["kol", "consumer"], "matrix": [[4, 0], [0, 40]]},
    }
    (caveat,) = small_sample_caveats(report)
    # Wilson (1927) for 4 of 4 at 95%: [0.510, 1.000] (hand computed)
    assert caveat.startswith("kol: precision 1.000 on 4 predictions (95% interval 0.51-1.00)")


def test_evaluate_roles_with_too_few_examples_for_the_folds_is_a_clear_error() -> None:
    import numpy as np

    from api.services.roles._inference import _check_folds
    from graph.errors import ScoringError

    labels = np.array(["consumer"] * 10 + ["employee"] * 2, dtype=object)
    with pytest.raises(
        ScoringError, match=r"5-fold cross-validation \(employee 2; each role needs 5\)"
    ):
        _check_folds(labels, 5)
    _check_folds(labels[:10], 2)  # 10 consumers: enough for 2 folds (needs 6)
