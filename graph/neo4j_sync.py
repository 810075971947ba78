"""Copy one store into another: the embedded store into Neo4j (``koc sync --to neo4j``).

Records are copied type by type (users first, so declared attributes arrive
before the events that reference them), in chunks of ``chunk_rows``; each chunk
is one :meth:`graph.store.GraphStore.append_batch` call, i.e. one transaction
on the target. Because every load is idempotent by ``event_id`` (users by
``user_id``, rejects by ``reject_id``), an interrupted sync is completed by
running it again: chunks already copied count as duplicates. The latest
succeeded ranking run follows with its scores and components.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from graph.events import EventType
from graph.store import GraphStore

__all__ = ["SYNC_ORDER", "SyncResult", "sync_stores"]

#: Record types in copy order.
SYNC_ORDER: tuple[EventType, ...] = (
    EventType.USER,
    EventType.SHARE,
    EventType.VIEW,
    EventType.FORWARD,
    EventType.COMMENT,
    EventType.REFERRAL,
    EventType.ORDER,
    EventType.REFUND,
)


@dataclass
class SyncResult:
    """Rows copied (new on the target) and skipped (already there) per record type."""

    inserted: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    run_id: str | None = None


def sync_stores(
    source: GraphStore,
    target: GraphStore,
    *,
    chunk_rows: int = 100_000,
    progress: Callable[[str, int], None] | None = None,
    include_run: bool = True,
) -> SyncResult:
    """Copy every record, the quarantine and the latest succeeded run from ``source`` to ``target``.

    Parameters
    ----------
    source, target : GraphStore
        Usually the embedded DuckDB store and the Neo4j store.
    chunk_rows : int
        Rows per ``append_batch`` call (one target transaction each).
    progress : callable, optional
        ``progress(record_type, rows_done_in_this_step)`` after every chunk.
    include_run : bool
        Also copy the latest succeeded run with its scores and components.

    Returns
    -------
    SyncResult
        Per-type inserted and duplicate counts; copying twice inserts nothing.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1. Got {chunk_rows} instead.")
    result = SyncResult()
    for event_type in SYNC_ORDER:
        table = source.read_events(event_type)
        inserted = duplicates = 0
        for start in range(0, table.num_rows, chunk_rows):
            chunk = table.slice(start, chunk_rows)
            written = target.append_batch({event_type: chunk}).by_type[event_type.value]
            inserted += written.inserted
            duplicates += written.duplicates
            if progress is not None:
                progress(event_type.value, chunk.num_rows)
        result.inserted[event_type.value] = inserted
        result.duplicates[event_type.value] = duplicates
    rejects = source.read_rejects()
    for start in range(0, rejects.num_rows, chunk_rows):
        chunk = rejects.slice(start, chunk_rows)
        result.rejects += target.append_batch({}, rejects=chunk).rejects_stored
        if progress is not None:
            progress("rejects", chunk.num_rows)
    run = source.latest_run() if include_run else None
    if run is not None:
        target.save_run(run, source.read_scores(run.run_id), source.read_components(run.run_id))
        result.run_id = run.run_id
    return result
