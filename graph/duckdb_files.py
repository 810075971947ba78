"""Faults of the embedded store's files, reported instead of hidden (issue 14).

DuckDB keeps the writes since the last checkpoint in a write-ahead log next to the
database file (``<store>.wal``). Opened over a WAL whose first entry is not a DuckDB
WAL header (garbage, zeros, another program's file), DuckDB 2.0 silently ignores it
and the committed writes it held are gone, without a word. :func:`check_wal`
refuses such a WAL before DuckDB sees it. :func:`open_failure` and
:func:`store_failure` turn DuckDB's errors on open and on use (a held lock, a
corrupt block, a disk that is full) into a :class:`graph.errors.StoreError` that
says which file, what happened and what to do, instead of a raw traceback.

A WAL cut short at its end (a crash in the middle of a write) is not a fault: the
transaction it was writing never committed, and DuckDB drops that tail by design.
"""

from __future__ import annotations

import errno
from pathlib import Path

from graph.errors import StoreError

__all__ = ["WAL_HEADER", "check_wal", "fault_of", "open_failure", "store_failure"]

#: the first bytes of every DuckDB WAL (versions 1 and 2): the WAL_VERSION entry,
#: field 100 (entry type) = 98 (WAL_VERSION), then field 101 (the version)
WAL_HEADER = b"\x64\x00\x62\x65\x00"

_LOCK_WORDS = ("could not set lock", "conflicting lock")


def check_wal(path: str | Path) -> None:
    """Refuse to open a store whose write-ahead log is not a DuckDB WAL.

    Parameters
    ----------
    path : str or Path
        The database file; its WAL is ``<path>.wal``.

    Raises
    ------
    StoreError
        The WAL exists, is not empty, and does not begin with :data:`WAL_HEADER`.
    """
    wal = Path(f"{path}.wal")
    try:
        with wal.open("rb") as f:
            head = f.read(len(WAL_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(
            f"Cannot read the write-ahead log {wal} of the store {path}: {exc.strerror}.",
            path=str(path),
        ) from exc
    if not head or (
        WAL_HEADER.startswith(head) if len(head) < len(WAL_HEADER) else head == WAL_HEADER
    ):
        return  # no WAL, a valid one, or one whose header write was cut short (nothing committed)
    raise StoreError(
        f"The write-ahead log {wal} of the store {path} is not a DuckDB WAL (it begins with "
        f"bytes {head.hex(' ')}, a WAL begins with {WAL_HEADER.hex(' ')}). It may have held "
        "writes committed since the last checkpoint, which opening the store would silently "
        "drop, so koc does not open it. Restore the store and its WAL from a backup; or, to "
        f"accept losing those writes, move {wal} aside and run the command again.",
        path=str(path),
        wal=str(wal),
    )


def open_failure(path: str | Path, exc: Exception) -> StoreError:
    """The :class:`StoreError` for a DuckDB error raised while opening ``path``."""
    text = str(exc)
    if any(w in text.lower() for w in _LOCK_WORDS):
        return StoreError(
            f"Cannot open the embedded store {path}: {text}. Another koc process is "
            "writing to it; wait for it, or use --db to pick another file.",
            path=str(path),
        )
    return StoreError(
        f"Cannot open the embedded store {path}: {text}. The file (or its write-ahead log "
        f"{path}.wal) is damaged or not a koc store: restore it from a backup, or use --db "
        "to pick another file.",
        path=str(path),
    )


def store_failure(path: str | Path, exc: BaseException, doing: str) -> StoreError:
    """The :class:`StoreError` for a DuckDB or OS error raised while ``doing`` on ``path``.

    Parameters
    ----------
    path : str or Path
        The database file.
    exc : BaseException
        The DuckDB error (``duckdb.Error``) or :class:`OSError`.
    doing : str
        What failed, e.g. ``"write a batch"``, as part of the sentence
        "could not {doing}".
    """
    text = str(exc)
    lowered = text.lower()
    if "corrupt" in lowered or "checksum" in lowered:
        hint = (
            "The file has a damaged block: restore it from a backup (a re-ingest of the "
            "source files rebuilds the graph, not keys, ledger or run history)."
        )
    elif (
        "no space left" in lowered
        or "file too large" in lowered
        or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT))
    ):
        hint = "The disk is full (or the file size limit reached): free space and run the command again."
    else:
        hint = "Fix the cause and run the command again."
    return StoreError(
        f"The embedded store {path} could not {doing}: {text}. {hint}",
        path=str(path),
    )


def fault_of(exc: BaseException, path: str | Path | None) -> StoreError | None:
    """The :class:`StoreError` for an unexpected DuckDB error (a corrupt block met by a
    read, a full disk) or an out-of-space :class:`OSError`; None for any other exception.

    The CLI calls it on an exception no command turned into a
    :class:`graph.errors.KocError`, so a damaged store or a full disk is one clear line,
    not a traceback. ``duckdb`` is looked up in :data:`sys.modules`: a command that never
    imported it cannot have raised its errors.
    """
    import sys

    duckdb = sys.modules.get("duckdb")
    where = path if path is not None else "(the --db file)"
    if duckdb is not None and isinstance(exc, duckdb.Error):
        return store_failure(where, exc, "complete the command")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        name = f" {exc.filename}" if exc.filename else ""
        return StoreError(
            f"Could not write{name}: {exc.strerror}. The disk is full (or the file size "
            "limit reached): free space and run the command again.",
            path=str(exc.filename or where),
        )
    return None
