"""Typed questions to the commission ledger: which entries, and which named totals.

Callers of :class:`referral.ledger.Ledger` describe *what* they want with values,
and this module alone turns them into SQL over the ledger view (entries plus
derived ``status``, see :mod:`referral.ledger`), every value a bound parameter:

* :class:`EntryFilter`: typed filters (period, beneficiary, status, model, ...);
* :class:`Totals`: named aggregates (:data:`MEASURES`) per named group keys
  (:data:`GROUP_KEYS`), ordered and limited by output column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.errors import ConfigError

__all__ = ["EntryFilter", "Totals", "MEASURES", "GROUP_KEYS", "ENTRY_ORDERS", "HOLD_CHECKS"]

#: The kinds of fraud check a hold records (``referral_hold_checks``, docs/commissions.md,
#: "Fraud and policy holds"), in the order a group key names them.
HOLD_CHECKS: dict[str, str] = {
    "self-referral": "buyer and beneficiary share an id, a phone or a device",
    "cycle": "the beneficiary is on a referral cycle",
    "ring": "the beneficiary is in a ring of accounts sharing devices or phones",
    "velocity": "the referrer gained too many referees in one day",
}

#: Aggregates a :class:`Totals` may ask for, by name.
MEASURES: dict[str, str] = {
    "entries": "count(*)",
    "beneficiaries": "count(DISTINCT beneficiary)",
    "net": "sum(amount)",
    "commissions": "sum(amount) FILTER (WHERE kind <> 'reversal')",
    "reversed": "sum(amount) FILTER (WHERE kind = 'reversal')",
    "reversals": "coalesce(sum(amount) FILTER (WHERE kind = 'reversal'), 0)",
    "paid": "sum(amount) FILTER (WHERE status = 'paid')",
    "held_status": "sum(amount) FILTER (WHERE status = 'held')",
    "held": "coalesce(sum(amount) FILTER (WHERE is_held), 0)",
    "unsettled": "sum(amount) FILTER (WHERE status NOT IN ('paid', 'carried', 'held'))",
    "any_role": "any_value(beneficiary_role)",
}

_RANK = " ".join(f"WHEN '{kind}' THEN {i}" for i, kind in enumerate(HOLD_CHECKS))
#: The checks of an entry's current hold, joined by ``+`` (``other`` when it records none).
_CHECKS_SQL = f"""coalesce((
    SELECT string_agg(c.kind, '+' ORDER BY CASE c.kind {_RANK} END) FROM referral_hold_checks c
    WHERE c.entry_id = coalesce(ledger.orig_entry_id, ledger.entry_id)
      AND c.status_seq = (SELECT max(s.seq) FROM referral_status s
                          WHERE s.entry_id = c.entry_id AND s.status = 'held')
    ), 'other')"""

#: Group keys a :class:`Totals` may use, by name (event time buckets in China time).
GROUP_KEYS: dict[str, str] = {
    "beneficiary": "beneficiary",
    "role": "beneficiary_role",
    "kind": "kind",
    "model": "model",
    "hold_reason": "hold_reason",
    "hold_checks": _CHECKS_SQL,
    **{
        unit: f"date_trunc('{unit}', timezone('Asia/Shanghai', event_ts))::DATE"
        for unit in ("day", "week", "month")
    },
}

#: Orders :meth:`Ledger.entries` accepts.
ENTRY_ORDERS: dict[str, str] = {"seq": "seq", "beneficiary": "beneficiary, seq"}


@dataclass(frozen=True)
class EntryFilter:
    """Which ledger entries (every given field must hold; none given: all entries).

    Attributes
    ----------
    period : str, optional
        Booked in this period (``YYYY-MM``).
    booked_or_settled : str, optional
        Booked in this period or settled in its close.
    beneficiary, status, model : str, optional
    held : bool, optional
        Under a hold (``is_held``) or not.
    roots : bool
        Only commissions and bonuses (not reversals of them).
    after_seq : int, optional
        Only entries with ``seq > after_seq`` (a page cursor).
    """

    period: str | None = None
    booked_or_settled: str | None = None
    beneficiary: str | None = None
    status: str | None = None
    model: str | None = None
    held: bool | None = None
    roots: bool = False
    after_seq: int | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """``(where, params)`` over the ledger view: the condition and its bound values."""
        where: list[str] = []
        params: dict[str, Any] = {}
        for name, column in (
            ("period", "period"),
            ("beneficiary", "beneficiary"),
            ("status", "status"),
            ("model", "model"),
        ):
            value = getattr(self, name)
            if value is not None:
                where.append(f"{column} = $f_{name}")
                params[f"f_{name}"] = value
        if self.booked_or_settled is not None:
            where.append("(period = $f_bos OR settled_period = $f_bos)")
            params["f_bos"] = self.booked_or_settled
        if self.held is not None:
            where.append("is_held" if self.held else "NOT is_held")
        if self.roots:
            where.append("orig_entry_id IS NULL")
        if self.after_seq is not None:
            where.append("seq > $f_after")
            params["f_after"] = int(self.after_seq)
        return (" AND ".join(where) or "true"), params


def _known(kind: str, names: Any, catalogue: dict[str, str]) -> None:
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise ConfigError(
            f"Unknown ledger {kind} {unknown[0]!r}; use one of {', '.join(catalogue)}.",
            key=kind,
        )


@dataclass(frozen=True)
class Totals:
    """Named aggregates of the entries, per group.

    Attributes
    ----------
    measures : dict of str to str
        Output column -> :data:`MEASURES` name.
    by : dict of str to str
        Output column -> :data:`GROUP_KEYS` name (empty: one row of totals).
    order : tuple of str
        Output columns to order by; a leading ``-`` sorts descending.
    limit : int, optional
    """

    measures: dict[str, str]
    by: dict[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        _known("measure", self.measures.values(), MEASURES)
        _known("group key", self.by.values(), GROUP_KEYS)
        columns = [*self.by, *self.measures]
        _known("order column", [c.lstrip("-") for c in self.order], dict.fromkeys(columns, ""))
        for name in columns:
            if not name.isidentifier():
                raise ConfigError(f"Ledger output column {name!r} is not a name.", key="column")

    def select_sql(self) -> str:
        """The select list: group keys, then measures, under their output names."""
        cols = [f"{GROUP_KEYS[k]} AS {name}" for name, k in self.by.items()]
        cols += [f"{MEASURES[m]} AS {name}" for name, m in self.measures.items()]
        return ", ".join(cols)

    def tail_sql(self) -> str:
        """The ``GROUP BY`` / ``ORDER BY`` / ``LIMIT`` clauses."""
        out = ""
        if self.by:
            out += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(self.by)))
        if self.order:
            out += " ORDER BY " + ", ".join(
                f"{c[1:]} DESC" if c.startswith("-") else c for c in self.order
            )
        if self.limit is not None:
            out += f" LIMIT {int(self.limit)}"
        return out
