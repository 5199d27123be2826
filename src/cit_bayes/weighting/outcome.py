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

Entropy balancing
-----------------
For :class:`~cit_bayes.weighting.BalancingWeights` the weights are an M-estimator too (Zhao &
Percival 2017): the Hajek equations are stacked with, in order, the propensity score (ATO and
matching targets only), the target means :math:`\\sum_i q_i h_i (c_i - m) = 0`, and for every
balanced arm a the first-order conditions of its dual,
:math:`\\sum_{i: a_i = a} q_i e^{\\lambda_a^\\top d_i}(d_i + \\rho_a \\lambda_a) = 0` with
:math:`d_i = V_a^\\top (c_i - m)` (the directions in which the arm varies, :math:`\\rho_a = 0` unless
the arm took the ridge fallback). The bread is block lower triangular and is inverted block by
block (pseudo-inverse for the over-parameterised logit), so the interval accounts for the
estimation of the target and of every arm's dual. Held fixed: the standardisation of the
covariates, the basis :math:`V_a` and the fallback's ridge :math:`\\rho_a` (data-dependent
choices, not differentiated). ``sandwich_method`` is ``"M-estimation (balancing weights
estimated)"``. With many balance functions in small arms the sandwich (no small-sample
correction) is too small: on simulated paper-sized cohorts (187 patients, 4 arms of 36-64,
17 balance functions, ``paper-like`` scenario, ATO target; about 2 patients per balanced
direction in the smallest arm) its root-mean-square SE was 0.64-0.71 of the Monte Carlo SD of the
estimates, while the within-arm bootstrap's was 0.95; the sandwich ratio was 0.86 at 400
patients (about 4 per direction) and 0.96 at 800 (about 9). At 300 patients, 3 arms and 4
balance functions the sandwich covers at the nominal rate (the slow test). A
:class:`~cit_bayes.exceptions.WeightingWarning` is issued when the sandwich is computed without
the bootstrap and some arm has fewer than ``MIN_PATIENTS_PER_DIRECTION`` (8) patients per
balanced direction.

Bootstrap CI
------------
``n_bootstrap`` resamples drawn with replacement **within each arm** (arm sizes fixed), each
refitting the whole weighting (propensity model, trimming, truncation) with the same settings;
percentile intervals. Resamples in which the weighting fails (for example separation) are
counted in ``n_bootstrap_failed``, never silently dropped; a
:class:`~cit_bayes.exceptions.WeightingWarning` is issued when any fail.

An arm with 0 % or 100 % responders
-----------------------------------
For a 0/1 outcome, an arm whose patients (with positive weight) all have the same outcome has a
weighted rate of exactly 0 or 1, a sandwich SE of 0 and a bootstrap that cannot vary: both
intervals would be the point [1, 1] (or [0, 0]). Its row gets Wilson's score interval at the
arm's Kish effective sample size instead, and each difference involving it Newcombe's hybrid
score interval from the two arms' Wilson limits at their Kish effective sample sizes
(:mod:`cit_bayes.weighting.score_interval`), in both the sandwich and the bootstrap interval
columns; ``interval_method`` says which rows, and a
:class:`~cit_bayes.exceptions.WeightingWarning` names the arms. The SE columns keep the sandwich
and bootstrap values (0 for such an arm); these intervals do not use them. Every other row keeps
its Wald and percentile intervals.

References
----------
Zhao Q, Percival D (2017). Entropy balancing is doubly robust. Journal of Causal Inference
5(1):20160010.
Stefanski LA, Boos DD (2002). The calculus of M-estimation. The American Statistician
56(1):29-38.
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

from cit_bayes.exceptions import NotFittedError, WeightingError, WeightingWarning
from cit_bayes.weighting.balance import effective_sample_size
from cit_bayes.weighting.propensity import (
    logistic_hessian,
    logistic_probabilities,
    logistic_scores,
    single_thread_if_small,
)
from cit_bayes.weighting.score_interval import newcombe_interval, wilson_interval
from cit_bayes.weighting.weights import weight_gradient

__all__ = ["weighted_outcome"]

METHOD_ESTIMATED = "M-estimation (propensity model estimated)"
METHOD_FIXED = "weights treated as fixed"
METHOD_BALANCING = "M-estimation (balancing weights estimated)"
INTERVAL_DEFAULT = "sandwich (Wald) and bootstrap (percentile)"
INTERVAL_SCORE = "score at Kish ESS (an arm with 0 % or 100 %): Wilson; differences: Newcombe"
#: Below this many patients per balanced direction of an arm, the sandwich alone is warned about.
MIN_PATIENTS_PER_DIRECTION = 8


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


def _tilting_gradient(e: np.ndarray, estimand: str) -> np.ndarray:
    """:math:`\\partial h / \\partial e_k` of the ATO and matching tilting functions, (n, k)."""
    if estimand == "ato":
        h = 1.0 / np.sum(1.0 / e, axis=1)
        return h[:, None] ** 2 / e**2
    gradient = np.zeros_like(e)
    gradient[np.arange(len(e)), np.argmin(e, axis=1)] = 1.0
    return gradient


def _balancing_influence(weighting, y, codes, means) -> np.ndarray:
    """Influence functions of the arm means under entropy balancing, shape (n, k).

    Stacked estimating equations, solved block by block (the bread is block lower triangular):
    the propensity score (ATO, matching), the target means ``q h (c - m)``, each arm's dual
    ``w (d + rho lambda)`` with ``d = V'(c - m)``, and the Hajek equations ``w (y - mu)``.
    """
    state = weighting._state
    C, q, h, m = state.matrix, state.base, state.tilt, state.target
    n, k = len(y), len(weighting.arms_)
    deviation = C - m
    psi_m = (q * h)[:, None] * deviation
    if weighting.estimand in ("ato", "matching"):
        fit = weighting.propensity_model_
        Z = weighting.design_.model_matrix
        e = logistic_probabilities(fit, Z)
        g = _tilting_gradient(e, weighting.estimand)
        g_bar = np.sum(g * e, axis=1)
        Z1 = np.column_stack([np.ones(n), Z])
        dh = np.hstack([(e[:, j] * (g[:, j] - g_bar))[:, None] * Z1 for j in fit.free_arms])
        a_mbeta = -(deviation * q[:, None]).T @ dh / n
        a_betabeta = logistic_hessian(fit, Z) / n
        if_beta = logistic_scores(fit, Z, codes) @ np.linalg.pinv(a_betabeta, hermitian=True).T
        psi_m = psi_m - if_beta @ a_mbeta.T
    if_m = psi_m / np.mean(q * h)
    influence = np.zeros((n, k))
    for j, solution in enumerate(state.solutions):
        rows = codes == j
        residual = y[rows] - means[j]
        if solution is None:  # the focal arm of ATT keeps its base weights
            psi_mu = np.zeros(n)
            psi_mu[rows] = q[rows] * residual
            influence[:, j] = psi_mu / (q[rows].sum() / n)
            continue
        V, lam, rho = solution.basis, solution.reduced_lam, solution.ridge
        d = deviation[rows] @ V
        eta = d @ lam
        w = q[rows] * np.exp(eta - eta.max())
        w *= len(w) / w.sum()  # the equations are homogeneous in the scale of w
        score = d + rho * lam
        psi_lam = np.zeros((n, V.shape[1]))
        psi_lam[rows] = w[:, None] * score
        a_ll = -((score * w[:, None]).T @ d + rho * w.sum() * np.eye(V.shape[1])) / n
        full_lam = V @ lam
        a_lm = (np.outer(w @ score, full_lam) + w.sum() * V.T) / n
        if_lam = np.linalg.solve(a_ll, (psi_lam - if_m @ a_lm.T).T).T
        psi_mu = np.zeros(n)
        psi_mu[rows] = w * residual
        a_mul = -(w * residual) @ d / n
        a_mum = np.sum(w * residual) / n * full_lam
        influence[:, j] = (psi_mu - if_m @ a_mum - if_lam @ a_mul) / (w.sum() / n)
    return influence


def _warn_if_few_patients_per_direction(weighting) -> None:
    """Warn when an arm has fewer than ``MIN_PATIENTS_PER_DIRECTION`` per balanced direction."""
    solver = weighting.solver_
    balanced = solver[solver["status"] != "focal"]
    ratio = balanced["n"] / balanced["n_directions"].clip(lower=1)
    if len(ratio) and ratio.min() < MIN_PATIENTS_PER_DIRECTION:
        worst = balanced.loc[ratio.idxmin()]
        warnings.warn(
            f"arm {worst['arm']!r} has {worst['n']} patients for {worst['n_directions']} balanced "
            f"directions (fewer than {MIN_PATIENTS_PER_DIRECTION} per direction): the sandwich "
            "SE of entropy-balancing estimates can be much too small at this size; use "
            "n_bootstrap (for example 1000) for the interval",
            WeightingWarning,
            stacklevel=3,
        )


def _bootstrap(weighting, y, n_bootstrap, rng):
    codes = weighting._codes
    k = len(weighting.arms_)
    by_arm = [np.flatnonzero(codes == j) for j in range(k)]
    estimates, failures = [], 0
    for _ in range(n_bootstrap):
        rows = np.concatenate([rng.choice(members, size=len(members)) for members in by_arm])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = weighting._refit_rows(rows)
        except WeightingError:
            failures += 1
            continue
        estimates.append(_hajek(codes[rows], fitted.weights_.to_numpy(), y[rows], k))
    return np.array(estimates).reshape(-1, k), failures


def _contrast_matrix(contrasts, k: int) -> np.ndarray:
    """Rows of +1 (arm) and -1 (comparator) over the arm means."""
    matrix = np.zeros((len(contrasts), k))
    for r, (j, comparator) in enumerate(contrasts):
        matrix[r, j] = 1.0
        if comparator is not None:
            matrix[r, comparator] = -1.0
    return matrix


def _bootstrap_intervals(weighting, values, n_bootstrap, random_state, matrix, confidence):
    """Percentile intervals and SEs of the contrasts over bootstrap resamples (NaN without)."""
    nothing = np.full(matrix.shape[0], np.nan)
    if not n_bootstrap:
        return nothing, nothing, nothing, 0
    rng = np.random.default_rng(random_state)
    with single_thread_if_small(len(values)):
        draws, failures = _bootstrap(weighting, values, int(n_bootstrap), rng)
    if failures:
        warnings.warn(
            f"{failures} of {n_bootstrap} bootstrap resamples could not be weighted (for "
            "example separation in a resample); the interval uses the others",
            WeightingWarning,
            stacklevel=3,
        )
    if len(draws) < 2:
        return nothing, nothing, nothing, failures
    contrast_draws = draws @ matrix.T
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(contrast_draws, [tail, 100 - tail], axis=0)
    return low, high, contrast_draws.std(axis=0, ddof=1), failures


def _score_intervals(codes, weights, values, means, contrasts, z, arms) -> dict:
    """Score intervals of the rows that involve an arm whose 0/1 outcomes are all equal.

    Returns ``{row: (low, high)}`` (empty for a non-binary outcome or when no arm is all 0 or
    all 1) and warns which arms they are. Methods: :mod:`cit_bayes.weighting.score_interval`.
    """
    if not np.isin(values, (0.0, 1.0)).all():
        return {}
    k = len(means)
    positive = [(codes == j) & (weights > 0) for j in range(k)]
    degenerate = [np.ptp(values[rows]) == 0 if rows.any() else False for rows in positive]
    if not any(degenerate):
        return {}
    ess = effective_sample_size(weights, codes, arms=list(range(k)))["ess"].to_numpy()
    limits = [
        (means[j], *wilson_interval(means[j], ess[j], z)) if positive[j].any() else (np.nan,) * 3
        for j in range(k)
    ]
    intervals = {}
    for r, (j, comparator) in enumerate(contrasts):
        if comparator is None and degenerate[j]:
            intervals[r] = limits[j][1:]
        elif comparator is not None and (degenerate[j] or degenerate[comparator]):
            intervals[r] = newcombe_interval(limits[j], limits[comparator])
    names = ", ".join(f"{arms[j]!r} ({means[j]:.0%})" for j in range(k) if degenerate[j])
    warnings.warn(
        f"every patient of arm(s) {names} has the same outcome: the sandwich SE is 0 and the "
        "bootstrap cannot vary, so their rows (and differences with them) get score intervals "
        "at the arm's Kish effective sample size (Wilson; differences: Newcombe's hybrid score "
        "interval) in both the sandwich and the bootstrap interval columns; column "
        "interval_method says which rows",
        WeightingWarning,
        stacklevel=3,
    )
    return intervals


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
    weighting : PropensityWeighting or BalancingWeights
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
        ``ci_low_sandwich``, ``ci_high_sandwich``, ``sandwich_method``, ``interval_method``,
        ``se_bootstrap``, ``ci_low_bootstrap``, ``ci_high_bootstrap``, ``n_bootstrap``,
        ``n_bootstrap_failed``, ``confidence``, ``estimand``. ``interval_method`` is the score
        method for rows involving an arm with 0 % or 100 % responders (module docstring).

    References
    ----------
    Lunceford JK, Davidian M (2004). Statistics in Medicine 23(19):2937-2960.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.weighting import PropensityWeighting
    >>> X, a = pd.DataFrame({"age": [50, 62, 55, 70, 58, 66, 61, 73]}), list("aabbabab")
    >>> fitted = PropensityWeighting("ato", penalty=0).fit(X, a)  # exact balance of age
    >>> with warnings.catch_warnings(record=True) as caught:  # every patient of b responds
    ...     warnings.simplefilter("always")
    ...     table = weighted_outcome(fitted, [0, 1, 1, 1, 0, 1, 0, 1])
    >>> caught[0].category.__name__
    'WeightingWarning'
    >>> difference = table[table["quantity"] == "difference"].iloc[0]
    >>> difference["arm"], difference["comparator"], round(float(difference["estimate"]), 3)
    ('b', 'a', 0.619)
    >>> float(difference["unweighted_estimate"])  # 4/4 - 1/4 responders, before weighting
    0.75
    >>> difference["interval_method"].split(":")[0]  # b at 100 %: Newcombe, not a Wald interval
    'score at Kish ESS (an arm with 0 % or 100 %)'
    """
    if not hasattr(weighting, "weights_"):
        raise NotFittedError("weighted_outcome needs a fitted weighting estimator: call fit first")
    if not 0 < confidence < 1:
        raise WeightingError(f"confidence must be in (0, 1); got {confidence!r}")
    codes = weighting._codes
    arms = weighting.arms_
    k = len(arms)
    values = _outcome_values(y, len(codes))
    weights = weighting.weights_.to_numpy()
    means = _hajek(codes, weights, values, k)
    raw_means = _hajek(codes, np.ones(len(codes)), values, k)
    balancing = hasattr(weighting, "_state")
    estimated = balancing or (
        weighting.propensity_model_ is not None and weighting.truncate is None
    )
    method = METHOD_BALANCING if balancing else METHOD_ESTIMATED if estimated else METHOD_FIXED
    n = len(codes)
    with single_thread_if_small(n):
        if balancing:
            influence = _balancing_influence(weighting, values, codes, means)
        else:
            influence = _influence(weighting, values, codes, means, estimated)

    contrasts = [(j, None) for j in range(k)] + _contrasts(arms, reference)
    matrix = _contrast_matrix(contrasts, k)
    covariance = influence.T @ influence / n**2
    se = np.sqrt(np.einsum("rk,kl,rl->r", matrix, covariance, matrix))
    z = stats.norm.ppf(0.5 + confidence / 2)
    estimate = matrix @ means

    if balancing and not n_bootstrap:
        _warn_if_few_patients_per_direction(weighting)
    boot_low, boot_high, boot_se, failures = _bootstrap_intervals(
        weighting, values, n_bootstrap, random_state, matrix, confidence
    )
    low, high = estimate - z * se, estimate + z * se
    score = _score_intervals(codes, weights, values, means, contrasts, z, arms)
    for r, (score_low, score_high) in score.items():
        low[r], high[r] = score_low, score_high
        if n_bootstrap and np.isfinite(boot_low[r]):
            boot_low[r], boot_high[r] = score_low, score_high

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
                "ci_low_sandwich": low[r],
                "ci_high_sandwich": high[r],
                "sandwich_method": method,
                "interval_method": INTERVAL_SCORE if r in score else INTERVAL_DEFAULT,
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
