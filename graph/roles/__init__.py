"""Role history: declared roles with validity periods and inferred roles with confidence.

Three kinds of people matter to a brand: its **employees** (sales guides), the
**KOLs** it pays, and its **consumers**. Roles come from two sources, kept apart:

``role_declarations``
    Dated declarations imported from an employee roster or a KOL list
    (:func:`import_declarations`): ``user_id``, ``role``, ``valid_from``,
    ``valid_to`` (exclusive, NULL = open), ``store_id`` (employees), ``agency``
    and ``fee`` (KOLs). The natural key is ``(role, user_id, valid_from)``: a
    re-imported roster row with the same start replaces the earlier one (so
    setting ``until`` on a leaver closes the period), and importing the same
    file twice changes nothing.
``role_models`` / ``role_inferences``
    Every classifier run (``koc roles infer``) stores its model version,
    parameters, threshold and cross-validated metrics, and one row per
    unlabelled user with the predicted role, the role kept after the confidence
    threshold (``unknown`` below it) and the calibrated probability.

Resolution of the role of a user at time ``t`` (:func:`role_at`), first match wins:

1. a dated declaration covering ``t`` (employee before KOL when both do);
2. the user has dated declarations but none covers ``t``: ``consumer`` (an
   employee who left on ``D`` is a consumer for events from ``D`` on);
3. the role declared on the user record itself (``users.role`` from
   ``users.csv``), when not ``unknown``;
4. the role inferred by the latest model, if its confidence reached the threshold;
5. ``unknown``.

Sources 1-3 are ``declared``, 4 is ``inferred``: an inference never overrides a
declaration.

The code lives in private modules, one concept each: :mod:`graph.roles._schema`
(tables and migrations), :mod:`graph.roles._declarations` (roster / KOL-list
import and validation), :mod:`graph.roles._models` (classifier runs and their
inferences) and :mod:`graph.roles._resolution` (:func:`role_at`,
:func:`next_role_change`).
"""

from graph.roles._declarations import (
    DECLARATION_KINDS,
    ImportResult,
    import_declarations,
    read_declarations,
)
from graph.roles._models import (
    ModelRecord,
    latest_model_version,
    read_models,
    save_inferences,
    save_model,
)
from graph.roles._resolution import EFFECTIVE_SCHEMA, next_role_change, role_at
from graph.roles._schema import MIGRATIONS, ensure_schema

__all__ = [
    "MIGRATIONS",
    "DECLARATION_KINDS",
    "EFFECTIVE_SCHEMA",
    "ImportResult",
    "ModelRecord",
    "ensure_schema",
    "import_declarations",
    "read_declarations",
    "save_model",
    "save_inferences",
    "read_models",
    "latest_model_version",
    "role_at",
    "next_role_change",
]
