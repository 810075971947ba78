"""Fit the KOC score's component weights from history (``koc calibrate``).

Model
-----
For consecutive periods :math:`t \\to t+1`, each user's five normalised components
:math:`p_{i\\cdot}(t) \\in [0, 1]^5` (the percentile ranks of :mod:`influence.score`)
predict :math:`\\log(1 + \\mathrm{GMV}_i(t+1))`, the user's attributed GMV in the next
period, by ridge regression with non-negative coefficients (Hoerl and Kennard,
"Ridge regression", Technometrics 12(1), 1970; scikit-learn ``Ridge(positive=True)``):

.. math::

    \\min_{\\beta \\ge 0, b} \\sum_{t, i} (\\log(1 + y_i(t+1)) - b - p_i(t)^\\top \\beta)^2
    + \\alpha \\lVert \\beta \\rVert_2^2

The fitted weights are :math:`\\beta / \\sum \\beta`: a linear score with those weights
orders users like the model's prediction, and non-negativity keeps the score
explainable (no component counts *against* a user).

Validation is time-ordered (:class:`sklearn.model_selection.TimeSeriesSplit` over
periods: train on the earliest periods, test on the next, never the reverse); each
test period is scored by NDCG@k (:func:`influence.evaluation.ndcg_at_k`) of the
fitted weights and of the baseline (current) weights against the realised next-period
GMV.

**Held out.** The last period is never fitted on when judging: ``holdout_`` is the
fit on every earlier period tested on the last one. The weights are
**recommended** (``recommended_``) only when they beat the baseline both on the
mean of the folds and on that held-out last period; otherwise ``weights_`` are the
baseline weights, so ``koc calibrate`` never proposes weights that lose on the
held-out month. ``coef_`` keeps the raw fit on every period for inspection.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.model_selection import TimeSeriesSplit
from sklearn.utils.validation import check_is_fitted

from graph.errors import ScoringError
from graph.params import Constraint, Interval, check_params
from influence.evaluation import ndcg_at_k, ranking_order

__all__ = ["WeightCalibrator"]


class WeightCalibrator(BaseEstimator):
    """Non-negative ridge fit of component weights, validated on later periods.

    A scikit-learn estimator: parameters are set in ``__init__`` and checked by
    :meth:`fit` (``get_params``, ``set_params`` and :func:`sklearn.base.clone` work),
    :meth:`fit` returns ``self``, and everything learned ends in ``_``.

    Parameters
    ----------
    alpha : float, default 1.0
        Ridge regularisation strength (> 0).
    k : int, default 100
        NDCG cut-off of the validation.
    n_splits : int, default 2
        Time-ordered folds over the periods (needs ``n_splits + 1`` periods).

    Attributes
    ----------
    weights_ : numpy.ndarray
        Fitted weights (sum 1), in the column order of the features.
    coef_ : numpy.ndarray
        Raw non-negative ridge coefficients of the final fit (all periods).
    cv_results_ : list of dict
        Per fold: ``train`` and ``test`` period indices, ``ndcg_fitted``, ``ndcg_baseline``.
    score_, baseline_score_ : float
        Mean validation NDCG@k of the fitted and the baseline weights.
    holdout_ : dict
        The last period: ``train`` (all earlier periods), ``test``, ``ndcg_fitted``,
        ``ndcg_baseline`` and ``weights`` (the fit that was tested).
    recommended_ : bool
        Whether the fit beats the baseline on the mean of the folds and on the held-out
        last period.
    n_features_in_ : int
        Components per user seen by :meth:`fit`.
    """

    #: what each parameter accepts, checked by :meth:`fit` (:mod:`graph.params`)
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "k": [Interval(Integral, 1, None)],
        "n_splits": [Interval(Integral, 1, None)],
    }

    def __init__(self, alpha: float = 1.0, k: int = 100, n_splits: int = 2) -> None:
        self.alpha = alpha
        self.k = k
        self.n_splits = n_splits

    def _check(self, n_periods: int) -> None:
        check_params(type(self).__name__, self._parameter_constraints, self.get_params())
        if n_periods < self.n_splits + 1:
            raise ScoringError(
                f"{self.n_splits} time-ordered folds need at least {self.n_splits + 1} "
                f"periods with a successor; got {n_periods}. Use fewer splits or more history."
            )

    def _fit_periods(self, X: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> np.ndarray:
        model = Ridge(alpha=self.alpha, positive=True, fit_intercept=True)
        model.fit(np.vstack(X), np.log1p(np.concatenate(y)))
        return np.asarray(model.coef_, dtype=np.float64)

    def fit(
        self,
        X: Sequence[np.ndarray],
        y: Sequence[np.ndarray],
        *,
        baseline: np.ndarray | None = None,
    ) -> WeightCalibrator:
        """Fit on periods in time order.

        Parameters
        ----------
        X : sequence of numpy.ndarray, shape (n_users, n_components)
            Normalised components of period ``t`` (one array per period, oldest first).
        y : sequence of numpy.ndarray, shape (n_users,)
            Realised GMV (>= 0) of period ``t + 1`` for the same users.
        baseline : numpy.ndarray, optional
            Current weights to compare with (default: equal weights).

        Returns
        -------
        self

        Raises
        ------
        ParameterError
            ``alpha``, ``k`` or ``n_splits`` outside :attr:`_parameter_constraints`.
        ScoringError
            Fewer than ``n_splits + 1`` periods, ``X`` and ``y`` of different lengths,
            or a negative GMV.
        """
        if len(X) != len(y):
            raise ScoringError(f"X has {len(X)} periods but y has {len(y)}.")
        self._check(len(X))
        if any(np.asarray(t).min(initial=0) < 0 for t in y):
            raise ScoringError("Next-period GMV must be >= 0.")
        n_comp = np.asarray(X[0]).shape[1]
        self.n_features_in_ = int(n_comp)
        base = np.ones(n_comp) if baseline is None else np.asarray(baseline, dtype=np.float64)
        self.cv_results_ = []
        for train, test in TimeSeriesSplit(n_splits=self.n_splits).split(np.arange(len(X))):
            coef = self._fit_periods([X[i] for i in train], [y[i] for i in train])
            w = coef if coef.sum() > 0 else base
            for p in test:
                self.cv_results_.append(
                    {
                        "train": [int(i) for i in train],
                        "test": int(p),
                        "ndcg_fitted": ndcg_at_k(y[p], ranking_order(X[p] @ w), self.k),
                        "ndcg_baseline": ndcg_at_k(y[p], ranking_order(X[p] @ base), self.k),
                    }
                )
        self.score_ = float(np.mean([r["ndcg_fitted"] for r in self.cv_results_]))
        self.baseline_score_ = float(np.mean([r["ndcg_baseline"] for r in self.cv_results_]))
        last = len(X) - 1
        coef = self._fit_periods(X[:last], y[:last]) if last else np.zeros(n_comp)
        held = coef / coef.sum() if coef.sum() > 0 else base / base.sum()
        self.holdout_ = {
            "train": list(range(last)),
            "test": last,
            "ndcg_fitted": ndcg_at_k(y[last], ranking_order(X[last] @ held), self.k),
            "ndcg_baseline": ndcg_at_k(y[last], ranking_order(X[last] @ base), self.k),
            "weights": held.tolist(),
        }
        self.recommended_ = bool(
            self.score_ > self.baseline_score_
            and self.holdout_["ndcg_fitted"] > self.holdout_["ndcg_baseline"]
        )
        self.coef_ = self._fit_periods(X, y)
        total = self.coef_.sum()
        fitted = self.coef_ / total if total > 0 else base / base.sum()
        self.weights_ = fitted if self.recommended_ else base / base.sum()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores of users with components ``X`` under the fitted weights.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "weights_")
        return np.asarray(X, dtype=np.float64) @ self.weights_
