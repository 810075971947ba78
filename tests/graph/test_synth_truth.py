"""``koc synth`` behaviour and ground truth, recomputed independently from the files (DuckDB SQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from graph.events import EventType
from graph.synth import MONTHS, SynthParams, generate, gmv_column

USERS, SEED = 2_000, 11


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth_truth")
    generate(path, SynthParams(users=USERS, seed=SEED))
    return path


@pytest.fixture(scope="module")
def truth(out: Path) -> dict[str, Any]:
    return json.loads((out / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def db(out: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.sql("SET TimeZone = 'Asia/Shanghai'")
    casts = {
        "ts": "ts::TIMESTAMPTZ AS ts",
        "created_at": "created_at::TIMESTAMPTZ AS created_at",
        "amount": "amount::DECIMAL(20, 2) AS amount",
    }
    for t in EventType:
        name = f"{t.value}s"
        cols = con.sql(f"SELECT * FROM read_csv('{out}/{name}.csv.gz', all_varchar=true) LIMIT 0")
        select = ", ".join(casts.get(c, c) for c in cols.columns)
        con.sql(
            f"CREATE TABLE {name} AS SELECT {select} "
            f"FROM read_csv('{out}/{name}.csv.gz', all_varchar=true)"
        )
    con.sql(f"CREATE TABLE gt AS SELECT * FROM '{out}/ground_truth_users.parquet'")
    yield con
    con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    rows = con.sql(sql).fetchall()
    assert len(rows) == 1
    return rows[0]


# views joined to the order they caused (same buyer, token = content, within 7 days after)
CONVERSIONS = """
    WITH conv AS (
        SELECT DISTINCT v.sharer, v.content_id, v.viewer
        FROM views v JOIN orders o
          ON o.buyer = v.viewer AND o.attribution_token = v.content_id
         AND o.ts > v.ts AND o.ts <= v.ts + INTERVAL 7 DAY
    )
    SELECT g.segment, count(v.viewer) AS views, count(c.viewer) AS conversions
    FROM views v JOIN gt g ON g.user_id = v.sharer
    LEFT JOIN conv c USING (sharer, content_id, viewer)
    GROUP BY g.segment
"""


def test_cascades_timestamps_increase_along_chain(db: duckdb.DuckDBPyConnection) -> None:
    # every view/forward follows an earlier share or forward of that content by the one shown
    shown = """(SELECT sharer AS who, content_id, ts FROM shares
                UNION ALL SELECT forwarder, content_id, ts FROM forwards)"""
    for table, actor in (("views", "sharer"), ("forwards", "from_user")):
        (bad,) = one(
            db,
            f"""
            SELECT count(*) FROM {table} e WHERE NOT EXISTS (
                SELECT 1 FROM {shown} s
                WHERE s.who = e.{actor} AND s.content_id = e.content_id AND s.ts < e.ts)""",
        )
        assert bad == 0, table
    # and every forwarder had viewed the content before forwarding it
    (bad,) = one(
        db,
        """SELECT count(*) FROM forwards f WHERE NOT EXISTS (
        SELECT 1 FROM views v WHERE v.viewer = f.forwarder AND v.content_id = f.content_id
        AND v.sharer = f.from_user AND v.ts < f.ts)""",
    )
    assert bad == 0
    (depth,) = one(
        db,
        """
        WITH RECURSIVE chain(content_id, who, depth) AS (
            SELECT content_id, sharer, 0 FROM shares
            UNION ALL
            SELECT f.content_id, f.forwarder, c.depth + 1 FROM forwards f
            JOIN chain c ON f.content_id = c.content_id AND f.from_user = c.who
            WHERE c.depth < 20)
        SELECT max(depth) FROM chain""",
    )
    assert depth >= 2


def test_refunds_about_five_percent_never_exceed_order(db: duckdb.DuckDBPyConnection) -> None:
    n_orders, n_refunds, too_big, too_early, orphans = one(
        db,
        """
        SELECT (SELECT count(*) FROM orders), count(*),
               count(*) FILTER (WHERE r.amount > o.amount OR r.amount <= 0),
               count(*) FILTER (WHERE r.ts <= o.ts),
               count(*) FILTER (WHERE o.order_id IS NULL)
        FROM refunds r LEFT JOIN orders o USING (order_id)""",
    )
    assert 0.03 < n_refunds / n_orders < 0.07
    assert (too_big, too_early, orphans) == (0, 0, 0)
    (repeat_buyers,) = one(
        db, "SELECT count(*) FROM (SELECT buyer FROM orders GROUP BY 1 HAVING count(*) > 1)"
    )
    assert repeat_buyers > 0.05 * USERS


def test_planted_kocs_convert_better_than_average(db: duckdb.DuckDBPyConnection) -> None:
    rows = {seg: (v, c) for seg, v, c in db.sql(CONVERSIONS).fetchall()}
    overall = sum(c for _, c in rows.values()) / sum(v for v, _ in rows.values())
    koc_views, koc_conv = rows["koc"]
    kol_views, kol_conv = rows["kol"]
    assert koc_conv / koc_views > 4 * overall
    assert kol_views > koc_views  # KOLs reach more people ...
    assert kol_conv / kol_views < overall / 4  # ... who rarely buy


def test_baselines_are_misled_by_spenders_and_hubs(db: duckdb.DuckDBPyConnection) -> None:
    # the biggest spenders are not the ones who make others buy
    top_spend = db.sql("""
        SELECT g.segment FROM orders o JOIN gt g ON g.user_id = o.buyer
        GROUP BY o.buyer, g.segment ORDER BY sum(o.amount) DESC LIMIT 20""").fetchall()
    assert sum(s == "koc" for (s,) in top_spend) <= 3
    # hubs have more interactions than KOCs but refer less revenue
    deg = {
        seg: (d, gmv)
        for seg, d, gmv in db.sql("""
        WITH d AS (SELECT u, count(*) AS n FROM (
            SELECT viewer AS u FROM views UNION ALL SELECT sharer FROM views
            UNION ALL SELECT commenter FROM comments UNION ALL SELECT on_user FROM comments)
            GROUP BY u)
        SELECT g.segment, avg(coalesce(d.n, 0)), avg(g.true_referred_gmv_total)
        FROM gt g LEFT JOIN d ON d.u = g.user_id GROUP BY 1""").fetchall()
    }
    assert deg["hub"][0] > deg["koc"][0] and deg["hub"][1] < deg["koc"][1] / 3
    assert deg["kol"][0] > deg["koc"][0]


def test_employees_share_in_working_hours_for_store_customers(
    db: duckdb.DuckDBPyConnection,
) -> None:
    share = {
        role: frac
        for role, frac in db.sql("""
        SELECT g.role, avg(CASE WHEN hour(s.ts) BETWEEN 9 AND 17 AND isodow(s.ts) <= 5
                            THEN 1 ELSE 0 END)
        FROM shares s JOIN gt g ON g.user_id = s.sharer GROUP BY 1""").fetchall()
    }
    assert share["employee"] > 0.7 and share["consumer"] < 0.4
    (own_store,) = one(
        db,
        """
        SELECT avg(CASE WHEN gv.store_id = ge.store_id THEN 1 ELSE 0 END)
        FROM views v JOIN gt ge ON ge.user_id = v.sharer AND ge.role = 'employee'
        JOIN gt gv ON gv.user_id = v.viewer""",
    )
    assert own_store > 0.7
    (with_store,) = one(
        db,
        """
        SELECT avg(CASE WHEN o.store_id = g.store_id THEN 1 ELSE 0 END)
        FROM orders o JOIN views v ON v.content_id = o.attribution_token AND v.viewer = o.buyer
        JOIN gt g ON g.user_id = v.sharer AND g.role = 'employee'""",
    )
    assert with_store == 1


def test_true_referred_gmv_matches_files(db: duckdb.DuckDBPyConnection) -> None:
    # credit: the sharer of the view that preceded the order, or the referrer of a ref- token
    months = ", ".join(
        f"sum(net) FILTER (WHERE month = '{m}') AS m{i}" for i, m in enumerate(MONTHS)
    )
    recomputed = db.sql(f"""
        WITH net AS (
            SELECT o.order_id, o.buyer, o.attribution_token AS token, strftime(o.ts, '%Y-%m') AS month,
                   o.amount - coalesce((SELECT sum(r.amount) FROM refunds r
                                        WHERE r.order_id = o.order_id), 0) AS net
            FROM orders o WHERE o.attribution_token IS NOT NULL),
        credited AS (
            SELECT v.sharer AS who, n.* FROM net n
            JOIN views v ON v.viewer = n.buyer AND v.content_id = n.token
            UNION ALL
            SELECT substr(n.token, 5), n.* FROM net n WHERE n.token LIKE 'ref-%')
        SELECT who, {months}, count(*) AS orders FROM credited GROUP BY who""").fetchall()
    assert len(recomputed) > 50
    cols = ", ".join(gmv_column(m) for m in MONTHS)
    truth = {
        r[0]: r[1:]
        for r in db.sql(f"SELECT user_id, {cols}, true_referred_orders FROM gt").fetchall()
    }
    for who, *values in recomputed:
        expected = tuple(v if v is not None else Decimal("0.00") for v in values[:-1])
        assert truth[who] == (*expected, values[-1]), who
    assert sum(t[-1] for t in truth.values()) == sum(r[-1] for r in recomputed)


def test_ground_truth_consistent_with_users_file(
    db: duckdb.DuckDBPyConnection, truth: dict[str, Any]
) -> None:
    mismatched = one(
        db,
        """
        SELECT count(*) FILTER (WHERE u.user_id IS NULL OR g.user_id IS NULL),
               count(*) FILTER (WHERE u.role <> g.declared_role),
               count(*) FILTER (WHERE u.role <> 'unknown' AND u.role <> g.role),
               count(*) FILTER (WHERE g.role = 'employee' AND u.store_id IS DISTINCT FROM g.store_id)
        FROM users u FULL JOIN gt g USING (user_id)""",
    )
    assert mismatched == (0, 0, 0, 0)
    kocs = {u for (u,) in db.sql("SELECT user_id FROM gt WHERE is_planted_koc").fetchall()}
    assert kocs == set(truth["planted_kocs"])
    (consumers,) = one(db, "SELECT count(*) FROM gt WHERE role = 'consumer'")
    assert 0.015 < len(kocs) / consumers < 0.025
    employees = dict(db.sql("SELECT user_id, store_id FROM gt WHERE role = 'employee'").fetchall())
    assert employees == {e["user_id"]: e["store_id"] for e in truth["employees"]}
    assert set(truth["kols"]) == {
        u for (u,) in db.sql("SELECT user_id FROM gt WHERE role = 'kol'").fetchall()
    }


def test_referral_chains_fraud_rings_and_cycle(
    db: duckdb.DuckDBPyConnection, truth: dict[str, Any]
) -> None:
    edges = set(db.sql("SELECT referrer, referee FROM referrals").fetchall())
    devices = dict(db.sql("SELECT user_id, device_hash FROM users").fetchall())
    for ring in truth["fraud_rings"]:
        members = ring["members"]
        assert len(members) >= 4
        assert {devices[m] for m in members} == {ring["device_hash"]}
        assert all((a, b) in edges for a, b in zip(members, members[1:], strict=False))
    for pair in truth["self_referrals"]:
        assert (pair["referrer"], pair["referee"]) in edges
        assert devices[pair["referrer"]] == devices[pair["referee"]] == pair["device_hash"]
    ((a, b, c),) = truth["referral_cycles"]
    assert {(a, b), (b, c), (c, a)} <= edges
    # chains several levels deep, and referred users who buy
    (depth,) = one(
        db,
        """
        WITH RECURSIVE up(user_id, level) AS (
            SELECT referee, 1 FROM referrals
            UNION ALL SELECT r.referee, up.level + 1 FROM referrals r
            JOIN up ON r.referrer = up.user_id WHERE up.level < 10)
        SELECT max(level) FROM up""",
    )
    assert depth >= 3 and truth["max_referral_depth"] >= 3
    (buyers,) = one(
        db,
        "SELECT count(DISTINCT buyer) FROM orders WHERE buyer IN (SELECT referee FROM referrals)",
    )
    assert buyers > 0.3 * len(edges)
