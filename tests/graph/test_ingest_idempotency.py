"""Loading twice changes nothing; a load killed mid-file and run again equals one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.duckdb_store import DuckDBStore
from graph.events import EventType
from graph.ingest import ingest_files, ingest_records

KOC = str(Path(sys.executable).with_name("koc"))


def _state(store: DuckDBStore) -> dict[str, object]:
    """What a load leaves behind: counts, event ids per type, reject ids."""
    state: dict[str, object] = {"counts": store.counts()}
    for t in EventType:
        state[t.value] = sorted(store.read_events(t).column("event_id").to_pylist())
    state["rejects"] = sorted(store.read_rejects().column("reject_id").to_pylist())
    return state


def test_ingest_twice_changes_nothing(good_csv, write_file, ingest, store) -> None:
    bad = write_file("bad.csv", "type,sharer,content_id,ts\nshare,s,c,2024-01-01T00:00:00\n")
    first = ingest(good_csv, bad)
    before = _state(store)
    second = ingest(good_csv, bad)
    assert _state(store) == before
    assert second.inserted == 0
    assert second.duplicates == first.inserted + first.duplicates
    assert second.rejected == first.rejected == 1


_records = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["view", "order", "share"]),
            "sharer": st.sampled_from(["a", "b", "c"]),
            "viewer": st.sampled_from(["a", "b", "c", "d"]),
            "content_id": st.sampled_from(["c1", "c2"]),
            "order_id": st.sampled_from(["o1", "o2", "o3"]),
            "buyer": st.sampled_from(["a", "b"]),
            "amount": st.sampled_from(["1.00", "2.50", "-1", "abc"]),
            "currency": st.sampled_from(["CNY", "USD"]),
            "ts": st.sampled_from(["2024-01-01T00:00:00Z", "1704067201", "2024-01-01T00:00:00"]),
        }
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=_records, cut=st.integers(min_value=0, max_value=25))
def test_ingest_records_idempotent_and_batching_invariant(records, cut) -> None:
    with DuckDBStore(":memory:") as whole, DuckDBStore(":memory:") as parts:
        s1 = ingest_records(whole, records)
        state = _state(whole)
        again = ingest_records(whole, records)
        assert _state(whole) == state  # idempotent
        assert again.inserted == 0 and again.rejected == s1.rejected
        # the same records in two calls, the second repeating the first: same events
        ingest_records(parts, records[:cut])
        ingest_records(parts, records)
        for t in EventType:
            assert _state(parts)[t.value] == state[t.value]


def _big_csv(path: Path, n: int) -> None:
    """``n`` rows of views and orders (about 1 % invalid), written with numpy."""
    rng = np.random.default_rng(42)
    users = rng.integers(0, n // 10, size=(n, 2))
    ts = 1_704_067_200 + rng.integers(0, 86_400 * 30, size=n)
    is_order = rng.random(n) < 0.2
    amount = rng.integers(1, 100_000, size=n) / 100
    bad = rng.random(n) < 0.01
    lines = ["type,viewer,sharer,content_id,order_id,buyer,amount,currency,ts"]
    for i in range(n):  # test data only; the loader itself never loops over rows
        if is_order[i]:
            cur = "XXX" if bad[i] else "CNY"
            lines.append(f"order,,,,o{i},u{users[i, 0]},{amount[i]:.2f},{cur},{ts[i]}")
        else:
            viewer = f"u{users[i, 1]}" if not bad[i] else f"u{users[i, 0]}"
            lines.append(f"view,{viewer},u{users[i, 0]},c{i % 997},,,,,{ts[i]}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_ingest_killed_mid_file_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    src = tmp_path / "big.csv"
    _big_csv(src, 20_000)
    with DuckDBStore(tmp_path / "clean.duckdb") as clean:
        ingest_files(clean, [src], batch_rows=1_000)
        expected = _state(clean)
    total = sum(expected["counts"][t.value] for t in EventType)

    for attempt in range(6):
        db = tmp_path / f"crash{attempt}.duckdb"
        proc = subprocess.Popen(
            [KOC, "--db", str(db), "ingest", str(src), "--batch-rows", "1000", "-q", "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wal = Path(str(db) + ".wal")
        deadline = time.monotonic() + 120
        baseline = None
        while proc.poll() is None and time.monotonic() < deadline:
            size = (db.stat().st_size if db.exists() else 0) + (
                wal.stat().st_size if wal.exists() else 0
            )
            if baseline is None and size:
                baseline = size
            # wait for a few committed batches, then kill without any chance to clean up
            if baseline is not None and size > baseline + 100_000 * (attempt + 1):
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with DuckDBStore(db) as s:
            partial = sum(s.counts()[t.value] for t in EventType)
        if 0 < partial < total:
            break
    else:
        pytest.fail("could not kill the load mid-file in 6 attempts")

    rerun = subprocess.run(
        [KOC, "--db", str(db), "ingest", str(src), "--batch-rows", "1000", "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    with DuckDBStore(db) as s:
        assert _state(s) == expected


def test_ingest_interrupted_keeps_whole_batches_then_completes(tmp_path: Path) -> None:
    src = tmp_path / "mid.csv"
    _big_csv(src, 2_000)
    with DuckDBStore(tmp_path / "clean.duckdb") as clean:
        ingest_files(clean, [src], batch_rows=500)
        expected = _state(clean)

    calls = 0

    def ctrl_c_after_two_batches(source: str, done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    with DuckDBStore(tmp_path / "cut.duckdb") as store:
        with pytest.raises(KeyboardInterrupt):
            ingest_files(store, [src], batch_rows=500, progress=ctrl_c_after_two_batches)
        stored = sum(store.counts()[t.value] for t in EventType) + store.counts()["rejects"]
        assert stored == 1_000  # exactly two whole batches of 500 rows (no duplicates in the file)
        again = ingest_files(store, [src], batch_rows=500)
        assert again.duplicates + again.rejected >= 1_000 - store.counts()["rejects"]
        assert _state(store) == expected
