"""Entropy-balancing weights for any number (>= 2) of arms (scikit-learn style).

See :class:`BalancingWeights`. Its parts: the balance functions
(:mod:`cit_bayes.weighting.balance_functions`), the target population
(:mod:`cit_bayes.weighting.balancing_target`), the dual of each arm
(:mod:`cit_bayes.weighting.balancing_dual`) and the tables and warnings of what the arms'
solutions achieved (:mod:`cit_bayes.weighting.balancing_report`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from cit_bayes.exceptions import WeightingError, WeightingWarning
from cit_bayes.weighting.balance_functions import (
    arm_constraints,
    constraint_matrix,
    encode_for_balancing,
)
from cit_bayes.weighting.balancing_dual import BalancingState, solve_arm
from cit_bayes.weighting.balancing_report import solution_report, warn_about_solutions
from cit_bayes.weighting.balancing_target import (
    checked_base_weights,
    fit_target_propensity,
    target_tilt,
)
from cit_bayes.weighting.design import as_covariate_frame, covariate_columns
from cit_bayes.weighting.diagnostics import WeightingDiagnostics
from cit_bayes.weighting.propensity import single_thread_if_small

__all__ = ["BalancingWeights"]


class BalancingWeights(WeightingDiagnostics, BaseEstimator):
    """Entropy-balancing weights for k >= 2 arms: covariate means balanced by construction.

    For every arm a, the weights of its patients are those of minimal Kullback-Leibler divergence
    from the base weights such that the arm's weighted covariate means equal the target
    population's means (Hainmueller 2012, extended to k arms by balancing every arm to one
    common target). Every pairwise |SMD| of the balanced moments is then 0.

    Parameters
    ----------
    estimand : {"ato", "ate", "att", "matching"}, default "ato"
        Target population. ``"ate"``: all patients. ``"att"``: the patients of the focal arm
        ``reference`` (its weights stay the base weights). ``"ato"`` and ``"matching"``: the
        population tilted by :math:`h(x)` of a fitted multinomial logistic propensity model,
        :math:`h = 1/\\sum_k 1/e_k(x)` (overlap) or :math:`\\min_k e_k(x)` (Li & Li 2019), with
        target means :math:`\\sum_i h_i x_i / \\sum_i h_i`.
    moments : {1, 2}, default 1
        1 balances the mean of every numeric covariate and the share of every level; 2 also
        balances the second moment (hence the variance) of every numeric covariate that is not
        0/1.
    reference : arm label, optional
        The focal arm of ``"att"`` (required there); unused otherwise.
    arms : sequence of labels, optional
        Arm order. Default: the categories of ``a`` if categorical, else the sorted labels.
    tolerance : float, default 0.01
        When exact balance is impossible, the approximate fallback accepts a largest absolute
        imbalance this far (in SD units of the balance functions) above the best the arm can
        reach, in exchange for weights closer to the base weights (see Notes).
    penalty : float, default 1.0
        Ridge coefficient of the multinomial logistic propensity model
        (:class:`~cit_bayes.weighting.PropensityWeighting`). The model defines the ATO and
        matching targets; for ATE and ATT it is fitted for the overlap diagnostics only.
    stabilize : bool, default False
        Rescale each arm's weights to sum to the arm's size (mean weight 1). By default every
        arm's weights sum to the size of the target population (sum of base weights for ATE,
        of the focal arm's base weights for ATT, of :math:`h_i` times base weight for ATO and
        matching). Rescaling changes no weighted mean, balance or outcome estimate.
    rare_level_min : int, default 5
        Categorical levels seen in fewer patients are pooled (rule in
        :mod:`cit_bayes.weighting.design`).
    pool_absent_levels : bool, default False
        Pool the levels of a categorical covariate that some arm lacks (rule in
        :mod:`cit_bayes.weighting.balance_functions`; listed in ``design_.pooled`` with their
        ``rule``), so that the pooled level can be balanced in every arm. By default such a
        level is instead left out of the lacking arm's constraints (Notes): that balances more
        finely (the other arms still match the level's own share) and keeps the level's
        imbalance visible in the balance table.
    arm_level_min : int, default 0
        A level indicator or 0/1 covariate is left out of an arm's constraints when fewer than
        this many of the arm's patients hold its rarer value (rule of
        :func:`~cit_bayes.weighting.balance_functions.arm_constraints`): balance it cannot reach
        without resting on those few patients; the imbalance is reported as structural
        (``constraints_``) and left to the outcome model. 0 keeps every function.
    positivity_bound : float, default 0.01
        A :class:`~cit_bayes.exceptions.PositivityWarning` is issued when a patient's fitted
        propensity for some arm is below this.
    balance_threshold : float, default 0.1
        A :class:`~cit_bayes.exceptions.BalanceWarning` is issued when the largest pairwise
        |SMD| after weighting exceeds this.

    Attributes
    ----------
    arms_ : tuple
    arm_ : pandas.Series
        Each patient's arm (categorical).
    weights_ : pandas.Series
        The weights (positive, finite).
    base_weights_ : pandas.Series
        The base weights q, rescaled to mean 1.
    lambda_ : pandas.DataFrame
        The dual solution: one row per balance function (``constraint``), one column per arm;
        :math:`w_i \\propto q_i \\exp(\\lambda_a^\\top c_i)` with c the balance functions in SD
        units (0 for the focal arm of ATT).
    solver_ : pandas.DataFrame
        Per arm: ``arm, n, n_constraints, n_directions`` (directions in which the arm varies and
        that were balanced), ``status`` (``"exact"``; ``"partial"``: exact in the directions in
        which the arm varies, the others left as they are; ``"approximate"``: the ridge
        fallback; ``"focal"``: the focal arm of ATT),
        ``ridge`` (0 unless approximate), ``iterations``, ``max_abs_gradient`` (of the dual),
        ``max_abs_imbalance_sd`` (over all balance functions) and ``best_imbalance_sd`` (for an
        approximate arm: the best largest imbalance it can reach in the directions in which it
        varies).
    constraints_ : pandas.DataFrame
        Per arm and balance function: ``arm, constraint, covariate, level, moment, target,
        achieved, imbalance_sd, structural_sd, arm_status``. ``target`` and ``achieved`` are in
        the covariate's units (moment 1: mean or share of a level; moment 2: mean of
        (x - overall mean)^2); ``imbalance_sd`` is achieved - target in SD units;
        ``structural_sd`` the part of it the arm cannot move (it does not vary in that
        direction).
    target_ : pandas.DataFrame
        Per balance function: ``constraint, covariate, level, moment, target``.
    propensity_ : pandas.DataFrame, shape (n, k)
        Fitted multinomial logistic propensities (target of ATO/matching; diagnostics).
    propensity_model_ : LogisticFit
    design_ : CovariateDesign
    included_ : pandas.Series of bool
        All True (no trimming; kept for the common diagnostics surface).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray

    Warns
    -----
    WeightingWarning
        An arm could not be balanced exactly (directions in which it does not vary, or the
        approximate fallback); the propensity model did not converge; an arm's effective sample
        size fell below 10% of its size; a constant covariate was dropped.
    PositivityWarning
        Fitted propensities below ``positivity_bound``.
    BalanceWarning
        Some covariate has max pairwise |SMD| > ``balance_threshold`` after weighting.

    Raises
    ------
    WeightingError
        Missing values, an arm with fewer than 2 patients, bad parameters or base weights,
        separation of an unpenalised propensity model when it defines the target (ATO,
        matching).

    Notes
    -----
    Balance functions c(x) (:func:`~cit_bayes.weighting.balance_functions.constraint_matrix`): the
    columns of the propensity model matrix (numeric covariates, an indicator for every
    non-reference level), and with ``moments=2`` the squares of non-binary numeric covariates,
    each standardised over all patients. With base weights :math:`q_i` and target means
    :math:`m = \\sum_i q_i h_i c_i / \\sum_i q_i h_i`, arm a's weights solve

    .. math::

        \\min_{w} \\sum_{i: a_i = a} w_i \\log\\frac{w_i}{q_i} \\;\\text{s.t.}\\;
        \\sum_{i: a_i = a} w_i = 1,\\; \\sum_{i: a_i = a} w_i c_i = m,

    through its convex dual (Newton with line search), :math:`w_i \\propto q_i
    \\exp(\\lambda_a^\\top c_i)`. With two arms and ``"att"`` this is classic entropy balancing.
    Entropy balancing is doubly robust for ATT: consistent if the outcome regression of the
    comparator arms is linear in c(x), or if the propensity logit is (Zhao & Percival 2017).

    Infeasibility, stated fallback (module :mod:`cit_bayes.weighting.balancing_dual`):
    (1) directions in which an arm's patients do not vary (a level absent from the arm, a
    covariate constant in it, levels that cover the whole arm) are left out of that arm's
    constraints; its weights balance the projection of the target on the directions in which
    it varies (for an absent level: as if the level were pooled with its covariate's reference
    level in that arm); (2) if the dual still diverges (target outside the convex hull of the
    arm's patients, e.g. more constraints than the arm can meet), approximate balancing
    weights from the dual with a ridge :math:`\\rho\\lVert\\lambda\\rVert^2/2`: the largest
    :math:`\\rho` on a grid (1 to 1e-4) whose largest imbalance is within ``tolerance`` of the best
    the arm can reach, i.e. balance as close as the arm allows (up to ``tolerance``) with weights
    as close to the base weights as possible. Both are warned about and reported per balance
    function in ``constraints_`` and per arm in ``solver_``. The ridge is treated as fixed by
    the sandwich variance of :func:`~cit_bayes.weighting.weighted_outcome`.

    Weights are never NaN, infinite or negative; in the approximate fallback some can underflow
    to 0 (patients the closest balance does not use; counted in ``weight_summary``). The
    fallback always exists, so data that pass the input checks do not make the fit fail: how
    far balance falls short is reported (and warned about), not raised. Alternatively,
    ``pool_absent_levels=True`` pools levels an arm lacks before balancing.

    Intervals: :func:`~cit_bayes.weighting.weighted_outcome` gives a stacked sandwich that
    accounts for the estimated target and duals; with few patients per balanced direction
    (paper-sized arms) it is too small and the within-arm bootstrap (``n_bootstrap``), which
    refits the balancing, is the interval to report (numbers in
    :mod:`cit_bayes.weighting.outcome`).

    Why a sibling of :class:`~cit_bayes.weighting.PropensityWeighting` rather than a
    ``method=`` option: the two share the constructor's first argument (``estimand``), every
    diagnostic (:class:`~cit_bayes.weighting.diagnostics.WeightingDiagnostics`) and
    :func:`~cit_bayes.weighting.weighted_outcome`, so switching method is switching the class;
    but half of each one's parameters (trimming, truncation, boosting; moments, tolerance, base
    weights, level pooling) mean nothing to the other.

    References
    ----------
    Hainmueller J (2012). Entropy balancing for causal effects: a multivariate reweighting method
    to produce balanced samples in observational studies. Political Analysis 20(1):25-46.
    Zhao Q, Percival D (2017). Entropy balancing is doubly robust. Journal of Causal Inference
    5(1):20160010.
    Li F, Li F (2019). Propensity score weighting for causal inference with multiple treatments.
    Annals of Applied Statistics 13(4):2389-2415.
    Chattopadhyay A, Hase CH, Zubizarreta JR (2020). Balancing vs modeling approaches to
    weighting in practice. Statistics in Medicine 39(24):3227-3254.
    Zubizarreta JR (2015). Stable weights that balance covariates for estimation with incomplete
    outcome data. Journal of the American Statistical Association 110(511):910-922.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.weighting import BalancingWeights
    >>> X, a = pd.DataFrame({"age": [50, 62, 55, 70, 58, 66, 61, 73]}), list("aabbabab")
    >>> fitted = BalancingWeights("ate").fit(X, a)
    >>> fitted.arms_, round(float(fitted.balance()["smd_weighted"].max()), 3)
    (('a', 'b'), 0.0)
    """

    def __init__(
        self,
        estimand="ato",
        *,
        moments=1,
        reference=None,
        arms=None,
        tolerance=0.01,
        penalty=1.0,
        stabilize=False,
        rare_level_min=5,
        pool_absent_levels=False,
        arm_level_min=0,
        positivity_bound=0.01,
        balance_threshold=0.1,
    ):
        self.estimand = estimand
        self.moments = moments
        self.reference = reference
        self.arms = arms
        self.tolerance = tolerance
        self.penalty = penalty
        self.stabilize = stabilize
        self.rare_level_min = rare_level_min
        self.pool_absent_levels = pool_absent_levels
        self.arm_level_min = arm_level_min
        self.positivity_bound = positivity_bound
        self.balance_threshold = balance_threshold

    # ------------------------------------------------------------------ fitting
    def _check_params(self, arms) -> int | None:
        if self.moments not in (1, 2) or isinstance(self.moments, bool):
            raise WeightingError(f"moments must be 1 or 2; got {self.moments!r}")
        tolerance = self.tolerance
        if not isinstance(tolerance, int | float) or not 0 < tolerance < np.inf:
            raise WeightingError(f"tolerance must be a positive number; got {tolerance!r}")
        minimum = self.arm_level_min
        if isinstance(minimum, bool) or not isinstance(minimum, int | np.integer) or minimum < 0:
            raise WeightingError(f"arm_level_min must be a non-negative integer; got {minimum!r}")
        return self._focal_index(arms)

    def fit(self, X, a, base_weights=None):
        """Compute the balancing weights.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n, p)
            Covariates (numeric columns; object, category and bool columns are categorical).
        a : array-like, shape (n,)
            Each patient's arm label (matched to ``X`` by position).
        base_weights : array-like, shape (n,), optional
            Positive base (design) weights q; default uniform. They also weight the target
            means (the propensity model is fitted unweighted).

        Returns
        -------
        self
        """
        with single_thread_if_small(len(X)):
            return self._fit(X, a, diagnose=True, base_weights=base_weights)

    def _fit(self, X, a, *, diagnose: bool, base_weights=None, covariates=None):
        """``fit``. ``diagnose=False`` (bootstrap refits, which need only ``weights_``) skips the
        warnings, the reports (``lambda_``, ``solver_``, ``constraints_``, ``target_``) and, for
        ATE and ATT, the propensity model (diagnostics only there; ``propensity_`` is None).
        ``covariates``: ``X`` already checked and read (:class:`~cit_bayes.weighting.design.CovariateColumns`;
        a refit passes its resample's rows of the fit's)."""
        frame = as_covariate_frame(X)
        arm_values, codes, arms, focal, _ = self._checked_arms(frame, a, "balancing weights")
        base = checked_base_weights(base_weights, len(codes))
        if covariates is None:
            covariates = covariate_columns(frame)
        design = encode_for_balancing(
            covariates,
            codes,
            len(arms),
            rare_level_min=self.rare_level_min,
            pool_absent=self.pool_absent_levels,
            arm_level_min=int(self.arm_level_min),
        )
        propensity, logistic_fit = None, None
        if diagnose or self.estimand in ("ato", "matching"):
            propensity, logistic_fit = fit_target_propensity(
                design,
                codes,
                arms,
                estimand=self.estimand,
                penalty=self.penalty,
                positivity_bound=self.positivity_bound,
                diagnose=diagnose,
            )
        matrix, columns = constraint_matrix(design, int(self.moments))
        tilt = target_tilt(self.estimand, propensity, codes, focal)
        scaled = base * tilt
        target = scaled @ matrix / scaled.sum()

        weights = np.zeros(len(codes))
        solutions = []
        kinds = [column["kind"] for column in columns]
        keep = arm_constraints(matrix, codes, len(arms), int(self.arm_level_min), kinds=kinds)
        for j in range(len(arms)):
            rows = codes == j
            if j == focal:
                solutions.append(None)
                share = base[rows] / base[rows].sum()
            else:
                solution = solve_arm(
                    matrix[rows], target, base[rows], tolerance=self.tolerance, keep=keep[j]
                )
                solutions.append(solution)
                share = solution.weights
            total = rows.sum() if self.stabilize else scaled.sum()
            weights[rows] = share * total
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):  # pragma: no cover
            raise WeightingError("non-finite or negative weights; please report this as a bug")

        index = frame.index
        self.arms_ = arms
        self.arm_ = pd.Series(
            pd.Categorical.from_codes(codes, categories=list(arms)), index=index, name="arm"
        )
        self.weights_ = pd.Series(weights, index=index, name="weight")
        self.base_weights_ = pd.Series(base, index=index, name="base_weight")
        self.included_ = pd.Series(True, index=index, name="included")
        self.propensity_ = (
            None
            if propensity is None
            else pd.DataFrame(propensity, index=index, columns=list(arms))
        )
        self.propensity_model_ = logistic_fit
        self.design_ = design
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self._codes = codes
        self._focal = focal
        self._fit_data = (frame, pd.Series(arm_values, index=index), base)
        self._covariates = covariates
        self._state = BalancingState(matrix, base, tilt, target, focal, tuple(solutions))
        if diagnose:
            self.target_, self.lambda_, self.solver_, self.constraints_ = solution_report(
                design, codes, arms, (columns, matrix, target), weights, solutions
            )
            warn_about_solutions(self.solver_, self.constraints_)
            self._warn_about_result()
        return self

    def design_draw(self, base_weights) -> np.ndarray:
        """The weights of the fitted patients under the balancing solved with base weights q.

        One draw of the design stage for the Bayesian bootstrap (Rubin 1981): with Dirichlet
        base weights q, each arm's dual is solved again (targets and arm means weighted by q),
        giving :math:`\\tilde w_i \\propto q_i \\exp(\\lambda_q^\\top c_i)`; the weights the
        solution :math:`\\lambda_q` gives the patients themselves are :math:`\\tilde w_i / q_i
        \\propto \\exp(\\lambda_q^\\top c_i)`, rescaled within each arm to the arm's sum of
        :attr:`weights_`. So only the design stage's parameters vary from draw to draw, as with
        draws of a propensity model's parameters (Liao & Zigler 2020); the patients and their
        outcomes stay as they are. The rare-level pooling depends on counts only, so the design
        is the same in every draw.

        Parameters
        ----------
        base_weights : array-like, shape (n,)
            Positive base weights q, one per fitted patient.

        Returns
        -------
        numpy.ndarray, shape (n,)

        Examples
        --------
        >>> import pandas as pd
        >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 1.0, 2.0, 3.0]})
        >>> a = ["a", "a", "a", "b", "b", "b"]
        >>> weights = BalancingWeights(estimand="ate").fit(X, a)
        >>> bool(np.allclose(weights.design_draw(np.ones(6)), weights.weights_))  # q = 1
        True
        """
        frame, arm, _ = self._fit_data
        with warnings.catch_warnings():  # the fit itself has warned about the design already
            warnings.simplefilter("ignore", WeightingWarning)
            refit = (
                clone(self)
                .set_params(arms=self.arms_)
                ._fit(
                    frame,
                    arm,
                    diagnose=False,
                    base_weights=base_weights,
                    covariates=self._covariates,
                )
            )
        ratio = refit.weights_.to_numpy() / refit.base_weights_.to_numpy()
        fitted = self.weights_.to_numpy()
        out = np.zeros_like(ratio)
        for j in range(len(self.arms_)):
            rows = self._codes == j
            total = ratio[rows].sum()
            out[rows] = ratio[rows] * (fitted[rows].sum() / total) if total > 0 else 0.0
        return out

    def _refit_rows(self, rows):
        """A clone fitted on the rows ``rows`` of the fit data, without diagnostics (bootstrap)."""
        frame, arm, base = self._fit_data
        template = clone(self).set_params(arms=self.arms_)
        return template._fit(
            frame.iloc[rows],
            arm.iloc[rows],
            diagnose=False,
            base_weights=base[rows],
            covariates=self._covariates.take(rows),
        )
