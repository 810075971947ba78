"""User tags: imported from files (``koc tags import``) or set over the API, each with
its source and time; and the fact tags every run derives (``docs/segments.md``).

A tag file is CSV (or anything :mod:`graph.ingest.readers` reads) with columns
``user_id`` and ``tag``, optionally ``action`` (``set``, the default, or ``remove``).
Every row is checked; bad rows are reported with file, line, field and reason and
nothing of them is stored, and the counts balance:
``read = set + removed + unchanged + rejected``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from api.services.audience import FACT_TAGS, TAG_PREFIXES
from graph.arrays import node_index
from graph.errors import IngestError, NotFoundError, SegmentError
from graph.segments import _store as seg_store
from graph.store import GraphStore

__all__ = ["MAX_TAG_LENGTH", "check_tag", "import_tags", "set_tags", "list_tags", "user_tags"]

MAX_TAG_LENGTH = 64
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_ACTIONS = {"set": True, "add": True, "remove": False, "unset": False}


def check_tag(tag: Any) -> str | None:
    """Why ``tag`` cannot be a user tag (None when it can)."""
    if not isinstance(tag, str) or not tag.strip():
        return "empty tag"
    if tag != tag.strip():
        return "leading or trailing spaces"
    if len(tag) > MAX_TAG_LENGTH:
        return f"longer than {MAX_TAG_LENGTH} characters"
    if _BAD_CHARS.search(tag):
        return "control characters"
    if tag in FACT_TAGS or any(tag.startswith(p) for p in TAG_PREFIXES):
        return "a fact tag name (computed by each run; pick another name)"
    return None


def _conn(store: GraphStore) -> Any:
    conn = store.tables.cursor().conn
    seg_store.ensure_schema(conn)
    return conn


def import_tags(
    store: GraphStore, path: str | Path, *, source: str | None = None
) -> dict[str, Any]:
    """Import a tag file (see the module docstring).

    Returns
    -------
    dict
        ``file``, ``read``, ``set``, ``removed``, ``unchanged``, ``rejected``, ``errors``
        (at most 100 of: ``line``, ``field``, ``value``, ``reason``) and
        ``unknown_users`` (tagged users the store has no record of: kept, they may come).

    Raises
    ------
    IngestError
        The file is missing or has no ``user_id`` / ``tag`` header.
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"Tag file {path} does not exist.", file=str(path))
    users: list[str] = []
    tags: list[str] = []
    active: list[bool] = []
    errors: list[dict[str, Any]] = []
    rejected = read = 0
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in ("user_id", "tag") if c not in header]
        if missing:
            raise IngestError(
                f"{path}: the header needs columns user_id and tag (optional: action); "
                f"missing {', '.join(missing)}.",
                file=str(path),
            )
        reader.fieldnames = header
        for row in reader:
            read += 1
            line = reader.line_num
            user = (row.get("user_id") or "").strip()
            tag = (row.get("tag") or "").strip()
            action = (row.get("action") or "set").strip().lower() or "set"
            problem = None
            if not user:
                problem = ("user_id", user, "empty user_id")
            elif (why := check_tag(tag)) is not None:
                problem = ("tag", tag, why)
            elif action not in _ACTIONS:
                problem = ("action", action, "action must be set or remove")
            if problem is not None:
                rejected += 1
                if len(errors) < 100:
                    errors.append(
                        {
                            "line": line,
                            "field": problem[0],
                            "value": problem[1],
                            "reason": problem[2],
                        }
                    )
                continue
            users.append(user)
            tags.append(tag)
            active.append(_ACTIONS[action])
    counts = _write(store, users, tags, active, source=source or str(path.resolve()))
    return {"file": str(path), "read": read, **counts, "rejected": rejected, "errors": errors}


def _write(
    store: GraphStore, users: list[str], tags: list[str], active: list[bool], *, source: str
) -> dict[str, Any]:
    table = pa.table(
        {
            "user_id": pa.array(users, pa.string()),
            "tag": pa.array(tags, pa.string()),
            "active": pa.array(active, pa.bool_()),
        }
    )
    counts = seg_store.write_tags(_conn(store), table, source=source)
    known = set(store.node_ids().tolist()) if users else set()
    counts["unknown_users"] = len({u for u in users if u not in known})
    return counts


def set_tags(store: GraphStore, changes: list[dict[str, Any]], *, source: str) -> dict[str, Any]:
    """Set or remove tags: ``changes`` of ``user_id``, ``tag``, ``action`` (set | remove).

    Raises
    ------
    SegmentError
        A bad tag or action (nothing is stored then).
    """
    users, tags, active = [], [], []
    for i, ch in enumerate(changes):
        why = check_tag(ch.get("tag"))
        action = str(ch.get("action", "set")).lower()
        if not str(ch.get("user_id") or "").strip():
            why = why or "empty user_id"
        if action not in _ACTIONS:
            why = why or "action must be set or remove"
        if why is not None:
            raise SegmentError(
                f"Tag change {i}: {why} (tag {ch.get('tag')!r}); nothing was stored.", index=i
            )
        users.append(str(ch["user_id"]).strip())
        tags.append(str(ch["tag"]))
        active.append(_ACTIONS[action])
    return {"read": len(changes), **_write(store, users, tags, active, source=source)}


def list_tags(store: GraphStore) -> dict[str, Any]:
    """User tags in effect with their user counts, and the fact tags of every run."""
    conn = store.tables.cursor().conn if store.tables.available else None
    names = seg_store.tag_names(conn) if conn is not None and seg_store.schema_ready(conn) else {}
    return {
        "user_tags": names,
        "fact_tags": list(FACT_TAGS),
        "fact_tag_families": [p + "<value>" for p in TAG_PREFIXES],
    }


def _fact_rule(name: str) -> str:
    """The condition a fact tag stands for, as a segment expression."""
    for prefix, field in TAG_PREFIXES.items():
        if name.startswith(prefix):
            value = name[len(prefix) :]
            return f"{field} = {value}" if field == "community" else f"{field} = '{value}'"
    return {
        "rising": "rank_change > 0",
        "falling": "rank_change < 0",
        "new_in_run": "not in the previous run",
        "staff_like": "role not staff and (flags.staff_channel > 0 or flags.staff_orders > 0)",
        "fraud_held": "a commission held by the fraud checks now",
    }[name]


def fact_tags_of(
    store: GraphStore, user_id: str, run_id: str | None = None
) -> list[dict[str, Any]]:
    """One user's fact tags in a run (default: the latest), each with its source and time.

    Tags from the run's fields (``role.``, ``community.``, ``stage.``, ``tier.``, ``rfm.``,
    ``channel.``, ``rising``, ``falling``, ``new_in_run``, ``staff_like``) have source
    ``run:<run id>`` and the time the run stored its fact fields (else the run's
    creation); ``fraud_held`` has source ``ledger:<entry id>`` and the time the hold was
    placed. Empty when there is no run or the user is not in it.
    """
    from api.services.segments import run_frame
    from referral.service import holds_of

    try:
        frame = run_frame(store, run_id)
    except NotFoundError:
        if run_id is not None:
            raise
        return []
    hit = node_index(frame.user_ids, pa.array([user_id], pa.string()))
    row = int(hit[0])
    if row < 0:
        return []
    run = frame.run
    frame.stored_fields()
    at = (frame.stored_at or run.created_at).isoformat()
    names: list[str] = [f"role.{frame.text('role')[1][frame.text('role')[0][row]]}"]
    community = frame.number("community")[row]
    if not np.isnan(community):
        names.append(f"community.{int(community)}")
    for prefix, field in (
        ("stage.", "stage"),
        ("tier.", "tier"),
        ("rfm.", "rfm"),
        ("channel.", "channel_pref"),
    ):
        codes, cats = frame.text(field)
        if codes[row] >= 0:
            names.append(prefix + cats[codes[row]])
    names += [t for t in FACT_TAGS if t != "fraud_held" and bool(frame.tag(t)[row])]
    out: list[dict[str, Any]] = [
        {
            "tag": name,
            "kind": "fact",
            "source": f"run:{run.run_id}",
            "rule": _fact_rule(name),
            "tagged_at": at,
            "run_id": run.run_id,
        }
        for name in names
    ]
    for hold in holds_of(store, user_id)[:1]:  # the oldest hold in effect
        out.append(
            {
                "tag": "fraud_held",
                "kind": "fact",
                "source": f"ledger:{hold['entry_id']}",
                "rule": _fact_rule("fraud_held")
                + (f" ({hold['reason']})" if hold["reason"] else ""),
                "tagged_at": hold["held_at"].isoformat(),
                "run_id": None,
            }
        )
    return out


def user_tags(
    store: GraphStore, user_id: str, *, run_id: str | None = None
) -> list[dict[str, Any]]:
    """One user's tags, each with its source and time: user tags in effect (``kind`` =
    ``user``; source the file or ``api:<key name>``) and the fact tags of the run
    (``kind`` = ``fact``, :func:`fact_tags_of`).

    Raises
    ------
    NotFoundError
        A user the store and the run do not know.
    """
    conn = store.tables.cursor().conn if store.tables.available else None
    rows: list[dict[str, Any]] = []
    if conn is not None and seg_store.schema_ready(conn):
        rows = [
            {**r, "kind": "user", "rule": None, "run_id": None}
            for r in seg_store.user_tag_rows(conn, user_id)
        ]
    facts = fact_tags_of(store, user_id, run_id)
    if not rows and not facts and user_id not in set(store.node_ids().tolist()):
        raise NotFoundError(f"Unknown user {user_id!r}.", user_id=user_id)
    return rows + facts
