"""What an attribution run reads, and how its stages hand relations to each other.

A commissions run reads its inputs through the :class:`graph.store.GraphStore`
protocol as Arrow tables (:class:`InputTables`), registers them on the ledger's
DuckDB connection for the run (:func:`registered`), and passes the resulting
:class:`Inputs` to each stage. A stage that builds an intermediate result returns
it as a :class:`Relation`, which the next stage takes as an argument: no stage
knows another's table names, and values reach SQL as bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

import duckdb
import pyarrow as pa

from graph.events import EventType
from graph.store import ARROW_SCHEMAS, GraphStore
from referral.rules import CommissionRules

__all__ = ["InputTables", "Inputs", "Relation", "read_inputs", "registered"]


@dataclass(frozen=True)
class Relation:
    """A relation on the ledger connection (a registered table or a temporary table).

    Its SQL name is :attr:`name`; ``f"{relation}"`` gives it.
    """

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class InputTables:
    """The events a run attributes (whole history, as read from the store)."""

    orders: pa.Table
    refunds: pa.Table
    referrals: pa.Table
    users: pa.Table
    views: pa.Table
    forwards: pa.Table

    def sizes(self) -> dict[str, int]:
        """Row counts under the names the run id has always hashed."""
        return {_LEGACY[f.name]: getattr(self, f.name).num_rows for f in fields(self)}


#: Names of the inputs in run ids (kept so that a rerun over the same inputs has the same id).
_LEGACY = {
    "orders": "_in_orders",
    "refunds": "_in_refunds",
    "referrals": "_in_refs",
    "users": "_in_users",
    "views": "_in_views",
    "forwards": "_in_fwds",
}

_TYPES = {
    "orders": EventType.ORDER,
    "refunds": EventType.REFUND,
    "referrals": EventType.REFERRAL,
    "users": EventType.USER,
    "views": EventType.VIEW,
    "forwards": EventType.FORWARD,
}


@dataclass(frozen=True)
class Inputs:
    """The run's inputs as relations, plus the two derived ones every stage shares."""

    orders: Relation
    refunds: Relation
    referrals: Relation
    users: Relation
    views: Relation
    forwards: Relation
    first_referrals: Relation  #: the binding referral of each referee (graph.referrals)
    flags: Relation  #: fraud findings of the run (referral.fraud)


def read_inputs(store: GraphStore, rules: CommissionRules) -> InputTables:
    """Read every input table attribution needs from ``store`` (Arrow, whole history).

    Views and forwards are only read when the share model is enabled.
    """
    out = {}
    for name, etype in _TYPES.items():
        if name in ("views", "forwards") and not rules.share.enabled:
            out[name] = ARROW_SCHEMAS[etype].empty_table()
        else:
            out[name] = store.read_events(etype)
    return InputTables(**out)


@contextmanager
def registered(
    conn: duckdb.DuckDBPyConnection,
    tables: InputTables,
    *,
    first_referrals: pa.Table,
    flags: pa.Table,
) -> Iterator[Inputs]:
    """Register the run's tables on ``conn`` for the duration of the block."""
    arrow = {f.name: getattr(tables, f.name) for f in fields(tables)}
    arrow.update(first_referrals=first_referrals, flags=flags)
    names = {key: f"_in_{key}" for key in arrow}
    for key, table in arrow.items():
        conn.register(names[key], table)
    try:
        yield Inputs(**{key: Relation(name) for key, name in names.items()})
    finally:
        for name in names.values():
            conn.unregister(name)
