"""Weighted (Hajek) outcome means per arm and pairwise differences, with sandwich and bootstrap CIs.

The classic frequentist propensity-weighting answer, to sit beside the Bayesian models.

Estimator
---------
For arm j, :math:`\\hat\\mu_j = \\sum_{i: a_i = j} w_i y_i / \\sum_{i: a_i = j} w_i` (Hajek), the
mean outcome of arm j in the estimand's target population; a difference is
:math:`\\hat\\mu_j - \\hat\\mu_l` (for a 0/1 outcome: a risk difference).

Sandwich CI (M-estimation)
--------------------------
:math:`\\hat\\mu` solves :math:`\\sum_i 1\\{a_i = j\\} w_i(\\beta)(y_i - \\mu_j) = 0`. For the
logistic propensity model without truncation, these equations are **stacked with the (penalised)
score equations of the multinomial logit**, so the interval accounts for the estimation of the
propensities (Lunceford & Davidian 2004; Li & Li 2019): with
:math:`A = -n^{-1}\\sum_i \\partial\\psi_i/\\partial\\theta` (block lower triangular) the influence
function of :math:`\\hat\\mu` is

.. math::
    \\mathrm{IF}_i = A_{\\mu\\mu}^{-1}\\,[\\psi_{\\mu,i} - A_{\\mu\\beta} A_{\\beta\\beta}^{+}\\psi_{\\beta,i}],

and :math:`\\widehat{\\mathrm{Var}}(\\hat\\mu) = n^{-2} \\sum_i \\mathrm{IF}_i \\mathrm{IF}_i^\\top`
(no small-sample correction). :math:`A_{\\beta\\beta}^{+}` is a pseudo-inverse: directions
that change no propensity (the over-parameterisation of the symmetric multinomial logit) do not
change the weights, so they drop out. Trimmed patients are held fixed (the trimming set is not
differentiated). The standardisation of covariates is treated as known. Intervals are Wald
intervals, estimate +- z SE: for a response rate near 0 or 1 they can cross the bounds (the
bootstrap percentile interval does not).

For the boosting model or with truncated weights the derivative of the weights does not exist or
is not used, and the sandwich treats **the weights as fixed** (:math:`\\mathrm{IF}_i =
A_{\\mu\\mu}^{-1}\\psi_{\\mu,i}`); for inverse probability weights this is known to be
conservative (Lunceford & Davidian 2004), for other estimands it need not be. The column
``sandwich_method`` says which was used.

Bootstrap CI
------------
``n_bootstrap`` resamples drawn with replacement **within each arm** (arm sizes fixed), each
refitting the whole weighting (propensity model, trimming, truncation) with the same settings;
percentile intervals. Resamples in which the weighting fails (for example separation) are
counted in ``n_bootstrap_failed``, never silently dropped; a
:class:`~cit_bayes.exceptions.WeightingWarning` is issued when any fail.

References
----------
Lunceford JK, Davidian M (2004). Stratification and weighting via the propensity score in
estimation of causal treatment effects: a comparative study. Statistics in Medicine
23(19):2937-2960.
Li F, Li F (2019). Propensity score weighting for causal inference with multiple treatments.
Annals of Applied Statistics 13(4):2389-2415.
Efron B, Tibshirani RJ (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from cit_bayes.exceptions import NotFittedError, WeightingError, WeightingWarning
from cit_bayes.weighting.propensity import (
    logistic_hessian,
    logistic_probabilities,
    logistic_scores,
    single_thread_if_small,
)
from cit_bayes.weighting.weights import weight_gradient

__all__ = ["weighted_outcome"]

METHOD_ESTIMATED = "M-estimation (propensity model estimated)"
METHOD_FIXED = "weights treated as fixed"


def _outcome_values(y, n: int) -> np.ndarray:
    series = pd.Series(y).reset_index(drop=True)
    if len(series) != n:
        raise WeightingError(f"{len(series)} outcome values for {n} patients")
    if pd.api.types.is_bool_dtype(series):
        series = series.astype(float)
    if not pd.api.types.is_numeric_dtype(series):
        raise WeightingError(f"the outcome must be numeric (0/1 or continuous); got {series.dtype}")
    values = series.to_numpy(dtype=float, na_value=np.nan)
    n_missing = int(np.sum(~np.isfinite(values)))
    if n_missing:
        raise WeightingError(
            f"the outcome has {n_missing} missing or non-finite value(s); weighted means need it "
            "for every patient (nothing is dropped silently)"
        )
    return values


def _hajek(codes, weights, y, n_arms) -> np.ndarray:
    totals = np.bincount(codes, weights=weights, minlength=n_arms)
    return np.bincount(codes, weights=weights * y, minlength=n_arms) / totals


def _contrasts(arms, reference) -> list[tuple[int, int]]:
    """Pairs (arm, comparator): every arm vs ``reference``, else every later vs earlier arm."""
    if reference is not None:
        if reference not in arms:
            raise WeightingError(f"reference {reference!r} is not one of the arms {list(arms)}")
        r = list(arms).index(reference)
        return [(j, r) for j in range(len(arms)) if j != r]
    return [(j, i) for i, j in itertools.combinations(range(len(arms)), 2)]


def _influence(weighting, y, codes, means, estimated: bool) -> np.ndarray:
    """Influence functions of the arm means, shape (n, k)."""
    n, k = len(y), len(weighting.arms_)
    if estimated:
        w = weighting._raw_weights
    else:
        w = weighting.weights_.to_numpy()
    onehot = np.eye(k)[codes]
    residual = y - means[codes]
    psi_mu = onehot * (w * residual)[:, None]
    a_mumu = np.bincount(codes, weights=w, minlength=k) / n
    if not estimated:
        return psi_mu / a_mumu
    fit = weighting.propensity_model_
    Z = weighting.design_.model_matrix
    e = logistic_probabilities(fit, Z)
    included = weighting.included_.to_numpy()
    g = weight_gradient(e, codes, weighting.estimand, weighting._focal)
    g_bar = np.sum(g * e, axis=1)
    Z1 = np.column_stack([np.ones(n), Z])
    dw = np.hstack([(e[:, j] * (g[:, j] - g_bar))[:, None] * Z1 for j in fit.free_arms])
    dw[~included] = 0.0
    a_mubeta = -(onehot * residual[:, None]).T @ dw / n  # (k, P)
    a_betabeta = logistic_hessian(fit, Z) / n
    scores = logistic_scores(fit, Z, codes)
    if_beta = scores @ np.linalg.pinv(a_betabeta, hermitian=True).T
    return (psi_mu - if_beta @ a_mubeta.T) / a_mumu


def _bootstrap(weighting, y, n_bootstrap, rng):
    frame, arm = weighting._fit_data
    codes = weighting._codes
    k = len(weighting.arms_)
    template = clone(weighting).set_params(arms=weighting.arms_)
    by_arm = [np.flatnonzero(codes == j) for j in range(k)]
    estimates, failures = [], 0
    for _ in range(n_bootstrap):
        rows = np.concatenate([rng.choice(members, size=len(members)) for members in by_arm])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = clone(template)._fit(frame.iloc[rows], arm.iloc[rows], diagnose=False)
        except WeightingError:
            failures += 1
            continue
        estimates.append(_hajek(codes[rows], fitted.weights_.to_numpy(), y[rows], k))
    return np.array(estimates).reshape(-1, k), failures


def weighted_outcome(
    weighting,
    y,
    *,
    reference=None,
    confidence: float = 0.95,
    n_bootstrap: int = 0,
    random_state=None,
) -> pd.DataFrame:
    """Weighted mean outcome per arm and pairwise differences, with sandwich and bootstrap CIs.

    Parameters
    ----------
    weighting : PropensityWeighting
        A fitted estimator; ``y`` must have the rows of its ``fit`` data, in the same order.
    y : array-like, shape (n,)
        Numeric outcome (0/1 for a response; bool is read as 0/1). Missing values are an error.
    reference : arm label, optional
        Differences are every other arm minus ``reference``; by default every pair, later arm
        minus earlier arm in the arm order.
    confidence : float, default 0.95
    n_bootstrap : int, default 0
        Bootstrap resamples (0: sandwich only).
    random_state : int or numpy.random.Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per arm (``quantity = "arm_mean"``) then per difference (``"difference"``):
        ``arm``, ``comparator``, ``estimate``, ``unweighted_estimate``, ``se_sandwich``,
        ``ci_low_sandwich``, ``ci_high_sandwich``, ``sandwich_method``, ``se_bootstrap``,
        ``ci_low_bootstrap``, ``ci_high_bootstrap``, ``n_bootstrap``, ``n_bootstrap_failed``,
        ``confidence``, ``estimand``. Methods: module docstring.

    References
    ----------
    Lunceford JK, Davidian M (2004). Statistics in Medicine 23(19):2937-2960.
    """
    if not hasattr(weighting, "weights_"):
        raise NotFittedError("weighted_outcome needs a fitted PropensityWeighting: call fit first")
    if not 0 < confidence < 1:
        raise WeightingError(f"confidence must be in (0, 1); got {confidence!r}")
    codes = weighting._codes
    arms = weighting.arms_
    k = len(arms)
    values = _outcome_values(y, len(codes))
    weights = weighting.weights_.to_numpy()
    means = _hajek(codes, weights, values, k)
    raw_means = _hajek(codes, np.ones(len(codes)), values, k)
    estimated = weighting.propensity_model_ is not None and weighting.truncate is None
    n = len(codes)
    with single_thread_if_small(n):
        influence = _influence(weighting, values, codes, means, estimated)

    contrasts = [(j, None) for j in range(k)] + _contrasts(arms, reference)
    matrix = np.zeros((len(contrasts), k))
    for r, (j, comparator) in enumerate(contrasts):
        matrix[r, j] = 1.0
        if comparator is not None:
            matrix[r, comparator] = -1.0
    covariance = influence.T @ influence / n**2
    se = np.sqrt(np.einsum("rk,kl,rl->r", matrix, covariance, matrix))
    z = stats.norm.ppf(0.5 + confidence / 2)
    estimate = matrix @ means

    boot_low = boot_high = boot_se = np.full(len(contrasts), np.nan)
    failures = 0
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        with single_thread_if_small(n):
            draws, failures = _bootstrap(weighting, values, int(n_bootstrap), rng)
        if failures:
            warnings.warn(
                f"{failures} of {n_bootstrap} bootstrap resamples could not be weighted (for "
                "example separation in a resample); the interval uses the others",
                WeightingWarning,
                stacklevel=2,
            )
        if len(draws) >= 2:
            contrast_draws = draws @ matrix.T
            tail = 100 * (1 - confidence) / 2
            boot_low, boot_high = np.percentile(contrast_draws, [tail, 100 - tail], axis=0)
            boot_se = contrast_draws.std(axis=0, ddof=1)

    rows = []
    for r, (j, comparator) in enumerate(contrasts):
        rows.append(
            {
                "quantity": "arm_mean" if comparator is None else "difference",
                "arm": arms[j],
                "comparator": "" if comparator is None else arms[comparator],
                "estimate": estimate[r],
                "unweighted_estimate": float(matrix[r] @ raw_means),
                "se_sandwich": se[r],
                "ci_low_sandwich": estimate[r] - z * se[r],
                "ci_high_sandwich": estimate[r] + z * se[r],
                "sandwich_method": METHOD_ESTIMATED if estimated else METHOD_FIXED,
                "se_bootstrap": boot_se[r],
                "ci_low_bootstrap": boot_low[r],
                "ci_high_bootstrap": boot_high[r],
                "n_bootstrap": int(n_bootstrap),
                "n_bootstrap_failed": int(failures),
                "confidence": confidence,
                "estimand": weighting.estimand,
            }
        )
    return pd.DataFrame(rows)
