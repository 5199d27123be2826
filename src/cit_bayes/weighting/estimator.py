"""The propensity-score weighting estimator for k >= 2 arms (scikit-learn style).

See :class:`PropensityWeighting`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from cit_bayes.exceptions import (
    PositivityWarning,
    WeightingError,
    WeightingWarning,
)
from cit_bayes.weighting.design import as_covariate_frame, encode_covariates
from cit_bayes.weighting.diagnostics import SEPARATION_BOUND, WeightingDiagnostics
from cit_bayes.weighting.propensity import (
    fit_boosting_crossfit,
    fit_multinomial_logistic,
    single_thread_if_small,
)
from cit_bayes.weighting.weights import (
    tilting_weights,
    trim_mask,
    truncate_weights,
    truncation_bounds,
)

__all__ = ["PropensityWeighting", "WeightingDiagnostics"]

MODELS = ("logistic", "boosting")


def _separation_hints(design, codes, arms, limit: int = 8) -> str:
    """Name 0/1 covariates and levels that are constant within some arm (likely culprits)."""
    hints = []
    columns = design.balance_columns
    for c, (covariate, level, kind) in enumerate(columns.itertuples(index=False)):
        if kind == "numeric":
            continue
        x = design.balance_matrix[:, c]
        for j, label in enumerate(arms):
            values = np.unique(x[codes == j])
            if len(values) == 1:
                name = f"{covariate}={level}" if level else str(covariate)
                hints.append(f"{name} is always {int(values[0])} in arm {label!r}")
    if not hints:
        return ""
    shown = "; ".join(hints[:limit])
    if len(hints) > limit:
        shown += f"; and {len(hints) - limit} more"
    return f". Candidates (0/1 covariates or levels constant within an arm): {shown}"


def _seed_from(random_state) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if random_state is None:
        return 0
    return int(random_state)


class PropensityWeighting(WeightingDiagnostics, BaseEstimator):
    """Propensity-score weights for any number (>= 2) of arms, with balance diagnostics.

    Parameters
    ----------
    estimand : {"ato", "ate", "att", "matching"}, default "ato"
        Target population, through the tilting function h(x) of Li & Li (2019):
        ``"ate"`` h = 1 (inverse probability weights), ``"ato"`` h = 1 / sum_k 1/e_k
        (generalized overlap weights), ``"att"`` h = e_t for the focal arm t = ``reference``,
        ``"matching"`` h = min_k e_k. Weight :math:`w_i = h(x_i) / e_{a_i}(x_i)`.
    model : {"logistic", "boosting"}, default "logistic"
        Multinomial logistic regression (see :mod:`cit_bayes.weighting.propensity`), or
        gradient boosting with propensities cross-fitted over ``n_folds`` seeded folds.
    penalty : float, default 1.0
        Ridge coefficient of the logistic model (sum of log-likelihood minus
        ``penalty/2 * ||beta||^2``, intercepts unpenalised; scikit-learn's ``C = 1/penalty``).
        ``0`` is the unpenalised maximum-likelihood fit.
    reference : arm label, optional
        The focal arm of ``"att"`` (required there); unused by the other estimands.
    arms : sequence of labels, optional
        Arm order. Default: the categories of ``a`` if categorical, else the sorted labels.
    stabilize : bool, default False
        Rescale the weights within each arm so that they sum to the arm's number of retained
        patients (mean weight 1). For ``"ate"`` this is the normalised form of the stabilised
        weights P(A = a) / e_a(x) of Robins et al. (2000). Within-arm rescaling changes no
        weighted mean, balance statistic, effective sample size or outcome estimate; it changes
        the printed weights and the pooled weight summary.
    trim : float, optional
        k-arm trimming threshold alpha in (0, 1/k): patients with min_k e_k(x) < alpha get
        weight 0 (Crump et al. 2009 extended to k arms, Yoshida et al. 2019). Propensities are
        not re-estimated after trimming.
    truncate : float or (float, float), optional
        Percentiles p (meaning p and 100 - p) or (lower, upper) at which the weights of retained
        patients are truncated (all arms pooled).
    rare_level_min : int, default 5
        Categorical levels seen in fewer patients are pooled (rule in
        :mod:`cit_bayes.weighting.design`).
    n_folds : int, default 5
        Cross-fitting folds of the boosting model.
    model_params : dict, optional
        Extra keyword arguments of ``HistGradientBoostingClassifier`` (boosting model).
    positivity_bound : float, default 0.01
        A :class:`~cit_bayes.exceptions.PositivityWarning` is issued when any patient has a
        propensity below this for some arm (above 1 - bound for another).
    balance_threshold : float, default 0.1
        A :class:`~cit_bayes.exceptions.BalanceWarning` is issued when the largest pairwise
        |SMD| after weighting exceeds this (Austin & Stuart 2015).
    random_state : int or numpy.random.Generator, optional
        Seeds the cross-fitting folds (boosting). The logistic fit is deterministic.

    Attributes
    ----------
    arms_ : tuple
        Arm labels in order.
    arm_ : pandas.Series
        Each patient's arm (categorical with categories ``arms_``), indexed like ``X``.
    propensity_ : pandas.DataFrame, shape (n, k)
        Estimated propensities, one column per arm.
    weights_ : pandas.Series
        Final weights (0 for trimmed patients; never NaN or infinite).
    included_ : pandas.Series of bool
        False for trimmed patients.
    trimmed_ : pandas.DataFrame
        Per arm: ``arm, n, n_trimmed, alpha``.
    truncated_ : pandas.DataFrame
        Per arm: ``arm, n, n_raised, n_lowered, lower_bound, upper_bound``.
    design_ : CovariateDesign
        The encoded covariates: model columns, pooled rare levels, dropped constant covariates,
        reference levels.
    propensity_model_ : LogisticFit or None
        The fitted logistic model (None for boosting).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray

    Warns
    -----
    PositivityWarning
        Propensities near 0 or 1 (see ``positivity_bound``).
    BalanceWarning
        Some covariate has max pairwise |SMD| > ``balance_threshold`` after weighting.
    WeightingWarning
        A constant covariate was dropped; the logistic fit did not converge; an arm's effective
        sample size fell below 10% of its size.

    Raises
    ------
    WeightingError
        Missing values (named with counts), an arm with fewer than 2 patients, perfect or
        quasi-complete separation under ``penalty=0`` (fitted propensities below 1e-6), an
        unknown estimand or model, bad ``trim``/``truncate``, trimming that empties an arm.

    Notes
    -----
    Exact balance: with two arms, ``estimand="ato"`` and an unpenalised logistic model
    (``penalty=0``), the weighted means of every model column are exactly equal between arms,
    because the logistic score equations are the balance equations (the exact-balance property
    of overlap weights, Li, Morgan & Zaslavsky 2018); with two arms a ridge penalty keeps the
    equality of the arms' weight totals (the intercept is unpenalised) but not of the means. With
    three or more arms the generalized overlap weights of a multinomial logistic model do not
    balance exactly in general (see Li & Li 2019; shown numerically in
    ``tests/test_weighting_balance.py``), and the arms' weight totals are close but not equal
    either, with or without a penalty (also shown there).

    References
    ----------
    Li F, Li F (2019). Propensity score weighting for causal inference with multiple treatments.
    Annals of Applied Statistics 13(4):2389-2415.
    Li F, Morgan KL, Zaslavsky AM (2018). Balancing covariates via propensity score weighting.
    Journal of the American Statistical Association 113(521):390-400.
    Yoshida K, et al. (2019). Multinomial extension of propensity score trimming methods.
    American Journal of Epidemiology 188(3):609-616.
    Robins JM, Hernan MA, Brumback B (2000). Marginal structural models and causal inference in
    epidemiology. Epidemiology 11(5):550-560.
    Austin PC, Stuart EA (2015). Statistics in Medicine 34(28):3661-3679.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.weighting import PropensityWeighting
    >>> X, a = pd.DataFrame({"age": [50, 62, 55, 70, 58, 66, 61, 73]}), list("aabbabab")
    >>> fitted = PropensityWeighting("ato", penalty=0).fit(X, a)
    >>> fitted.arms_, round(float(fitted.balance()["smd_weighted"].max()), 3)  # exact balance
    (('a', 'b'), 0.0)
    """

    def __init__(
        self,
        estimand="ato",
        *,
        model="logistic",
        penalty=1.0,
        reference=None,
        arms=None,
        stabilize=False,
        trim=None,
        truncate=None,
        rare_level_min=5,
        n_folds=5,
        model_params=None,
        positivity_bound=0.01,
        balance_threshold=0.1,
        random_state=None,
    ):
        self.estimand = estimand
        self.model = model
        self.penalty = penalty
        self.reference = reference
        self.arms = arms
        self.stabilize = stabilize
        self.trim = trim
        self.truncate = truncate
        self.rare_level_min = rare_level_min
        self.n_folds = n_folds
        self.model_params = model_params
        self.positivity_bound = positivity_bound
        self.balance_threshold = balance_threshold
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _check_params(self, arms) -> int | None:
        if self.model not in MODELS:
            raise WeightingError(f"model must be one of {MODELS}; got {self.model!r}")
        return self._focal_index(arms)

    def fit(self, X, a):
        """Fit the propensity model, compute the weights and check balance.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n, p)
            Covariates (numeric columns standardised; object, category and bool columns one-hot).
        a : array-like, shape (n,)
            Each patient's arm label (matched to ``X`` by position).

        Returns
        -------
        self
        """
        with single_thread_if_small(len(X)):
            return self._fit(X, a, diagnose=True)

    def _fit(self, X, a, *, diagnose: bool):
        """``fit``; ``diagnose=False`` skips the positivity, ESS and balance warnings (bootstrap)."""
        frame = as_covariate_frame(X)
        arm_values, codes, arms, focal, counts = self._checked_arms(frame, a, "a propensity model")
        design = encode_covariates(frame, rare_level_min=self.rare_level_min)
        propensity, logistic_fit = self._fit_propensity(design, codes, arms)
        included = trim_mask(propensity, self.trim)
        if diagnose:
            self._check_positivity(propensity[included], arms)
        trimmed_counts = np.bincount(codes[~included], minlength=len(arms))
        left = counts - trimmed_counts
        if self.trim is not None and np.any(left < 2):
            emptied = [
                f"{arms[j]!r} ({int(left[j])} left)" for j in range(len(arms)) if left[j] < 2
            ]
            raise WeightingError(
                f"trimming at alpha={self.trim} leaves fewer than 2 patients in {', '.join(emptied)}"
            )
        raw = np.zeros(len(codes))
        raw[included] = tilting_weights(propensity[included], codes[included], self.estimand, focal)
        weights = raw.copy()
        raised = lowered = np.zeros(len(codes), dtype=bool)
        bounds = (np.nan, np.nan)
        if self.truncate is not None:
            weights, raised, lowered = truncate_weights(raw, included, self.truncate)
            bounds = tuple(np.percentile(raw[included], truncation_bounds(self.truncate)))
        if self.stabilize:
            for j in range(len(arms)):
                rows = (codes == j) & included
                weights[rows] *= rows.sum() / weights[rows].sum()
        if not np.all(np.isfinite(weights)):  # pragma: no cover - guarded by the checks above
            raise WeightingError("non-finite weights; please report this as a bug")

        index = frame.index
        self.arms_ = arms
        self.arm_ = pd.Series(
            pd.Categorical.from_codes(codes, categories=list(arms)), index=index, name="arm"
        )
        self.propensity_ = pd.DataFrame(propensity, index=index, columns=list(arms))
        self.weights_ = pd.Series(weights, index=index, name="weight")
        self.included_ = pd.Series(included, index=index, name="included")
        self.trimmed_ = pd.DataFrame(
            {"arm": list(arms), "n": counts, "n_trimmed": trimmed_counts, "alpha": self.trim}
        )
        self.truncated_ = pd.DataFrame(
            {
                "arm": list(arms),
                "n": counts,
                "n_raised": np.bincount(codes[raised], minlength=len(arms)),
                "n_lowered": np.bincount(codes[lowered], minlength=len(arms)),
                "lower_bound": bounds[0],
                "upper_bound": bounds[1],
            }
        )
        self.design_ = design
        self.propensity_model_ = logistic_fit
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self._codes = codes
        self._focal = focal
        self._raw_weights = raw
        self._fit_data = (frame, pd.Series(arm_values, index=index))
        if diagnose:
            self._warn_about_result()
        return self

    def _fit_propensity(self, design, codes, arms):
        Z, n_arms = design.model_matrix, len(arms)
        if self.model == "boosting":
            seed = _seed_from(self.random_state)
            propensity = fit_boosting_crossfit(
                Z, codes, n_arms, n_folds=self.n_folds, seed=seed, params=self.model_params
            )
            logistic_fit = None
        else:
            logistic_fit, propensity = fit_multinomial_logistic(
                Z, codes, n_arms, penalty=float(self.penalty)
            )
        own = propensity[np.arange(len(codes)), codes]
        if not np.all(np.isfinite(propensity)) or np.any(own <= 0):
            raise WeightingError(
                "the propensity model gives some patients a probability of 0 for their own arm "
                "(complete separation or no overlap); weights would be infinite. Use a penalised "
                "logistic model, fewer covariates, or trimming"
            )
        if (
            logistic_fit is not None
            and logistic_fit.penalty == 0
            and propensity.min() < SEPARATION_BOUND
        ):
            n_extreme = int(np.sum(propensity.min(axis=1) < SEPARATION_BOUND))
            raise WeightingError(
                f"the unpenalised propensity model separates the arms: {n_extreme} patient(s) have "
                f"a fitted propensity below {SEPARATION_BOUND:g} (perfect or quasi-complete "
                "separation; the maximum-likelihood estimate does not exist). Use penalty > 0, "
                "or remove or merge the covariates (or levels) that determine the arm"
                + _separation_hints(design, codes, arms)
            )
        if logistic_fit is not None and not logistic_fit.converged:
            warnings.warn(
                "the logistic propensity model did not converge (largest score component "
                f"{logistic_fit.max_abs_score:.2g}); weights may be inaccurate",
                WeightingWarning,
                stacklevel=4,
            )
        return propensity, logistic_fit

    def _check_positivity(self, propensity, arms) -> None:
        low = propensity < self.positivity_bound
        if low.any():
            n_patients = int(low.any(axis=1).sum())
            which = [str(arms[k]) for k in range(len(arms)) if low[:, k].any()]
            retained = " retained after trimming" if self.trim is not None else ""
            warnings.warn(
                f"{n_patients} patient(s){retained} have a propensity below "
                f"{self.positivity_bound:g} for "
                f"arm(s) {', '.join(which)} (smallest {propensity.min():.2g}): limited overlap. "
                + (
                    "Consider estimand='ato' or 'matching', or trimming"
                    if self.estimand in ("ate", "att")
                    else "Consider trimming or fewer covariates"
                ),
                PositivityWarning,
                stacklevel=4,
            )
