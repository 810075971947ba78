"""Segments: saved, versioned audiences evaluated over a run (``koc segments``,
``/v1/segments``, the leaderboard's ``segment`` filter).

A segment is a named expression of :mod:`graph.segments` over a run's
:class:`~api.services.audience.RunFrame`. Saving checks it against the latest run
(unknown names and type errors are refused with the offending token); each save of a
changed expression is a new version. Evaluating gives a boolean mask over the run's
users in rank order; members are read from it page by page or exported whole.
Built-in segments (:data:`BUILTINS`) need no saving.

Frames are kept per (store, run) in :data:`FRAMES` (the two most recent), so the
second segment over a run costs only its own conditions.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from api.services.audience import RunFrame, audience_config
from api.services.board import RowMask, RunBoard
from api.services.leaderboard import _staff_roles, previous_run, resolve_run
from graph.errors import NotFoundError, SegmentError, StoreError
from graph.segments import CompiledSegment, compile_segment, references
from graph.segments import _store as seg_store
from graph.store import GraphStore, RunRecord
from referral.render import neutralize_formula_columns

__all__ = [
    "BUILTINS",
    "FRAMES",
    "FrameCache",
    "Evaluated",
    "run_frame",
    "check_expression",
    "create_segment",
    "list_segments",
    "show_segment",
    "delete_segment",
    "get_definition",
    "evaluate",
    "members",
    "export_members",
    "segment_mask",
    "segment_row_mask",
    "lifecycle_transitions",
    "channel_leaders",
]

#: Segments every store has; their names cannot be saved over.
BUILTINS: dict[str, tuple[str, str]] = {
    "at_risk_kocs": (
        "stage = 'lapsing' and tier in ('A', 'B')",
        "Top KOCs (tiers A and B) at risk of lapsing: quiet for active_days, or their "
        "actions halved",
    ),
    "rising_kocs": ("tag:rising and tier in ('A', 'B', 'C')", "KOCs of tiers A-C who rose"),
    "loyal_customers": ("stage = 'loyal'", "Loyal: repeat buyers and buyers who refer"),
    "lost_customers": ("stage = 'lost'", "No action for lost_days or more"),
}
_MEMBER_COLUMNS = ("rank", "user_id", "score", "role", "community")


class FrameCache:
    """The frames of the most recent runs, per store (thread-safe, LRU)."""

    def __init__(self, max_frames: int = 2) -> None:
        self.max_frames = max_frames
        self._frames: OrderedDict[tuple[int, str], RunFrame] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: GraphStore, run: RunRecord) -> RunFrame:
        key = (id(getattr(store, "wrapped", store)), run.run_id)
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                return frame
        prev = previous_run(store, run)
        frame = RunFrame(
            store,
            run,
            previous=(lambda: None) if prev is None else (lambda: self.get(store, prev)),
            staff_roles=_staff_roles(run),
        )
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > self.max_frames + 1:  # a run and its predecessor, +1
                self._frames.popitem(last=False)
        return frame

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


#: The process's frames (the CLI uses one or two; the HTTP app keeps them across requests).
FRAMES = FrameCache()


def run_frame(store: GraphStore, run_id: str | None = None) -> RunFrame:
    """The frame of a run (default: the latest succeeded run)."""
    return FRAMES.get(store, resolve_run(store, run_id))


def _conn(store: GraphStore, *, write: bool = False) -> Any:
    """A cursor on the store's tables with the segment tables (created when writing)."""
    conn = store.tables.cursor().conn
    if write:
        seg_store.ensure_schema(conn)
    return conn


def _ready(store: GraphStore) -> Any | None:
    if not store.tables.available:
        return None
    conn = _conn(store)
    return conn if seg_store.schema_ready(conn) else None


@dataclass(frozen=True)
class Definition:
    """What a segment name stands for: a saved version or a built-in."""

    name: str
    expression: str
    version: int
    description: str | None
    builtin: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expression": self.expression,
            "version": self.version,
            "description": self.description,
            "builtin": self.builtin,
        }


def get_definition(store: GraphStore, name: str, version: int | None = None) -> Definition:
    """The newest (or a given) version of a saved segment, or a built-in.

    Raises
    ------
    NotFoundError
        No such segment (or version).
    """
    if name in BUILTINS:
        expr, desc = BUILTINS[name]
        return Definition(name, expr, 1, desc, True)
    conn = _ready(store)
    versions = [] if conn is None else seg_store.segment_versions(conn, name)
    if version is not None:
        versions = [v for v in versions if v.version == version and not v.deleted]
    elif versions and versions[-1].deleted:
        versions = []
    if not versions:
        what = f"{name!r} version {version}" if version is not None else repr(name)
        raise NotFoundError(
            f"No segment {what}; `koc segments list` shows the saved and built-in ones.",
            segment=name,
        )
    v = versions[-1]
    return Definition(v.name, v.expression, v.version, v.description, False)


def check_expression(
    store: GraphStore, expression: str, run_id: str | None = None, *, strict_tags: bool = True
) -> CompiledSegment:
    """Parse and check an expression against a run (default: the latest).

    Raises
    ------
    SegmentError
        Syntax, unknown names or types, with the offending token's position.
    """
    frame = run_frame(store, run_id)
    return compile_segment(expression, frame.catalog(strict_tags=strict_tags))


def create_segment(
    store: GraphStore,
    name: str,
    expression: str,
    *,
    description: str | None = None,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Check ``expression`` against the latest run and save it as the next version of
    ``name``; returns the version saved with its member count in that run."""
    seg_store.check_segment_name(name)
    if name in BUILTINS:
        raise SegmentError(
            f"{name!r} is a built-in segment; save yours under another name.", segment=name
        )
    compiled = check_expression(store, expression)
    saved = seg_store.save_segment(
        _conn(store, write=True),
        name,
        expression,
        description=description,
        created_by=created_by,
    )
    frame = run_frame(store)
    count = int(compiled.evaluate(frame).sum())
    seg_store.record_count(_conn(store), frame.run.run_id, name, saved.version, count)
    return {**saved.to_dict(), "run_id": frame.run.run_id, "members": count}


def delete_segment(store: GraphStore, name: str) -> dict[str, Any]:
    """Hide a saved segment (its versions stay in the history)."""
    return seg_store.delete_segment(_conn(store, write=True), name).to_dict()


@dataclass(frozen=True)
class Evaluated:
    """A segment over one run: who is in it."""

    definition: Definition
    run: RunRecord
    frame: RunFrame
    mask: np.ndarray

    @property
    def members(self) -> int:
        return int(self.mask.sum())


def evaluate(
    store: GraphStore,
    name: str,
    *,
    run_id: str | None = None,
    version: int | None = None,
    record: bool = True,
) -> Evaluated:
    """Evaluate a saved or built-in segment over a run (default: the latest).

    The member count is recorded per run and version (``record``) when the store's
    tables are writable, for :func:`show_segment`'s history.
    """
    definition = get_definition(store, name, version)
    frame = run_frame(store, run_id)
    compiled = compile_segment(definition.expression, frame.catalog(strict_tags=False))
    mask = compiled.evaluate(frame)
    out = Evaluated(definition, frame.run, frame, mask)
    if record and not definition.builtin:
        # a read-only store cannot record; the answer is the same
        with contextlib.suppress(duckdb.Error, StoreError):
            seg_store.record_count(
                _conn(store), frame.run.run_id, name, definition.version, out.members
            )
    return out


def segment_mask(store: GraphStore, name: str, run: RunRecord) -> tuple[np.ndarray, pa.Array]:
    """A segment's members in a run as (bool mask, the run's user ids in rank order)."""
    ev = evaluate(store, name, run_id=run.run_id)
    return ev.mask, ev.frame.user_ids


#: Seconds a leaderboard keeps a segment mask that uses ``tag:fraud_held`` (holds move).
HELD_MASK_S = 30


def segment_row_mask(store: GraphStore, name: str, run_id: str | None = None) -> RowMask:
    """The leaderboard's ``segment`` filter: a :class:`api.services.board.RowMask` whose
    key changes with the segment's version and the user tags (and, for segments using
    ``tag:fraud_held``, every :data:`HELD_MASK_S` seconds), so boards cache it safely.

    Raises
    ------
    NotFoundError
        No such segment.
    """
    definition = get_definition(store, name)  # unknown names fail here, before any page
    run = resolve_run(store, run_id)
    frame = FRAMES.get(store, run)
    conn = _ready(store)
    tags_now = seg_store.tags_version(conn) if conn is not None else 0
    uses = references(compile_segment(definition.expression, frame.catalog(strict_tags=False)).tree)
    held = int(time.time() // HELD_MASK_S) if "fraud_held" in uses["tags"] else 0
    key = ("segment", name, definition.version, definition.expression, tags_now, held)

    def build(board: RunBoard) -> np.ndarray:
        ev = evaluate(store, name, run_id=board.run.run_id)
        if ev.frame.user_ids.equals(board.user_ids):  # both in rank order: the usual case
            return ev.mask
        return board.mask_of(ev.frame.user_ids.filter(pa.array(ev.mask)))

    return RowMask(key, build)


def _extra_columns(frame: RunFrame, rows: np.ndarray) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for field in ("stage", "tier", "channel_pref"):
        codes, cats = frame.text(field)
        picked = codes[rows]
        out[field] = [cats[c] if c >= 0 else None for c in picked.tolist()]
    return out


def members(
    store: GraphStore,
    name: str,
    *,
    run_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of a segment's members, in rank order.

    Returns
    -------
    dict
        ``segment`` (its definition), ``run_id``, ``total`` (members in the run),
        ``offset``, ``data`` (rows of ``rank``, ``user_id``, ``score``, ``role``,
        ``community``, ``stage``, ``tier``, ``channel_pref``) and ``next_offset``
        (None on the last page).
    """
    if not 1 <= int(limit) <= 10_000:
        raise SegmentError(
            f"The 'limit' parameter must be an int in [1, 10000]. Got {limit!r} instead.",
            key="limit",
        )
    if int(offset) < 0:
        raise SegmentError(f"The 'offset' must be >= 0. Got {offset!r} instead.", key="offset")
    ev = evaluate(store, name, run_id=run_id)
    rows = np.flatnonzero(ev.mask)
    page = rows[int(offset) : int(offset) + int(limit)]
    table = ev.frame.scores.take(pa.array(page, pa.int64())).select(list(_MEMBER_COLUMNS))
    data = table.to_pylist()
    extra = _extra_columns(ev.frame, page)
    for i, row in enumerate(data):
        for k, values in extra.items():
            row[k] = values[i]
    end = int(offset) + len(page)
    return {
        "segment": ev.definition.to_dict(),
        "run_id": ev.run.run_id,
        "total": int(rows.size),
        "offset": int(offset),
        "data": data,
        "next_offset": end if end < rows.size else None,
    }


def export_members(
    store: GraphStore, name: str, out: str | Path | Any, *, run_id: str | None = None
) -> dict[str, Any]:
    """Write every member of a segment as CSV (rank order; columns of :func:`members`).

    Text cells are neutralised against formula injection
    (:func:`referral.render.neutralize_formula_columns`).

    ``out`` is a path or a writable binary file object. Returns ``segment``,
    ``run_id`` and ``members``.
    """
    ev = evaluate(store, name, run_id=run_id)
    rows = np.flatnonzero(ev.mask)
    table = ev.frame.scores.take(pa.array(rows, pa.int64())).select(list(_MEMBER_COLUMNS))
    for field in ("stage", "tier", "channel_pref"):
        codes, cats = ev.frame.text(field)
        dictionary = pa.array(list(cats), pa.string())
        picked = pa.array(codes[rows], pa.int32(), mask=codes[rows] < 0)
        table = table.append_column(
            field, pa.DictionaryArray.from_arrays(picked, dictionary).cast(pa.string())
        )
    table = neutralize_formula_columns(table)  # a user id "=HYPERLINK(..)" stays text
    pacsv.write_csv(table, str(out) if isinstance(out, str | Path) else out)
    return {"segment": name, "run_id": ev.run.run_id, "members": int(rows.size)}


def list_segments(store: GraphStore, *, counts: bool = True) -> list[dict[str, Any]]:
    """Saved segments (newest versions) and built-ins, with members in the latest run."""
    out: list[dict[str, Any]] = []
    conn = _ready(store)
    saved = [] if conn is None else seg_store.latest_segments(conn)
    defs = [Definition(n, e, 1, d, True) for n, (e, d) in BUILTINS.items()] + [
        Definition(v.name, v.expression, v.version, v.description, False) for v in saved
    ]
    for d in defs:
        row = d.to_dict()
        if counts:
            try:
                row["members"] = evaluate(store, d.name).members
            except SegmentError as exc:  # saved against an older run's names
                row["members"] = None
                row["error"] = exc.message
        out.append(row)
    return out


def show_segment(store: GraphStore, name: str, *, run_id: str | None = None) -> dict[str, Any]:
    """One segment: its definition, versions, names it uses, members in the run and the
    previous run (and the change), and the counts recorded per run."""
    definition = get_definition(store, name)
    ev = evaluate(store, name, run_id=run_id)
    prev = previous_run(store, ev.run)
    prev_members = None
    if prev is not None:
        try:
            prev_members = evaluate(store, name, run_id=prev.run_id).members
        except SegmentError:
            prev_members = None
    conn = _ready(store)
    versions = (
        [v.to_dict() for v in seg_store.segment_versions(conn, name) if not v.deleted]
        if conn is not None and not definition.builtin
        else []
    )
    history = seg_store.recorded_counts(conn, name) if conn is not None else []
    refs = references(
        compile_segment(definition.expression, ev.frame.catalog(strict_tags=False)).tree
    )
    return {
        **definition.to_dict(),
        "uses": {k: sorted(v) for k, v in refs.items()},
        "run_id": ev.run.run_id,
        "members": ev.members,
        "previous_run_id": None if prev is None else prev.run_id,
        "previous_members": prev_members,
        "change": None if prev_members is None else ev.members - prev_members,
        "versions": versions,
        "history": history,
    }


def lifecycle_transitions(store: GraphStore, run_id: str | None = None) -> dict[str, Any]:
    """Users per lifecycle stage in a run and, against the previous run, how many moved
    from each stage to each other (``transitions[from][to]``; ``new`` = not in it).

    When both runs stored their stages (every run since the ``run_audience`` table), the
    transitions are one SQL join of the two runs' stored stages (``source`` =
    ``stored``); older runs' stages are computed from the events (``computed``).
    """
    run = resolve_run(store, run_id)
    prev = previous_run(store, run)
    conn = _ready(store)
    stored = conn is not None and seg_store.audience_run(conn, run.run_id) is not None
    if (
        conn is not None
        and stored
        and (prev is None or seg_store.audience_run(conn, prev.run_id) is not None)
    ):
        from influence.lifecycle import STAGES

        pairs = seg_store.stage_transitions(conn, run.run_id, prev.run_id if prev else "")
        counts = dict.fromkeys(STAGES, 0)
        transitions: dict[str, dict[str, int]] = {}
        for before, now, n in pairs:
            counts[now] += n
            if prev is not None:
                transitions.setdefault(before or "new", {})[now] = n
        order = [*STAGES, "new"]
        return {
            "run_id": run.run_id,
            "previous_run_id": None if prev is None else prev.run_id,
            "stages": counts,
            "transitions": {
                k: dict(sorted(transitions[k].items(), key=lambda kv: STAGES.index(kv[0])))
                for k in order
                if k in transitions
            },
            "config": audience_config(run).model_dump(),
            "source": "stored",
        }
    frame = FRAMES.get(store, run)
    stages = frame.text("stage")[1]
    now_codes = frame.stage_codes()
    counts = {
        s: int(c)
        for s, c in zip(stages, np.bincount(now_codes, minlength=len(stages)), strict=True)
    }
    prev_codes, _ = frame.text("previous_stage")
    prev_frame = frame.previous()
    transitions = {}
    if prev_frame is not None:
        k = len(stages) + 1  # last: not in the previous run
        src = np.where(prev_codes < 0, len(stages), prev_codes)
        table = np.bincount(src * k + now_codes, minlength=k * k).reshape(k, k)
        labels = [*stages, "new"]
        transitions = {
            labels[i]: {stages[j]: int(table[i, j]) for j in range(len(stages)) if table[i, j]}
            for i in range(k)
            if table[i].any()
        }
    return {
        "run_id": frame.run.run_id,
        "previous_run_id": None if prev_frame is None else prev_frame.run.run_id,
        "stages": counts,
        "transitions": transitions,
        "config": frame.config.model_dump(),
        "source": "computed",
    }


def channel_leaders(store: GraphStore, *, run_id: str | None = None, k: int = 10) -> dict[str, Any]:
    """Per channel, the KOCs whose content performs best there, and users preferring it."""
    from influence.channels import channel_top

    frame = run_frame(store, run_id)
    perf, channels = frame.channel_table()
    pref, pref_names = frame.text("channel_pref")  # stored with the run when it was
    preferred = dict(
        zip(pref_names, np.bincount(pref[pref >= 0], minlength=len(pref_names)), strict=True)
    )
    out = {}
    for c, channel in enumerate(channels):
        rows = channel_top(perf, c, k)
        out[channel] = {
            "preferred_by": int(preferred.get(channel, 0)),
            "top": [
                {
                    "user_id": frame.user_ids[int(r)].as_py(),
                    "rank": int(frame.number("rank")[r]),
                    "performance": float(perf[r, c]),
                }
                for r in rows
            ],
        }
    return {"run_id": frame.run.run_id, "channels": out}
