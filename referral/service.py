"""Queries over the ledger and the referral tree: the referral package's read API.

Each function takes either a :class:`graph.store.GraphStore` (the ledger is then on
its DuckDB connection, or in ``ledger_path`` for Neo4j) or a
:class:`referral.ledger.Ledger`, and returns plain Python data (``Decimal`` for
money, timezone-aware ``datetime``), so API handlers stay thin. A store without a
ledger yet reads as an empty ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from graph.errors import ConfigError, StoreError
from referral.ledger import HOLD_STATES, STATUSES, Ledger
from referral.ledger_query import EntryFilter, Totals
from referral.periods import DEFAULT_TIMEZONE, check_period
from referral.render import render_statement
from referral.reports import Statement
from referral.reports import role_level_summary as _summary
from referral.reports import statement as _statement

__all__ = [
    "ENTRY_FIELDS",
    "HOLD_FIELDS",
    "open_ledger",
    "list_entries",
    "list_holds",
    "held_beneficiaries",
    "statement",
    "render_statement",
    "referral_tree",
    "referral_stats",
    "referral_counts",
    "tree_totals",
    "role_level_summary",
]

#: Fields of each item returned by :func:`list_entries`.
ENTRY_FIELDS: tuple[str, ...] = (
    "seq",
    "entry_id",
    "kind",
    "model",
    "order_id",
    "buyer",
    "beneficiary",
    "beneficiary_role",
    "level",
    "rule_version",
    "basis",
    "rate",
    "amount",
    "currency",
    "event_ts",
    "payable_at",
    "period",
    "status",
    "reason",
    "hold_reason",
    "orig_entry_id",
    "settled_period",
)
MAX_TREE_LEVELS = 10


@contextmanager
def open_ledger(
    store_or_ledger: Any, *, ledger_path: str | Path | None = None, read_only: bool = True
) -> Iterator[Ledger]:
    """The ledger of a store (or the ledger itself), closed afterwards when opened here."""
    if isinstance(store_or_ledger, Ledger):
        yield store_or_ledger
        return
    ledger = Ledger.open(store_or_ledger, ledger_path, read_only=read_only)
    try:
        yield ledger
    finally:
        ledger.close()


def list_entries(
    store_or_ledger: Any,
    *,
    period: str | None = None,
    beneficiary: str | None = None,
    status: str | None = None,
    limit: int = 100,
    after: int | None = None,
    ledger_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Ledger entries in ledger order (``seq``), filtered, one page at a time.

    Parameters
    ----------
    store_or_ledger : GraphStore or Ledger
    period : str, optional
        ``YYYY-MM``: entries booked in that period.
    beneficiary : str, optional
        Only this beneficiary's entries.
    status : str, optional
        One of :data:`referral.ledger.STATUSES` (as of the ledger's clock).
    limit : int
        Page size, 1..10000.
    after : int, optional
        Cursor: return entries with ``seq > after`` (pass the last item's ``seq``).
    ledger_path : str or Path, optional
        Separate ledger file (Neo4j stores).

    Returns
    -------
    list of dict
        Items with :data:`ENTRY_FIELDS`.

    Raises
    ------
    ConfigError
        Bad period, status or limit.
    """
    if not 1 <= int(limit) <= 10_000:
        raise ConfigError(f"The 'limit' must be in 1..10000. Got {limit} instead.", key="limit")
    if status is not None and status not in STATUSES:
        raise ConfigError(
            f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.", key="status"
        )
    where = EntryFilter(
        period=None if period is None else check_period(period),
        beneficiary=beneficiary,
        status=status,
        after_seq=None if after is None else int(after),
    )
    with open_ledger(store_or_ledger, ledger_path=ledger_path) as ledger:
        table = ledger.entries(where, order="seq", limit=int(limit))
        if table.num_rows == 0:
            return []
        return table.select(list(ENTRY_FIELDS)).to_pylist()


#: Fields of each item returned by :func:`list_holds`.
HOLD_FIELDS: tuple[str, ...] = (
    "seq",
    "entry_id",
    "short_id",
    "beneficiary",
    "order_id",
    "model",
    "level",
    "amount",
    "period",
    "state",
    "held_at",
    "held_by",
    "hold_reason",
    "decided_at",
    "decided_by",
    "decision_reason",
)


def list_holds(
    store_or_ledger: Any,
    *,
    include_decided: bool = False,
    limit: int = 100,
    after: int | None = None,
    ledger_path: str | Path | None = None,
) -> dict[str, Any]:
    """Held commissions (or every commission ever held), in ledger order, one page.

    Returns
    -------
    dict
        ``total`` (all matching holds, not just this page), ``data`` (items with
        :data:`HOLD_FIELDS`: the 8-character ``short_id`` that ``release`` and ``void``
        accept, ``state`` = ``held`` / ``released`` / ``voided``, who held it and why,
        and who decided, when and why), ``next_after`` (cursor, or None).

    Raises
    ------
    ConfigError
        Bad limit.
    """
    if not 1 <= int(limit) <= 10_000:
        raise ConfigError(f"The 'limit' must be in 1..10000. Got {limit} instead.", key="limit")
    states = ", ".join(f"'{h}'" for h in HOLD_STATES)
    where = "" if include_decided else "AND h.state = 'held'"
    sql = f"""WITH h AS (
            SELECT entry_id, arg_max(status, seq) AS state,
                   min(ts) FILTER (WHERE status = 'held') AS held_at,
                   arg_min(actor, seq) FILTER (WHERE status = 'held') AS held_by,
                   arg_min(reason, seq) FILTER (WHERE status = 'held') AS hold_reason,
                   max(seq) AS last_seq
            FROM referral_status WHERE status IN ({states}) GROUP BY entry_id),
        d AS (SELECT s.entry_id, s.ts AS decided_at, s.actor AS decided_by,
                     s.reason AS decision_reason
              FROM referral_status s JOIN h ON s.seq = h.last_seq AND s.status <> 'held')
        SELECT e.seq, e.entry_id, left(e.entry_id, 8) AS short_id, e.beneficiary, e.order_id,
               e.model, e.level, e.amount, e.period, h.state, h.held_at, h.held_by,
               h.hold_reason, d.decided_at, d.decided_by, d.decision_reason
        FROM referral_entries e JOIN h USING (entry_id) LEFT JOIN d USING (entry_id)
        WHERE e.orig_entry_id IS NULL {where}"""
    with open_ledger(store_or_ledger, ledger_path=ledger_path) as ledger:
        if not ledger.ready:
            return {"total": 0, "data": [], "next_after": None}
        total = int(ledger.scalar(f"SELECT count(*) FROM ({sql})"))
        page = ledger.arrow(
            f"SELECT * FROM ({sql}) WHERE seq > $after ORDER BY seq LIMIT {int(limit) + 1}",
            {"after": int(after) if after is not None else -1},
        ).to_pylist()
    more = len(page) > limit
    page = page[:limit]
    return {"total": total, "data": page, "next_after": page[-1]["seq"] if more else None}


def held_beneficiaries(store_or_ledger: Any, *, ledger_path: str | Path | None = None) -> list[str]:
    """Beneficiaries with at least one commission held now (the ``fraud_held`` fact tag).

    Returns an empty list when the store has no ledger yet.
    """
    sql = """WITH h AS (SELECT entry_id, arg_max(status, seq) AS state FROM referral_status
                      WHERE status IN ('held', 'released', 'voided') GROUP BY entry_id)
             SELECT DISTINCT e.beneficiary FROM referral_entries e JOIN h USING (entry_id)
             WHERE h.state = 'held' ORDER BY 1"""
    try:
        with open_ledger(store_or_ledger, ledger_path=ledger_path) as ledger:
            if not ledger.ready:
                return []
            return [str(b) for b in ledger.arrow(sql).column(0).to_pylist()]
    except StoreError:  # no tables (a Neo4j store without KOC_LEDGER_PATH): nobody is held
        return []


def holds_of(
    store_or_ledger: Any, beneficiary: str, *, ledger_path: str | Path | None = None
) -> list[dict[str, Any]]:
    """A beneficiary's commissions held now: ``entry_id``, ``held_at`` (when the hold was
    placed), ``actor`` and ``reason``, oldest first (the source of the ``fraud_held`` tag)."""
    sql = """WITH s AS (SELECT entry_id, arg_max(status, seq) AS state, arg_max(ts, seq) AS ts,
                              arg_max(actor, seq) AS actor, arg_max(reason, seq) AS reason
                       FROM referral_status WHERE status IN ('held', 'released', 'voided')
                       GROUP BY entry_id)
             SELECT DISTINCT s.entry_id, s.ts, s.actor, s.reason FROM referral_entries e
             JOIN s USING (entry_id) WHERE s.state = 'held' AND e.beneficiary = ?
             ORDER BY s.ts, s.entry_id"""
    try:
        with open_ledger(store_or_ledger, ledger_path=ledger_path) as ledger:
            if not ledger.ready:
                return []
            rows = ledger.arrow(sql, [beneficiary]).to_pylist()
    except StoreError:
        return []
    return [
        {"entry_id": r["entry_id"], "held_at": r["ts"], "actor": r["actor"], "reason": r["reason"]}
        for r in rows
    ]


def statement(
    store_or_ledger: Any,
    beneficiary: str,
    period: str,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    currency: str = "CNY",
    ledger_path: str | Path | None = None,
) -> Statement:
    """A beneficiary's statement for a period (:class:`referral.reports.Statement`).

    Orders, levels, amounts, reversals and holds of the period, with opening and
    closing balance (projected for an open period). ``.to_dict()`` gives JSON-ready
    data; :func:`render_statement` gives JSON, CSV, XLSX or HTML bytes.

    Raises
    ------
    NotFoundError
        The beneficiary never had a ledger entry or balance (a known beneficiary
        without activity in the period gets a statement of zeros).
    """
    with open_ledger(store_or_ledger, ledger_path=ledger_path) as ledger:
        return _statement(ledger, beneficiary, check_period(period), tz=timezone, currency=currency)


def role_level_summary(
    store_or_ledger: Any,
    period: str,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    ledger_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Totals of a period by beneficiary role, model and level.

    Items have ``role``, ``model``, ``level``, ``entries_booked``, ``lines``,
    ``beneficiaries`` (ints) and ``commissions``, ``reversals``, ``net``,
    ``brought_forward``, ``held``, ``pending``, ``settled`` (Decimals); see
    :func:`referral.reports.role_level_summary`.
    """
    with open_ledger(store_or_ledger, ledger_path=ledger_path) as ledger:
        table = _summary(ledger, check_period(period), tz=timezone)
        return table.to_pylist() if table.num_rows else []


def _check_levels(levels: int) -> int:
    if not 1 <= int(levels) <= MAX_TREE_LEVELS:
        raise ConfigError(
            f"The 'levels' of a referral tree must be in 1..{MAX_TREE_LEVELS}. Got {levels} instead.",
            key="levels",
        )
    return int(levels)


def referral_tree(store: Any, user_id: str, levels: int = 3) -> dict[str, Any]:
    """A user's upline and downline.

    Returns
    -------
    dict
        ``user_id``; ``upline``: list of ``{level, user_id, referred_at}`` (1 = the
        direct referrer); ``downline``: list of ``{level, users, buyers, gmv}`` per
        level (gmv net of refunds, Decimal). Both from
        :meth:`graph.store.GraphStore.upline` / ``downline`` (the first referral of
        each user defines the tree; cycles stop the walk).
    """
    levels = _check_levels(levels)
    up = store.upline(user_id, levels).to_pylist()
    down = store.downline(user_id, levels).to_pylist()
    return {"user_id": user_id, "levels": levels, "upline": up, "downline": down}


def tree_totals(tree: dict[str, Any]) -> dict[str, Any]:
    """Totals of a :func:`referral_tree`: ``referrer`` (direct, or None),
    ``direct_referees``, and ``downline_users``, ``downline_buyers`` and
    ``downline_gmv`` over all its levels."""
    down = tree["downline"]
    return {
        "referrer": tree["upline"][0]["user_id"] if tree["upline"] else None,
        "direct_referees": next((d["users"] for d in down if d["level"] == 1), 0),
        "downline_users": sum(d["users"] for d in down),
        "downline_buyers": sum(d["buyers"] for d in down),
        "downline_gmv": sum((d["gmv"] for d in down), Decimal("0.0000")),
    }


def referral_counts(store: Any, user_id: str, levels: int = 3) -> dict[str, Any]:
    """:func:`tree_totals` of the user's :func:`referral_tree` (no ledger access)."""
    return tree_totals(referral_tree(store, user_id, levels))


#: A beneficiary's ledger totals (:func:`referral_stats`).
_USER_TOTALS = Totals(
    measures={
        "commissions": "commissions",
        "reversed": "reversed",
        "paid": "paid",
        "held": "held_status",
        "unsettled": "unsettled",
    }
)


def referral_stats(
    store: Any,
    user_id: str,
    *,
    levels: int = 3,
    ledger_path: str | Path | None = None,
) -> dict[str, Any]:
    """Referral and commission totals of one user.

    Returns
    -------
    dict
        ``referrer`` (direct referrer or None), ``direct_referees``,
        ``downline_users``, ``downline_buyers``, ``downline_gmv`` (to ``levels``),
        and from the ledger: ``commissions`` (booked), ``reversed``, ``paid``,
        ``held`` and ``unsettled`` amounts as the beneficiary.
        An unknown user gets zeros.
    """
    out: dict[str, Any] = {"user_id": user_id, **referral_counts(store, user_id, levels)}
    keys = ("commissions", "reversed", "paid", "held", "unsettled")
    with open_ledger(store, ledger_path=ledger_path) as ledger:
        sums = ledger.totals(_USER_TOTALS, EntryFilter(beneficiary=user_id))
    row = sums.to_pylist()[0] if sums.num_rows else {}
    money = {k: Decimal(row.get(k) or 0) for k in keys}
    out.update(money)
    return out
