"""The calibrated role classifier and its cross-validated report."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from graph.errors import ParameterError, ScoringError
from influence.roles import RoleClassifier, classification_report_dict, cross_validate_roles


def _blobs(rng: np.random.Generator, n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    roles = np.array(["consumer", "employee", "kol"], dtype=object)
    y = rng.choice(roles, size=n, p=[0.8, 0.12, 0.08])
    centres = {"consumer": (0.0, 0.0), "employee": (3.0, 0.0), "kol": (0.0, 3.0)}
    X = np.array([centres[r] for r in y]) + rng.normal(0, spread, size=(n, 2))
    return X.astype(np.float32), y


def test_role_classifier_separable_roles_cross_validate_well() -> None:
    X, y = _blobs(np.random.default_rng(0), 1500, 0.4)
    report = cross_validate_roles(RoleClassifier(), X, y, n_splits=3, seed=0)
    assert report["macro"]["f1"] > 0.95
    assert sum(map(sum, report["confusion"]["matrix"])) == 1500
    assert report["oof_proba"].shape == (1500, 3)


def test_role_classifier_probabilities_are_calibrated() -> None:
    rng = np.random.default_rng(1)
    X, y = _blobs(rng, 6000, 1.3)  # overlapping roles: confidence must mean something
    model = RoleClassifier().fit(X[:4000], y[:4000])
    predicted, _, confidence = model.predict_role(X[4000:])
    correct = predicted == y[4000:]
    # expected calibration error over 5 confidence bins
    bins = np.minimum((confidence * 5).astype(int), 4)
    ece = sum(
        abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean()
        for b in range(5)
        if (bins == b).any()
    )
    assert ece < 0.05
    assert np.allclose(model.predict_proba(X[:10]).sum(axis=1), 1.0)


@settings(max_examples=10, deadline=None)
@given(threshold=st.floats(0.0, 1.0))
def test_role_classifier_threshold_leaves_low_confidence_unknown(threshold: float) -> None:
    X, y = _blobs(np.random.default_rng(2), 600, 1.2)
    model = RoleClassifier(threshold=threshold, cv=2).fit(X, y)
    predicted, role, confidence = model.predict_role(X)
    low = confidence < threshold
    assert np.all(role[low] == "unknown")
    assert np.array_equal(role[~low], predicted[~low])


def test_role_classifier_follows_sklearn_conventions() -> None:
    X, y = _blobs(np.random.default_rng(3), 300, 0.5)
    model = RoleClassifier(threshold=0.7, estimator="hgb", max_iter=20)
    assert model.fit(X, y) is model
    assert list(model.classes_) == ["consumer", "employee", "kol"]
    assert set(model.predict(X)) <= set(model.classes_)
    copy = clone(model)
    assert copy.get_params()["threshold"] == 0.7 and not hasattr(copy, "calibrated_")


def test_role_classifier_subsample_keeps_every_rare_example() -> None:
    X, y = _blobs(np.random.default_rng(4), 2000, 0.5)
    rare = int((y != "consumer").sum())
    model = RoleClassifier(max_train_samples=rare + 200).fit(X, y)
    assert model.n_train_ == rare + 200


def test_role_classifier_errors_name_the_problem() -> None:
    X = np.zeros((10, 2), dtype=np.float32)
    with pytest.raises(ScoringError, match="two declared roles"):
        RoleClassifier().fit(X, np.array(["consumer"] * 10, dtype=object))
    with pytest.raises(ScoringError, match="kol"):
        RoleClassifier().fit(X, np.array(["consumer"] * 9 + ["kol"], dtype=object))
    with pytest.raises(ParameterError, match="'estimator' parameter"):
        RoleClassifier(estimator="svm").fit(X, np.array(["a", "b"] * 5, dtype=object))
    with pytest.raises(ParameterError, match="'threshold' parameter"):
        RoleClassifier(threshold=1.5).fit(X, np.array(["a", "b"] * 5, dtype=object))


def test_classification_report_dict_hand_computed() -> None:
    y_true = np.array(["kol", "kol", "consumer", "consumer", "employee"], dtype=object)
    y_pred = np.array(["kol", "consumer", "consumer", "unknown", "employee"], dtype=object)
    rep = classification_report_dict(y_true, y_pred, labels=["consumer", "employee", "kol"])
    assert rep["per_class"]["kol"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert rep["per_class"]["consumer"]["precision"] == 0.5  # 1 of 2 predicted consumers
    assert rep["per_class"]["consumer"]["recall"] == 0.5  # "unknown" counts as a miss
    assert rep["confusion"]["labels"] == ["consumer", "employee", "kol", "unknown"]
    assert rep["confusion"]["matrix"][0] == [1, 0, 0, 1]


def test_cross_validate_roles_group_folds_hold_out_whole_groups() -> None:
    X, y = _blobs(np.random.default_rng(5), 900, 0.5)
    groups = np.arange(900) % 9
    rep = cross_validate_roles(RoleClassifier(cv=2), X, y, groups=groups, n_splits=3)
    assert rep["n"] == 900 and rep["macro"]["f1"] > 0.9
