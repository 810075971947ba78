"""Deliberately broken rows, to exercise the ingestion quarantine.

Each broken row violates exactly one rule of the event model
(:data:`graph.events.RECORD_SPECS`); they go to ``broken.csv``, one CSV with a
``type`` column and the union of all field names, so the normal files stay
clean. ``ground_truth_broken.csv`` names the defect of every row.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graph.events import RECORD_SPECS
from graph.synth._population import Population
from graph.synth._time import END_S, START_S
from graph.synth._writer import iso_local

__all__ = ["BROKEN_COLUMNS", "DEFECTS", "write_broken"]

#: Columns of ``broken.csv``: ``type`` then every field name of every record type.
BROKEN_COLUMNS: tuple[str, ...] = ("type",) + tuple(
    dict.fromkeys(name for spec in RECORD_SPECS.values() for name in spec.names)
)

Row = dict[str, str]


def _defects(
    pick_user: Callable[[], str], ts: Callable[[], str]
) -> dict[str, Callable[[int], Row]]:
    def share(i: int) -> Row:
        return {"type": "share", "sharer": pick_user(), "content_id": f"cb{i}", "ts": ts()}

    def view(i: int) -> Row:
        u, v = pick_user(), pick_user()
        return {"type": "view", "viewer": v, "sharer": u, "content_id": f"cb{i}", "ts": ts()}

    def order(i: int) -> Row:
        return {
            "type": "order",
            "order_id": f"ob{i}",
            "buyer": pick_user(),
            "amount": "199.00",
            "currency": "CNY",
            "ts": ts(),
        }

    def user(i: int) -> Row:
        return {"type": "user", "user_id": f"ub{i}", "role": "consumer", "attrs": "{}"}

    def referral(i: int) -> Row:
        return {"type": "referral", "referrer": pick_user(), "referee": pick_user(), "ts": ts()}

    def refund(i: int) -> Row:
        return {"type": "refund", "order_id": f"ob{i}", "amount": "10.00", "ts": ts()}

    return {
        "bad_timestamp": lambda i: {**share(i), "ts": "2026-13-45T25:61:00+08:00"},
        "naive_timestamp": lambda i: {**view(i), "ts": "2026-08-01 10:00:00"},
        "unparseable_timestamp": lambda i: {**order(i), "ts": "yesterday"},
        "negative_amount": lambda i: {**order(i), "amount": "-35.00"},
        "negative_refund": lambda i: {**refund(i), "amount": "-10.00"},
        "non_numeric_amount": lambda i: {**order(i), "amount": "12,5O"},
        "unknown_currency": lambda i: {**order(i), "currency": "XYZ"},
        "self_view": lambda i: (lambda r: {**r, "viewer": r["sharer"]})(view(i)),
        "self_referral_edge": lambda i: (lambda r: {**r, "referee": r["referrer"]})(referral(i)),
        "missing_buyer": lambda i: {**order(i), "buyer": ""},
        "missing_content_id": lambda i: {**share(i), "content_id": ""},
        "missing_user_id": lambda i: {**user(i), "user_id": ""},
        "unknown_role": lambda i: {**user(i), "role": "boss"},
        "bad_json_attrs": lambda i: {**user(i), "attrs": "{not json"},
        "unknown_type": lambda i: {**share(i), "type": "like"},
    }


#: Names of the defects planted in ``broken.csv``.
DEFECTS: tuple[str, ...] = tuple(_defects(lambda: "", lambda: ""))


def write_broken(
    pop: Population, rng: np.random.Generator, n_rows: int, path: Path, truth_path: Path
) -> Counter[str]:
    """Write ``n_rows`` broken rows (defects in rotation, shuffled); returns counts per defect."""
    users = rng.integers(0, pop.n, 2 * n_rows + 2)
    stamps = iso_local(rng.integers(START_S, END_S, n_rows + 1)).to_pylist()
    ids = pop.ids
    it_u = iter(ids.take(users).to_pylist())
    it_t = iter(stamps)
    makers = _defects(lambda: next(it_u), lambda: next(it_t))
    names = [DEFECTS[i % len(DEFECTS)] for i in rng.permutation(n_rows)]
    counts: Counter[str] = Counter()
    with (
        path.open("w", newline="", encoding="utf-8") as fh,
        truth_path.open("w", newline="", encoding="utf-8") as th,
    ):
        out = csv.DictWriter(fh, fieldnames=BROKEN_COLUMNS, restval="", lineterminator="\n")
        truth = csv.writer(th, lineterminator="\n")
        out.writeheader()
        truth.writerow(["row_number", "type", "defect"])
        for row_number, name in enumerate(names, start=1):
            row = makers[name](row_number)
            out.writerow(row)
            truth.writerow([row_number, row["type"], name])
            counts[name] += 1
    return counts
