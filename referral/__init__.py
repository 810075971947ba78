"""Referral commissions: rules, attribution, the append-only ledger, periods and reports.

Public entry points (see ``docs/commissions.md``):

* :func:`load_rules` / :func:`default_rules`: the versioned commission rules;
* :class:`Ledger`: the ledger tables on the store's DuckDB connection or a file;
* :func:`attribute`: attribute new orders and refunds (``koc commissions run``);
* :func:`close_period`: settle a month (``koc commissions close``);
* :mod:`referral.service`: queries over the ledger and the referral tree (statements, entry pages, referral counts).
"""

from referral.attribution import RunSummary, attribute
from referral.ledger import STATUSES, Ledger
from referral.rules import MAX_LEVELS, CommissionRules, default_rules, load_rules
from referral.settlement import CloseResult, close_period

__all__ = [
    "MAX_LEVELS",
    "STATUSES",
    "CloseResult",
    "CommissionRules",
    "Ledger",
    "RunSummary",
    "attribute",
    "close_period",
    "default_rules",
    "load_rules",
]
