"""What every fitted weighting estimator reports: balance, ESS, weights, overlap, Table 1, outcome.

:class:`WeightingDiagnostics` is the mixin of :class:`~cit_bayes.weighting.estimator.PropensityWeighting`
and :class:`~cit_bayes.weighting.balancing.BalancingWeights`, with the checks both make of their
estimand and arms before fitting.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone

from cit_bayes.exceptions import (
    BalanceWarning,
    NotFittedError,
    WeightingError,
    WeightingWarning,
)
from cit_bayes.weighting.balance import (
    arm_codes,
    arm_means,
    balance_from_matrix,
    balance_summary,
    effective_sample_size,
    propensity_overlap,
    weight_summary,
    weighted_table_one,
)
from cit_bayes.weighting.design import encode_covariates
from cit_bayes.weighting.weights import (
    ESTIMANDS,
)

__all__ = ["SEPARATION_BOUND", "WeightingDiagnostics"]

#: Fitted propensities below this make an unpenalised model an error (separation).
SEPARATION_BOUND = 1e-6


class WeightingDiagnostics:
    """Diagnostics shared by the weighting estimators (balance, ESS, weights, Table 1, outcome).

    A mixin for fitted estimators that set ``arms_``, ``arm_``, ``weights_``, ``propensity_``,
    ``design_``, ``balance_threshold`` and the private ``_codes`` (integer arm codes) and
    ``_fit_data`` (the covariate frame and arm labels of the fit).

    Examples
    --------
    >>> from cit_bayes.weighting import PropensityWeighting
    >>> try:
    ...     PropensityWeighting().effective_sample_size()
    ... except Exception as error:
    ...     print(type(error).__name__)
    NotFittedError
    """

    def _warn_about_result(self) -> None:
        ess = self.effective_sample_size()
        low = ess[ess["ess"] < 0.1 * ess["n"]]
        if len(low):
            listed = ", ".join(f"{r.arm!r} ({r.ess:.1f} of {r.n})" for r in low.itertuples())
            warnings.warn(
                f"few patients carry the weight: effective sample size below 10% of the arm in {listed}",
                WeightingWarning,
                stacklevel=3,
            )
        summary = balance_summary(self.balance())
        worst = summary.loc[summary["max_smd_weighted"].idxmax()]
        if worst["max_smd_weighted"] > self.balance_threshold:
            n_over = int(np.sum(summary["max_smd_weighted"] > self.balance_threshold))
            label = worst["covariate"] + (f"={worst['level']}" if worst["level"] else "")
            warnings.warn(
                f"{n_over} covariate(s) or level(s) remain imbalanced after weighting (max pairwise "
                f"|SMD| > {self.balance_threshold:g}); the worst is {label} with "
                f"{worst['max_smd_weighted']:.3f} ({worst['pair_max_weighted']})",
                BalanceWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ diagnostics
    def _focal_index(self, arms) -> int | None:
        """Check the estimand; for ATT, the position of the focal arm (``reference``)."""
        if self.estimand not in ESTIMANDS:
            raise WeightingError(f"estimand must be one of {ESTIMANDS}; got {self.estimand!r}")
        if self.estimand != "att":
            return None
        if self.reference is None:
            raise WeightingError("estimand 'att' needs reference= (the focal arm)")
        if self.reference not in arms:
            raise WeightingError(
                f"reference {self.reference!r} is not one of the arms {list(arms)}"
            )
        return list(arms).index(self.reference)

    def _checked_arms(self, frame: pd.DataFrame, a, purpose: str):
        """The arm labels, their codes, the arms, the focal arm and patients per arm, checked."""
        arm_values = np.asarray(a, dtype=object)
        if arm_values.ndim != 1 or len(arm_values) != len(frame):
            raise WeightingError(f"{len(arm_values)} arm labels for {len(frame)} covariate rows")
        codes, arms = arm_codes(pd.Series(a).reset_index(drop=True), self.arms)
        focal = self._check_params(arms)
        if len(arms) < 2:
            raise WeightingError(f"weighting needs at least 2 arms; got {list(arms)}")
        counts = np.bincount(codes, minlength=len(arms))
        small = [f"{arms[j]!r} ({int(c)})" for j, c in enumerate(counts) if c < 2]
        if small:
            raise WeightingError(
                f"every arm needs at least 2 patients for {purpose} and balance "
                f"statistics; too small: {', '.join(small)}"
            )
        return arm_values, codes, arms, focal, counts

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(X, a) before using it"
            )

    def balance(self, X=None) -> pd.DataFrame:
        """Balance table (every covariate or level, every pair of arms), before and after weighting.

        ``X=None`` uses the covariates of the fit as the model saw them (rare levels pooled,
        constant covariates dropped); another table ``X`` with the same rows (for example
        covariates left out of the model) is encoded without pooling. Columns and definitions:
        :func:`cit_bayes.weighting.balance.balance_table`.
        """
        self._check_fitted()
        if X is None:
            matrix, columns = self.design_.balance_matrix, self.design_.balance_columns
        else:
            other = encode_covariates(X, rare_level_min=0)
            if len(other.balance_matrix) != len(self._codes):
                raise WeightingError(
                    f"X has {len(other.balance_matrix)} rows; the fit had {len(self._codes)}"
                )
            matrix, columns = other.balance_matrix, other.balance_columns
        return balance_from_matrix(
            matrix, columns, self._codes, self.arms_, self.weights_.to_numpy()
        )

    def balance_summary(self, X=None) -> pd.DataFrame:
        """Largest pairwise |SMD| per covariate or level, before and after weighting."""
        return balance_summary(self.balance(X))

    def effective_sample_size(self) -> pd.DataFrame:
        """Kish effective sample size per arm (:func:`cit_bayes.weighting.effective_sample_size`)."""
        self._check_fitted()
        return effective_sample_size(self.weights_.to_numpy(), self.arm_, arms=self.arms_)

    def weight_summary(self) -> pd.DataFrame:
        """Weight distribution per arm and overall (:func:`cit_bayes.weighting.weight_summary`)."""
        self._check_fitted()
        return weight_summary(self.weights_.to_numpy(), self.arm_, arms=self.arms_)

    def overlap(self) -> pd.DataFrame:
        """Propensity distribution per arm by actual arm (:func:`cit_bayes.weighting.propensity_overlap`)."""
        self._check_fitted()
        return propensity_overlap(self.propensity_, self.arm_, arms=self.arms_)

    def table_one(self, X=None, *, digits: int = 1) -> pd.DataFrame:
        """Weighted "Table 1": per arm unweighted and weighted mean (SD) or %, and max |SMD|."""
        self._check_fitted()
        if X is None:
            matrix, columns = self.design_.balance_matrix, self.design_.balance_columns
        else:
            other = encode_covariates(X, rare_level_min=0)
            matrix, columns = other.balance_matrix, other.balance_columns
        means = arm_means(matrix, columns, self._codes, self.arms_, self.weights_.to_numpy())
        summary = balance_summary(
            balance_from_matrix(matrix, columns, self._codes, self.arms_, self.weights_.to_numpy())
        )
        return weighted_table_one(means, summary, self.effective_sample_size(), digits=digits)

    def _refit_rows(self, rows):
        """A clone fitted on the rows ``rows`` of the fit data, without diagnostics (bootstrap)."""
        frame, arm = self._fit_data
        template = clone(self).set_params(arms=self.arms_)
        return template._fit(frame.iloc[rows], arm.iloc[rows], diagnose=False)

    def outcome(self, y, **kwargs) -> pd.DataFrame:
        """Weighted outcome means and pairwise differences (:func:`cit_bayes.weighting.weighted_outcome`)."""
        from cit_bayes.weighting.outcome import weighted_outcome

        return weighted_outcome(self, y, **kwargs)
