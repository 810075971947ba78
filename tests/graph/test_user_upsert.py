"""User records upserted over a stored users table, against a plain-Python reference.

The store updates changed users in the storage order of their rows (issue 20); these
tests ingest real CSV files whose user records arrive in an order unrelated to the
rows' order, over several batches, and check every stored attribute against the
last record of each user computed independently here.
"""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.ingest import ingest_files
from graph.ingest.keys import derive_event_id

_FIELDS = ("user_id", "role", "display_name", "store_id", "channel", "created_at", "phone_hash")
_ROLES = ("consumer", "kol", "employee", "")
_T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _write(path: Path, header: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    with gzip.open(path, "wt", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["type", *header])
        w.writeheader()
        w.writerows(rows)
    return path


def _record(rng: np.random.Generator, user_id: str) -> dict[str, str]:
    return {
        "type": "user",
        "user_id": user_id,
        "role": _ROLES[rng.integers(len(_ROLES))],
        "display_name": f"name-{rng.integers(1_000_000)}",
        "store_id": f"s{rng.integers(50)}" if rng.random() < 0.8 else "",
        "channel": ("wechat", "douyin", "")[rng.integers(3)],
        "created_at": (_T0 + timedelta(seconds=int(rng.integers(10**7)))).isoformat(),
        "phone_hash": f"p{rng.integers(10**9)}",
    }


def _expected(record: dict[str, str]) -> dict[str, object]:
    """The stored row of a user whose last record is ``record`` (hand-written rule)."""
    typed: dict[str, object] = {
        "user_id": record["user_id"],
        "role": record["role"] or None,
        "display_name": record["display_name"],
        "store_id": record["store_id"] or None,
        "channel": record["channel"] or None,
        "created_at": datetime.fromisoformat(record["created_at"]),
        "phone_hash": record["phone_hash"],
    }
    return {
        **typed,
        "role": typed["role"] or "unknown",
        "declared": True,
        "event_id": derive_event_id(EventType.USER, typed),
    }


def _stored(store: DuckDBStore) -> dict[str, dict[str, object]]:
    cols = ", ".join(["idx", "declared", "event_id", *_FIELDS])
    rows = store.conn.execute(f"SELECT {cols} FROM users").fetchall()
    names = ["idx", "declared", "event_id", *_FIELDS]
    return {r[names.index("user_id")]: dict(zip(names, r, strict=True)) for r in rows}


def test_upsert_users_out_of_row_order_matches_last_record_per_user(tmp_path: Path) -> None:
    rng = np.random.default_rng(20)
    n = 3000
    ids = [f"u{i:05d}" for i in range(n)]
    # events create the users' rows in one order ...
    shares = [
        {"type": "share", "sharer": ids[i], "content_id": f"c{k}", "ts": "2024-03-01T10:00:00Z"}
        for k, i in enumerate(rng.permutation(n))
    ]
    events = _write(tmp_path / "shares.csv.gz", ("sharer", "content_id", "ts"), shares)
    # ... the first user file declares them (plus 300 unseen users) in another
    first = [_record(rng, f"u{i:05d}") for i in rng.permutation(n + 300)]
    # the second changes some, repeats some unchanged, and has some users twice:
    # first unchanged (a duplicate whether or not it shares a batch), then changed
    last = {r["user_id"]: r for r in first}
    second, dup, ins = [], 0, 0
    for i in rng.permutation(n + 300)[:2000]:
        uid, kind = f"u{i:05d}", rng.integers(3)
        if kind == 0:
            second.append(dict(last[uid]))
            dup += 1
        else:
            if kind == 2:
                second.append(dict(last[uid]))
                dup += 1
            second.append(_record(rng, uid))
            ins += 1
    for k in range(100):  # brand-new users, declared only here
        second.append(_record(rng, f"new{k:03d}"))
        ins += 1
    header = tuple(_FIELDS)
    with DuckDBStore(tmp_path / "koc.duckdb") as store:
        ingest_files(store, [events], batch_rows=500)
        idx_before = {u: r["idx"] for u, r in _stored(store).items()}
        s1 = ingest_files(store, [_write(tmp_path / "u1.csv.gz", header, first)], batch_rows=700)
        s2 = ingest_files(store, [_write(tmp_path / "u2.csv.gz", header, second)], batch_rows=700)
        after_second = _stored(store)
        s3 = ingest_files(store, [tmp_path / "u2.csv.gz"], batch_rows=700)
        got = _stored(store)
    assert (s1.read, s1.inserted, s1.duplicates, s1.rejected) == (n + 300, n + 300, 0, 0)
    assert (s2.read, s2.inserted, s2.duplicates, s2.rejected) == (len(second), ins, dup, 0)
    assert s3.read == s3.inserted + s3.duplicates and s3.rejected == 0
    assert got == after_second  # the same file again leaves the same users
    final = {r["user_id"]: r for r in first + second}  # last record per user wins
    assert set(got) == set(final)
    for uid, record in final.items():
        row = dict(got[uid])
        idx = row.pop("idx")
        assert row == _expected(record), uid
        if uid in idx_before:
            assert idx == idx_before[uid], uid  # the node index never moves
    assert sorted(r["idx"] for r in got.values()) == list(range(len(final)))


def test_upsert_users_batch_larger_than_table_updates_every_row(tmp_path: Path) -> None:
    """One batch updating every user of a smaller table (the plan builds its hash on users)."""
    rng = np.random.default_rng(7)
    ids = [f"v{i:04d}" for i in range(1500)]
    shares = [
        {"type": "share", "sharer": ids[i], "content_id": f"c{k}", "ts": "2024-03-01T10:00:00Z"}
        for k, i in enumerate(rng.permutation(1000))
    ]
    events = _write(tmp_path / "shares.csv.gz", ("sharer", "content_id", "ts"), shares)
    records = [_record(rng, ids[i]) for i in rng.permutation(1500)]
    users = _write(tmp_path / "users.csv.gz", tuple(_FIELDS), records)
    with DuckDBStore(tmp_path / "koc.duckdb") as store:
        ingest_files(store, [events])
        ingest_files(store, [users])
        got = _stored(store)
    assert {u: {k: v for k, v in r.items() if k != "idx"} for u, r in got.items()} == {
        r["user_id"]: _expected(r) for r in records
    }
