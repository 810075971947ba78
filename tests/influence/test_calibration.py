"""Weight calibration: recovers known weights, stays non-negative, validates forward in time."""

from __future__ import annotations

import numpy as np
import pytest

from graph.errors import ParameterError, ScoringError
from influence.calibration import WeightCalibrator


def _periods(true_w, n_periods=4, n=3000, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for _ in range(n_periods):
        x = rng.random((n, len(true_w)))
        X.append(x)
        y.append(np.expm1(x @ np.asarray(true_w) + noise * rng.standard_normal(n)).clip(0))
    return X, y


def test_calibrator_recovers_relative_weights():
    true_w = np.array([2.0, 0.0, 1.0, 0.0])
    X, y = _periods(true_w)
    model = WeightCalibrator(alpha=1.0, k=100, n_splits=2).fit(X, y)
    assert model.weights_.sum() == pytest.approx(1.0)
    assert model.weights_ == pytest.approx(true_w / true_w.sum(), abs=0.03)
    assert (model.coef_ >= 0).all()


def test_calibrator_never_negative_even_for_harmful_feature():
    X, y = _periods(np.array([1.0, -1.0]))
    model = WeightCalibrator(n_splits=2).fit(X, y)
    assert model.coef_[1] == 0.0
    assert model.weights_.tolist() == pytest.approx([1.0, 0.0])


def test_calibrator_cv_trains_only_on_earlier_periods():
    X, y = _periods(np.array([1.0, 0.5]), n_periods=4)
    model = WeightCalibrator(n_splits=3).fit(X, y, baseline=np.array([0.0, 1.0]))
    assert [(r["train"], r["test"]) for r in model.cv_results_] == [
        ([0], 1),
        ([0, 1], 2),
        ([0, 1, 2], 3),
    ]
    # fitted weights order users like the truth; the baseline (only the weaker feature) does worse
    assert model.score_ > model.baseline_score_


def test_calibrator_predict_uses_weights():
    X, y = _periods(np.array([1.0, 1.0]))
    model = WeightCalibrator(n_splits=2).fit(X, y)
    assert model.predict(np.array([[1.0, 0.0]])) == pytest.approx([model.weights_[0]])


@pytest.mark.parametrize(
    "kwargs, periods, match",
    [
        ({"alpha": 0.0}, 3, "alpha"),
        ({"k": 0}, 3, "'k'"),
        ({"n_splits": 3}, 3, "at least 4"),
    ],
)
def test_calibrator_parameter_errors(kwargs, periods, match):
    X, y = _periods(np.array([1.0]), n_periods=periods, n=50)
    error = ScoringError if "n_splits" in kwargs else ParameterError
    with pytest.raises(error, match=match):
        WeightCalibrator(**kwargs).fit(X, y)


def test_calibrator_rejects_negative_target():
    X, y = _periods(np.array([1.0]), n_periods=3, n=10)
    y[0][0] = -1.0
    with pytest.raises(ScoringError, match=">= 0"):
        WeightCalibrator().fit(X, y)


def test_calibrator_keeps_baseline_when_fit_loses_on_held_out_last_period():
    # the first three periods reward feature 0, the last (held-out) one feature 1
    rng = np.random.default_rng(3)
    X = [rng.random((2000, 2)) for _ in range(4)]
    y = [np.expm1(x[:, 0]) for x in X[:3]] + [np.expm1(X[3][:, 1])]
    baseline = np.array([0.0, 1.0])
    model = WeightCalibrator(n_splits=2).fit(X, y, baseline=baseline)
    assert model.holdout_["train"] == [0, 1, 2] and model.holdout_["test"] == 3
    # fitted on the earlier periods: feature 0, which loses on the held-out one
    assert model.holdout_["weights"] == pytest.approx([1.0, 0.0], abs=0.05)
    assert model.holdout_["ndcg_fitted"] < model.holdout_["ndcg_baseline"]
    assert not model.recommended_
    assert model.weights_.tolist() == [0.0, 1.0]


def test_calibrator_recommends_a_fit_that_wins_on_the_held_out_period():
    X, y = _periods(np.array([1.0, 0.2]))
    model = WeightCalibrator(n_splits=2).fit(X, y, baseline=np.array([0.0, 1.0]))
    assert model.holdout_["ndcg_fitted"] > model.holdout_["ndcg_baseline"]
    assert model.recommended_
    assert model.weights_[0] > model.weights_[1]


def test_calibrator_is_a_scikit_learn_estimator():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    model = WeightCalibrator(alpha=2.0, k=10)
    assert model.get_params() == {"alpha": 2.0, "k": 10, "n_splits": 2}
    copy = clone(model).set_params(k=5)
    assert copy.k == 5 and model.k == 10
    with pytest.raises(NotFittedError):
        model.predict(np.ones((2, 3)))
    X, y = _periods(np.array([1.0, 0.5, 0.0]), n_periods=3, n=200)
    fitted = model.fit(X, y)
    assert fitted is model and model.n_features_in_ == 3
    learned = {name for name in vars(model) if name not in model.get_params()}
    assert learned and all(name.endswith("_") for name in learned)
