"""The role classifier: gradient-boosted trees with calibrated probabilities.

Follows scikit-learn conventions: parameters in ``__init__``, ``fit`` returns
``self``, learned state ends in ``_``. Probabilities are calibrated by
cross-validation (:class:`sklearn.calibration.CalibratedClassifierCV`), so a
confidence of 0.9 means about nine right out of ten, and a threshold on it is
meaningful.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from graph.errors import ScoringError
from graph.params import Constraint, Interval, Options, check_params

__all__ = ["RoleClassifier", "cross_validate_roles", "classification_report_dict", "UNKNOWN"]

UNKNOWN = "unknown"


class RoleClassifier(ClassifierMixin, BaseEstimator):
    """Predict a user's role from behavioural features, with calibrated confidence.

    Parameters
    ----------
    estimator : {"logistic", "hgb"}
        Base model: a standardised multinomial logistic regression (default:
        fast, and enough when the features separate the roles) or histogram
        gradient boosting (Ke et al. 2017, "LightGBM"; slower, captures
        interactions).
    method : {"isotonic", "sigmoid"}
        Calibration: isotonic regression (Zadrozny and Elkan 2002) or Platt
        scaling (Platt 1999).
    cv : int
        Folds of the calibration cross-validation.
    threshold : float in [0, 1]
        :meth:`predict_role` answers ``unknown`` when the top calibrated
        probability is below it.
    max_iter : int
        Boosting iterations (``hgb``) or solver iterations (``logistic``).
    class_weight : "balanced" or None
        Re-weight rare classes (employees and KOLs are a few percent of users).
    max_train_samples : int or None
        Fit on at most this many rows: every row of the rarer classes is kept
        and the most common class is subsampled (``random_state`` decides).
    random_state : int or None
        Seed of the subsampling and of the boosting's early-stopping split.
    n_threads : int or None
        Native (OpenMP / BLAS) threads while fitting and predicting; None keeps
        the libraries' default. The default 1 avoids the large slow-downs of
        oversubscribed threads on a busy machine.
    """

    #: what each parameter accepts, checked by ``fit`` (:mod:`graph.params`)
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "estimator": [Options(("hgb", "logistic"))],
        "method": [Options(("isotonic", "sigmoid"))],
        "cv": [Interval(Integral, 2, None)],
        "threshold": [Interval(Real, 0, 1)],
        "max_iter": [Interval(Integral, 1, None)],
        "class_weight": [Options(("balanced",)), None],
        "max_train_samples": [Interval(Integral, 1, None), None],
        "random_state": [Interval(Integral, 0, None), None],
        "n_threads": [Interval(Integral, 1, None), None],
    }

    def __init__(
        self,
        *,
        estimator: str = "logistic",
        method: str = "isotonic",
        cv: int = 3,
        threshold: float = 0.6,
        max_iter: int = 500,
        class_weight: str | None = "balanced",
        max_train_samples: int | None = 200_000,
        random_state: int | None = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.threshold = threshold
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.max_train_samples = max_train_samples
        self.random_state = random_state
        self.n_threads = n_threads

    def _check_params(self) -> None:
        check_params(type(self).__name__, self._parameter_constraints, self.get_params())

    def _base(self) -> Any:
        if self.estimator == "hgb":
            return HistGradientBoostingClassifier(
                max_iter=min(self.max_iter, 200),
                learning_rate=0.1,
                class_weight=self.class_weight,
                early_stopping=False,
                random_state=self.random_state,
            )
        return make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=self.max_iter, class_weight=self.class_weight),
        )

    def _subsample(self, y: np.ndarray) -> np.ndarray:
        n = y.shape[0]
        if self.max_train_samples is None or n <= self.max_train_samples:
            return np.arange(n)
        rng = np.random.default_rng(self.random_state)
        labels, counts = np.unique(y, return_counts=True)
        major = labels[np.argmax(counts)]
        minor_idx = np.flatnonzero(y != major)
        budget = max(self.max_train_samples - minor_idx.size, counts.max() // 10)
        major_idx = rng.choice(
            np.flatnonzero(y == major), size=min(budget, counts.max()), replace=False
        )
        return np.sort(np.concatenate([minor_idx, major_idx]))

    def fit(self, X: np.ndarray, y: np.ndarray) -> RoleClassifier:
        """Fit the base model and its calibration on features ``X`` and roles ``y``.

        Raises
        ------
        ParameterError
            A parameter outside :attr:`_parameter_constraints`.
        ScoringError
            Fewer than two roles, or a role with fewer examples than ``cv``
            (declare more users of that role, e.g. import the roster).
        """
        self._check_params()
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=object)
        labels, counts = np.unique(y, return_counts=True)
        if labels.size < 2:
            raise ScoringError(
                f"The role classifier needs at least two declared roles; got "
                f"{', '.join(map(str, labels.tolist())) or 'none'}. "
                "Import a roster or a KOL list first.",
                roles=labels.tolist(),
            )
        if counts.min() < self.cv:
            rare = labels[counts < self.cv].tolist()
            listed = ", ".join(
                f"{role} ({int(n)})" for role, n in zip(labels, counts, strict=True) if n < self.cv
            )
            raise ScoringError(
                f"Too few declared examples to calibrate with cv={self.cv}: {listed}; "
                f"declare at least {self.cv} users of each role (koc roles import) or lower cv.",
                roles=rare,
            )
        keep = self._subsample(y)
        self.calibrated_ = CalibratedClassifierCV(self._base(), method=self.method, cv=self.cv)
        with threadpool_limits(limits=self.n_threads):
            self.calibrated_.fit(X[keep], y[keep])
        self.classes_ = self.calibrated_.classes_
        self.n_features_in_ = X.shape[1]
        self.n_train_ = int(keep.size)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of each class (columns ordered like ``classes_``)."""
        check_is_fitted(self, "calibrated_")
        with threadpool_limits(limits=self.n_threads):
            return self.calibrated_.predict_proba(np.asarray(X, dtype=np.float32))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable role of each row (always one of ``classes_``)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_role(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Roles after the confidence threshold.

        Returns
        -------
        predicted : numpy.ndarray of str
            Most probable role.
        role : numpy.ndarray of str
            ``predicted`` where its probability reaches ``threshold``, else ``unknown``.
        confidence : numpy.ndarray of float
            Calibrated probability of ``predicted``.
        """
        proba = self.predict_proba(X)
        top = np.argmax(proba, axis=1)
        confidence = proba[np.arange(proba.shape[0]), top]
        predicted = np.asarray(self.classes_[top], dtype=object)
        role = np.where(confidence >= self.threshold, predicted, UNKNOWN).astype(object)
        return predicted, role, confidence


def classification_report_dict(
    y_true: np.ndarray, y_pred: np.ndarray, labels: list[str] | None = None
) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support, their macro averages and the
    confusion matrix (rows = true role, columns = predicted), as plain JSON types."""
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if labels is None:
        labels = sorted(set(y_true.tolist()))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm_labels = labels + sorted(set(y_pred.tolist()) - set(labels))
    cm = confusion_matrix(y_true, y_pred, labels=cm_labels)
    return {
        "labels": labels,
        "per_class": {
            lab: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, lab in enumerate(labels)
        },
        "macro": {
            "precision": float(np.mean(p)),
            "recall": float(np.mean(r)),
            "f1": float(np.mean(f)),
        },
        "confusion": {"labels": cm_labels, "matrix": cm[: len(labels)].tolist()},
        "n": int(y_true.shape[0]),
    }


def cross_validate_roles(
    model: RoleClassifier,
    X: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    n_splits: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Out-of-fold predictions and their precision, recall, F1 and confusion matrix.

    Folds are stratified by role (:class:`~sklearn.model_selection.StratifiedKFold`,
    shuffled with ``seed``) or, when ``groups`` is given, whole groups are held out
    (:class:`~sklearn.model_selection.GroupKFold`), e.g. villages or stores.

    Returns
    -------
    dict
        :func:`classification_report_dict` of the out-of-fold predictions, plus
        ``oof_proba`` (numpy array, columns ``classes``) and ``classes``.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=object)
    if groups is None:
        splitter: Any = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = splitter.split(X, y)
    else:
        splits = GroupKFold(n_splits=n_splits).split(X, y, groups)
    classes = np.unique(y)
    proba = np.zeros((y.shape[0], classes.size))
    for train, test in splits:
        fold = RoleClassifier(**model.get_params()).fit(X[train], y[train])
        cols = np.searchsorted(classes, fold.classes_)
        proba[np.ix_(test, cols)] = fold.predict_proba(X[test])
    pred = classes[np.argmax(proba, axis=1)]
    report = classification_report_dict(y, pred, labels=classes.tolist())
    report["classes"] = classes.tolist()
    report["oof_proba"] = proba
    return report
