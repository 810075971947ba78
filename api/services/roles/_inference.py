"""Role classifier services: train and store inferred roles, cross-validate the classifier."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from api.services.roles._features import compute_features
from api.services.roles._history import role_history_conn
from api.services.roles._views import ROLE_VIEWS
from graph.arrays import node_index
from graph.errors import IngestError, ScoringError
from graph.events import Role
from graph.roles import ModelRecord, save_inferences, save_model
from graph.store import GraphStore
from influence.config import ScoreConfig

__all__ = ["TRAIN_ROLES", "SMALL_SAMPLE", "infer_roles", "evaluate_roles", "small_sample_caveats"]

#: Roles the classifier learns (declared users of these roles are its training set).
TRAIN_ROLES: tuple[str, ...] = ROLE_VIEWS


def _model(estimator: str, threshold: float, seed: int, max_train_samples: int | None) -> Any:
    from influence.roles import RoleClassifier

    return RoleClassifier(
        estimator=estimator,
        threshold=threshold,
        random_state=seed,
        max_train_samples=max_train_samples,
    )


def _public_report(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "oof_proba"}


#: below this many examples (or predictions) a class's precision and recall are flagged
SMALL_SAMPLE = 30


def _wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (Wilson 1927)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def small_sample_caveats(report: dict[str, Any]) -> list[str]:
    """One sentence per class whose precision or recall rests on few examples.

    Precision is over the predictions of the class (a column of the confusion
    matrix), recall over its true examples (``support``); each gets its 95%
    Wilson interval when it has fewer than :data:`SMALL_SAMPLE` of them.
    """
    labels = report["confusion"]["labels"]
    matrix = np.asarray(report["confusion"]["matrix"], dtype=np.int64)
    out = []
    for j, role in enumerate(labels):
        if role not in report["per_class"]:
            continue
        m = report["per_class"][role]
        predicted, support, hits = int(matrix[:, j].sum()), int(m["support"]), int(matrix[j, j])
        if min(predicted, support) >= SMALL_SAMPLE:
            continue
        p_lo, p_hi = _wilson(hits, predicted)
        r_lo, r_hi = _wilson(hits, support)
        out.append(
            f"{role}: precision {m['precision']:.3f} on {predicted} predictions (95% interval "
            f"{p_lo:.2f}-{p_hi:.2f}), recall {m['recall']:.3f} on {support} examples "
            f"({r_lo:.2f}-{r_hi:.2f}): too few to rely on; declare more {role}s."
        )
    return out


def _check_folds(labels: np.ndarray, folds: int) -> None:
    """Every class needs examples in every fold, and 3 per training part to calibrate on."""
    need = max(folds, -(-3 * folds // (folds - 1)))
    counts = Counter(labels.tolist())
    short = {role: n for role, n in sorted(counts.items()) if n < need}
    if short:
        listed = ", ".join(f"{role} {n}" for role, n in short.items())
        raise ScoringError(
            f"Too few declared examples for {folds}-fold cross-validation ({listed}; each "
            f"role needs {need}); declare more users of those roles (koc roles import) or "
            "pass other --folds.",
            folds=folds,
        )


def infer_roles(
    store: GraphStore,
    *,
    threshold: float = 0.6,
    start: datetime | None = None,
    end: datetime | None = None,
    at: datetime | None = None,
    estimator: str = "logistic",
    seed: int = 0,
    cv_folds: int = 0,
    max_train_samples: int | None = 200_000,
    config: ScoreConfig | str | Path | None = None,
) -> dict[str, Any]:
    """Train the role classifier on declared roles and store roles for the others.

    Parameters
    ----------
    store : graph.store.GraphStore
        The embedded store (role history lives there).
    threshold : float in [0, 1]
        Calibrated confidence below which an inferred role stays ``unknown``.
    start, end : datetime, optional
        Window of the behaviour the features describe.
    at : datetime, optional
        Time at which declared roles are read (default ``end`` or now).
    estimator : {"logistic", "hgb"}
        Base model of :class:`influence.roles.RoleClassifier`.
    seed : int
        Random seed (subsampling, CV shuffling).
    cv_folds : int
        When >= 2, also cross-validate on the declared users and store the report
        with the model.
    max_train_samples : int or None
        Training rows cap (rare roles always kept).
    config : ScoreConfig, path or None
        Scoring configuration (its attribution windows).

    Returns
    -------
    dict
        ``model_version``, ``threshold``, ``trained_on`` (declared users per
        role), ``inferred`` (undeclared users per resulting role), ``metrics``
        and ``timings``.
    """
    conn = role_history_conn(store, required=True)
    t0 = time.perf_counter()
    _, feats, labels, _ = compute_features(store, start=start, end=end, at=at, config=config)
    t_feat = time.perf_counter() - t0
    train = np.isin(labels, TRAIN_ROLES)
    model = _model(estimator, threshold, seed, max_train_samples)
    metrics: dict[str, Any] = {}
    if cv_folds >= 2:
        from influence.roles import cross_validate_roles

        metrics["cv"] = _public_report(
            cross_validate_roles(model, feats.X[train], labels[train], n_splits=cv_folds, seed=seed)
        )
    model.fit(feats.X[train], labels[train])
    t_fit = time.perf_counter() - t0 - t_feat
    target = np.flatnonzero(~train)
    predicted, role, confidence = model.predict_role(feats.X[target])
    created = datetime.now(UTC)
    version = f"roles-{created:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    save_model(
        conn,
        ModelRecord(
            model_version=version,
            created_at=created,
            threshold=float(threshold),
            params={
                **model.get_params(),
                "features": list(feats.names),
                "n_train": model.n_train_,
                "window_start": start,
                "window_end": end,
            },
            metrics=metrics,
        ),
    )
    save_inferences(
        conn,
        version,
        pa.table(
            {
                "user_id": pa.array(feats.node_ids[target], pa.string()),
                "predicted_role": pa.array(predicted, pa.string()),
                "role": pa.array(role, pa.string()),
                "confidence": pa.array(confidence, pa.float64()),
            }
        ),
    )
    return {
        "model_version": version,
        "threshold": float(threshold),
        "trained_on": dict(sorted(Counter(labels[train].tolist()).items())),
        "inferred": dict(sorted(Counter(role.tolist()).items())),
        "metrics": metrics,
        "timings": {
            "features": round(t_feat, 3),
            "fit": round(t_fit, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    }


def evaluate_roles(
    store: GraphStore,
    *,
    folds: int = 5,
    ground_truth: str | Path | None = None,
    threshold: float = 0.6,
    start: datetime | None = None,
    end: datetime | None = None,
    estimator: str = "logistic",
    seed: int = 0,
    max_train_samples: int | None = 200_000,
    config: ScoreConfig | str | Path | None = None,
) -> dict[str, Any]:
    """Cross-validated quality of the role classifier (``koc roles evaluate``).

    ``cv`` is stratified k-fold on the declared users (what the pipeline knows).
    With ``ground_truth`` (a Parquet/CSV file with ``user_id`` and the true
    ``role``, e.g. the generator's ``ground_truth_users.parquet``), the model is
    also trained on all declared users and scored on the *undeclared* users
    against the truth (``holdout``), with the threshold applied (``coverage`` =
    share of them given a role; precision and recall over all of them, an
    ``unknown`` counting as a miss).

    Returns
    -------
    dict
        ``n_declared``, ``n_undeclared``, ``cv`` and optionally ``holdout`` and
        ``holdout_thresholded``: per-class precision / recall / F1, macro
        averages, confusion matrix (rows = true role); ``caveats``: a sentence
        per class measured on fewer than :data:`SMALL_SAMPLE` examples, with its
        95% Wilson interval (:func:`small_sample_caveats`), for ``cv`` and then for
        ``holdout`` (prefixed "vs ground truth").

    Raises
    ------
    ScoringError
        A declared role has fewer examples than ``folds``.
    """
    from influence.roles import classification_report_dict, cross_validate_roles

    t0 = time.perf_counter()
    _, feats, labels, _ = compute_features(store, start=start, end=end, config=config)
    train = np.isin(labels, TRAIN_ROLES)
    _check_folds(labels[train], folds)
    model = _model(estimator, threshold, seed, max_train_samples)
    cv = _public_report(
        cross_validate_roles(model, feats.X[train], labels[train], n_splits=folds, seed=seed)
    )
    out: dict[str, Any] = {
        "n_declared": int(train.sum()),
        "n_undeclared": int((~train).sum()),
        "threshold": threshold,
        "cv": cv,
        "caveats": small_sample_caveats(cv),
    }
    if ground_truth is not None:
        truth = _read_truth(Path(ground_truth))
        pos = node_index(truth.column("user_id"), pa.array(feats.node_ids, pa.string()))
        true_role = np.full(feats.node_ids.shape[0], None, dtype=object)
        true_role[pos >= 0] = np.asarray(truth.column("role").to_pylist(), dtype=object)[
            pos[pos >= 0]
        ]
        hidden = np.flatnonzero(~train & np.isin(true_role, TRAIN_ROLES))
        model.fit(feats.X[train], labels[train])
        predicted, role, _ = model.predict_role(feats.X[hidden])
        out["holdout"] = classification_report_dict(
            true_role[hidden], predicted, labels=list(TRAIN_ROLES)
        )
        out["holdout_thresholded"] = classification_report_dict(
            true_role[hidden], role, labels=list(TRAIN_ROLES)
        )
        out["holdout_thresholded"]["coverage"] = float(np.mean(role != Role.UNKNOWN.value))
        out["caveats"] += [f"vs ground truth, {c}" for c in small_sample_caveats(out["holdout"])]
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _read_truth(path: Path) -> pa.Table:
    if not path.is_file():
        raise IngestError(f"Ground-truth file {path} does not exist.", source=str(path))
    if path.suffix == ".parquet":
        table = pq.read_table(path)
    else:
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    missing = {"user_id", "role"} - set(table.column_names)
    if missing:
        raise IngestError(
            f"Ground-truth file {path} needs the columns user_id and role; missing "
            f"{', '.join(sorted(missing))}.",
            source=str(path),
        )
    return table.select(["user_id", "role"])
