"""Role views: tell employees (sales guides), KOLs and consumers apart, and measure each.

* :func:`role_features`: behavioural features per user (pure, vectorized);
* :class:`RoleClassifier`: calibrated scikit-learn classifier trained on declared roles,
  and :func:`cross_validate_roles` for its out-of-fold precision / recall / confusion;
* :func:`employee_measures`, :func:`kol_measures`, :func:`audience_overlap`:
  what each role brings (rising consumers come from
  :func:`api.services.ranking.rank_changes`).

No I/O here; :mod:`api.services.roles` reads the store and calls these. The
classifier names are imported lazily, so views that only measure do not load
scikit-learn.
"""

from typing import Any

from influence.roles._features import (
    NEIGHBOUR_ROLES,
    EdgeLike,
    RoleFeatures,
    audience_pattern,
    neighbour_pattern,
    role_features,
)
from influence.roles._measures import (
    CUSTOMER_ROLES,
    EmployeeMeasures,
    audience_overlap,
    customer_stats,
    employee_measures,
    kol_measures,
)

__all__ = [
    "UNKNOWN",
    "RoleClassifier",
    "classification_report_dict",
    "cross_validate_roles",
    "EdgeLike",
    "NEIGHBOUR_ROLES",
    "RoleFeatures",
    "audience_pattern",
    "neighbour_pattern",
    "role_features",
    "CUSTOMER_ROLES",
    "EmployeeMeasures",
    "audience_overlap",
    "customer_stats",
    "employee_measures",
    "kol_measures",
]

_LAZY = {"UNKNOWN", "RoleClassifier", "classification_report_dict", "cross_validate_roles"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from influence.roles import _classifier

        return getattr(_classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
