"""Faults of the embedded store's files: a garbage write-ahead log, corrupt blocks, a full disk.

Each must end in one clear error naming the file and what to do, never a traceback and
never a silent loss (issue 14, Low: "disk full and corrupt blocks give raw tracebacks, a
garbage WAL is silently dropped").
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from api.cli import run
from graph.duckdb_files import WAL_HEADER
from graph.duckdb_store import DuckDBStore
from graph.errors import StoreError
from graph.events import EventType
from graph.ingest import ingest_files

KOC = str(Path(sys.executable).with_name("koc"))
BLOCK = 262_144  # DuckDB's block size; blocks start after three 4 KiB headers
FIRST_BLOCK = 3 * 4096


def _users_csv(path: Path, n: int) -> Path:
    lines = ["type,user_id,role,display_name,created_at"]
    lines += [f"user,u{i:06d},consumer,User {i},2024-01-01T00:00:00Z" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _views_csv(path: Path, n: int) -> Path:
    lines = ["type,viewer,sharer,content_id,ts"]
    lines += [
        f"view,u{i % 5000:06d},u{(i * 7 + 1) % 5000:06d},c{i},2024-01-02T00:00:00Z"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _wal_with_committed_rows(tmp_path: Path) -> Path:
    """A store whose last committed batch lives only in its WAL (the writer died after
    the commit, before any checkpoint), as after a killed ``koc ingest``."""
    db = tmp_path / "k.duckdb"
    with DuckDBStore(db) as store:
        ingest_files(store, [_users_csv(tmp_path / "users.csv", 100)])
    code = (
        "import os, sys\n"
        "from graph.duckdb_store import DuckDBStore\n"
        "from graph.ingest import ingest_files\n"
        "s = DuckDBStore(sys.argv[1])\n"
        "s.conn.execute('PRAGMA disable_checkpoint_on_shutdown')\n"
        "ingest_files(s, [sys.argv[2]])\n"
        "os._exit(0)\n"  # no close, no checkpoint: the commit is in the WAL only
    )
    views = _views_csv(tmp_path / "views.csv", 50)
    subprocess.run([sys.executable, "-c", code, str(db), str(views)], check=True, timeout=120)
    wal = Path(f"{db}.wal")
    assert wal.stat().st_size > len(WAL_HEADER)
    return db


def test_store_real_wal_is_replayed(tmp_path: Path) -> None:
    db = _wal_with_committed_rows(tmp_path)
    with DuckDBStore(db) as store:
        assert store.counts()[EventType.VIEW.value] == 50


@pytest.mark.parametrize("garbage", ["random", "zeros", "text"])
def test_store_garbage_wal_refused_not_dropped(tmp_path: Path, garbage: str) -> None:
    db = _wal_with_committed_rows(tmp_path)
    wal = Path(f"{db}.wal")
    size = wal.stat().st_size
    content = {
        "random": os.urandom(size),
        "zeros": bytes(size),
        "text": b"not a write-ahead log\n" * 8,
    }[garbage]
    if garbage == "random" and content.startswith(WAL_HEADER):  # 1 in 2**40
        content = b"\xff" + content[1:]
    wal.write_bytes(content)
    # what the check guards against: DuckDB itself opens over it and the 50 views are gone
    probe = tmp_path / "probe.duckdb"
    probe.write_bytes(db.read_bytes())
    Path(f"{probe}.wal").write_bytes(content)
    with duckdb.connect(str(probe)) as raw:
        assert raw.execute("SELECT count(*) FROM events").fetchone() == (0,)

    with pytest.raises(StoreError, match=r"k\.duckdb\.wal .*is not a DuckDB WAL.*move .* aside"):
        DuckDBStore(db)
    with pytest.raises(StoreError, match="is not a DuckDB WAL"):
        DuckDBStore(db, read_only=True)
    assert wal.read_bytes() == content  # left as found, for the operator to decide


def test_cli_garbage_wal_one_clear_line(tmp_path: Path) -> None:
    db = _wal_with_committed_rows(tmp_path)
    Path(f"{db}.wal").write_bytes(bytes(64))
    proc = subprocess.run(
        [KOC, "--db", str(db), "status"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "is not a DuckDB WAL" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_corrupt_block_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pristine = tmp_path / "pristine.duckdb"
    with DuckDBStore(pristine) as store:
        ingest_files(store, [_users_csv(tmp_path / "users.csv", 20_000)])
    size = pristine.stat().st_size
    damaged = 0
    for offset in range(FIRST_BLOCK, size, BLOCK):
        db = tmp_path / f"b{offset}.duckdb"
        data = bytearray(pristine.read_bytes())
        data[offset + 64 : offset + 128] = bytes(b ^ 0xFF for b in data[offset + 64 : offset + 128])
        db.write_bytes(bytes(data))
        # `roles summary` reads every user row; run() is what `koc` runs: any exception
        # a command did not turn into a clear error would escape here
        status = run(["--db", str(db), "roles", "summary"])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if status:
            assert status == 2
            assert "damaged" in err and str(db) in err, err
            damaged += 1
    assert damaged >= 2  # the metadata block (refused on open) and a data block (on read)


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_cli_ingest_disk_full_clear_error_then_rerun_completes(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    users = _users_csv(tmp_path / "users.csv", 5000)
    views = _views_csv(tmp_path / "views.csv", 60_000)
    assert (
        subprocess.run([KOC, "--db", str(db), "ingest", str(users), "-q"], timeout=300).returncode
        == 0
    )
    # the store may grow by less than the views need: the disk "fills up" mid-load
    full = subprocess.run(
        [KOC, "--db", str(db), "ingest", str(views), "--batch-rows", "5000", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size(db.stat().st_size + 600_000),
    )
    assert full.returncode == 2, full.stderr
    assert "Traceback" not in full.stderr
    assert "could not write a batch" in full.stderr
    assert "disk is full (or the file size limit reached)" in full.stderr
    again = subprocess.run(
        [KOC, "--db", str(db), "ingest", str(views), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    with DuckDBStore(db, read_only=True) as store:
        assert store.counts()[EventType.VIEW.value] == 60_000
