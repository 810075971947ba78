"""Role views: effective roles, role inference and the per-role measures.

The one place where the role pipeline does I/O. Role history lives in the
embedded store (:mod:`graph.roles`); features, the classifier and the measures
are pure functions in :mod:`influence.roles`; the CLI (``koc roles ...``) and the
HTTP API (``/v1/roles/{role}``) call the functions here and only format results.

Attribution of orders to sharers and referrers is the ranking's
(:mod:`influence.engagement`, driven by the scoring configuration), so a KOL's
attributed GMV here is the same number the KOC score's conversion uses.

The code lives in private modules, one concept each:
:mod:`api.services.roles._history` (effective roles, ``node_roles`` for the
ranking, roster import), :mod:`api.services.roles._features` (features and
declared labels), :mod:`api.services.roles._inference` (classifier training,
inference and evaluation) and :mod:`api.services.roles._views` (the per-role
views and their measures).
"""

from api.services.roles._features import compute_features
from api.services.roles._history import current_roles, effective_roles, import_roles, node_roles
from api.services.roles._inference import SMALL_SAMPLE, TRAIN_ROLES, evaluate_roles, infer_roles
from api.services.roles._views import ROLE_VIEWS, role_view, roles_summary

__all__ = [
    "ROLE_VIEWS",
    "TRAIN_ROLES",
    "SMALL_SAMPLE",
    "effective_roles",
    "current_roles",
    "node_roles",
    "import_roles",
    "compute_features",
    "infer_roles",
    "evaluate_roles",
    "roles_summary",
    "role_view",
]
