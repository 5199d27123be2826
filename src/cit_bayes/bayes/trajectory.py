"""Platelet trajectory: log PLT on the follow-up days, arm-by-day effects, within-patient correlation.

Model
-----
For patient i (arm :math:`a_i`, covariates :math:`x_i`, centred log baseline count
:math:`b_i = \\log \\mathrm{PLT}_{i0} - \\overline{\\log \\mathrm{PLT}_0}`) the vector of log
counts on the follow-up days d (days 3, 7 and 14 by default) is

.. math::

    \\log \\mathrm{PLT}_{i\\cdot} \\sim N(\\mu_{i\\cdot}, \\Sigma_{a_i}),\\qquad
    \\mu_{id} = \\theta_{a_i d} + \\gamma_d b_i + x_i^\\top\\beta,\\qquad
    \\theta_{ad} \\sim N(c, s_\\theta) \\text{ independently},

with independent arm-by-day levels (the arms are different regimens, not exchangeable units:
no arm's mean is pulled toward the others'; N(log 100, 1) covers counts from about 14 to 700
for every arm and day), a day-specific baseline slope, and an unstructured within-patient covariance
:math:`\\Sigma_a = \\mathrm{diag}(s_a)\\, R\\, \\mathrm{diag}(s_a)` (arm- and day-specific SDs
:math:`s_{ad} \\sim \\mathrm{HalfNormal}`, one correlation matrix
:math:`R \\sim \\mathrm{LKJ}(\\eta)`; Lewandowski, Kurowicka & Joe 2009).

Why the SDs are arm-specific: the target is a natural-scale mean, :math:`\\exp(\\mu +
s^2/2)` per patient, so an arm's spread on the log scale enters its mean. With one SD per day
shared by all arms, an arm whose counts vary less than the others' (on the simulator's
``paper-like`` scenario, the combination) gets the others' larger :math:`s^2/2` and its mean
is overstated: the closed-form log-normal estimate of the combination - rhTPO day-14 mean
difference was biased by +7.3 x10^9/L with a pooled log-scale variance and by +2.7 with
arm-specific variances (100 cohorts; the difference of sample means: +2.0, MC SE 1.3). The
arms are different regimens; their spreads, like their levels, are not borrowed from each
other. The correlation between days is shared (it describes how a patient's counts track
each other, estimated from all patients).

Partial pooling (``pool_arms=True``, a sensitivity analysis): :math:`\\theta_{\\cdot d} = m_d +
\\tau \\bar s_d\\, H z_{\\cdot d}`, :math:`z_{\\cdot d} \\sim N(0, I_{K-1})`, :math:`m_d \\sim N(c,
s_\\theta)`, :math:`\\tau \\sim \\mathrm{HalfNormal}(\\sigma_\\tau)`: the arm deviations in units of
the day's within-patient SD (averaged over the arms, :math:`\\bar s_d`), H the orthonormal
zero-sum basis (:func:`~cit_bayes.bayes.patient_blocks.zero_sum_basis`), non-centred (Betancourt &
Girolami 2015). It pulls the combination's day-7 mean from about 121 toward the other arms' 87-91
(about 100 on the reconstructed cohort), and its geometry is poor: :math:`\\tau` is learned
from K arms, so it rests on its prior, and the product :math:`\\tau \\bar s_d z` makes a ridge that
NUTS crossed slowly (one divergence in 8,000 at the default seed of ``make run``; R-hat 1.012
at n = 2,000; measured for issue 13). Hence not the default.

Arm-specific slopes (``arm_slopes=True``, a sensitivity analysis: the robustness variant
"arm-specific slopes"): each arm gets its own covariate and baseline slopes,
:math:`\\mu_{id} = \\theta_{a_i d} + (\\gamma_d + \\zeta_{a_i d}) b_i + x_i^\\top(\\beta +
\\xi_{a_i})`, with the deviations summing to zero over the arms, :math:`\\xi_{\\cdot j} =
s_\\xi H z_{\\cdot j}` and :math:`\\zeta_{\\cdot d} = s_\\xi H z'_{\\cdot d}`, z standard normal
(``slope_deviation_sd`` :math:`s_\\xi` = 0.25 by default: two arms' slopes differ by
N(0, 2 x 0.25^2) a priori, so a covariate's effect on the log count differs between two arms by
less than 0.7 with probability 0.95). The scale is fixed, not learned from K arms (it would rest
on its prior, as :math:`\\tau` above), and the average slopes stay ``coefficient`` and
``baseline_slope``. Its g-computed means average each arm's own factor over the target
population. Why it is not the primary (``data/calibration/arm-slopes/``: fixed weights, the
same 200 simulated cohorts of 187 per scenario as the one-slope model's calibration): on
``strong-confounding``, where the confounders' effects on the log scale differ between arms, it
left the worst bias as it was (combination - rhIL-11 day 14: -17.8 -> -18.3 x10^9/L) and raised
coverage (0.635-0.980 -> 0.765-0.985) mostly by widening the intervals; on ``paper-like`` it
made the day-14 differences more biased (combination - rhTPO +3.4 -> +9.0, hetrombopag - rhTPO
+5.3 -> +9.6) with posterior SDs 25-50 % wider: each arm's slopes rest on that arm's few
effective patients and are carried over the whole target population, and the natural-scale
mean of uncertain slopes is pulled upward. On the simulator's potential outcomes (60,000
patients, true-propensity weights, least squares on the log counts, g-computed with each arm's
residual variance) one set of slopes misses the arms' day-14 means by at most 2 x10^9/L in
either scenario, and arm-specific slopes barely change that: the strong-confounding bias of the
PLT model comes from weights that cannot balance there (propensities below 0.01; in a typical
cohort bone metastasis stays about 0.5 SD off its target in the hetrombopag arm), so the outcome
model extrapolates, which no slope structure fixes.

:math:`R` is built from its canonical partial correlations: under LKJ(:math:`\\eta`) those of
the C-vine are independent, :math:`(\\rho + 1)/2 \\sim \\mathrm{Beta}(\\beta_k, \\beta_k)` at
tree level k with :math:`\\beta_k = \\eta + (D - 1 - k)/2` for D days (Lewandowski et al. 2009,
section 3.2), and the Cholesky factor of R follows from them in closed form
(:func:`~cit_bayes.bayes.correlation.correlation_cholesky`). This is the LKJ prior exactly, written with a few scalar
operations: it compiles in a fraction of the time of PyMC's ``LKJCholeskyCov`` and makes
every prior setting data (a prior change re-uses the compiled sampler).

Why not a random intercept with day-specific residual SDs: that model is the special case
:math:`\\Sigma = \\sigma_u^2 \\mathbf{1}\\mathbf{1}^\\top + \\mathrm{diag}(\\sigma_d^2)`, in which
every pair of days has the same covariance. On the reconstructed cohort the residual
correlations are about 0.87 (days 3-7), 0.41 (3-14) and 0.55 (7-14), far from that; the fit
pushed :math:`\\sigma_3` to its boundary at 0, and NUTS then diverged or stalled (measured
when the model was written). The unstructured covariance holds the random-intercept model
and fits these data; with three days it has three more parameters. The patient-level effects
are integrated out (the likelihood is the marginal normal density of each patient's observed
counts), so the model has no per-patient parameter and no funnel.

Missing counts are left out (missing at random given the patient's arm, covariates and
recorded counts): each patient's density is that of the recorded days, the matching block of
:math:`\\Sigma_{a_i}`. The weight of a patient multiplies the patient's
whole log density (a level-2 weight, where weights for patient-level treatment belong;
Pfeffermann et al. 1998, Rabe-Hesketh & Skrondal 2006), after rescaling within arm to the Kish
effective sample size of the patients with a follow-up count
(:func:`~cit_bayes.bayes.patient_base.kish_rescale`).

The likelihood's two forms for missing counts (one block per set of recorded days, or the sets'
masked blocks factored together) and which one a cohort gets:
:mod:`~cit_bayes.bayes.trajectory_data`.
The targets (natural-scale mean counts per day and arm, the change from baseline), g-computed on
the stored draws after sampling: :mod:`~cit_bayes.bayes.trajectory_targets`.

References
----------
Betancourt M, Girolami M. Hamiltonian Monte Carlo for hierarchical models. In: *Current Trends in
Bayesian Methodology with Applications*. CRC Press, 2015:79-101.
Lewandowski D, Kurowicka D, Joe H. Generating random correlation matrices based on vines and
extended onion method. *J Multivar Anal* 2009;100:1989-2001.
Pfeffermann D, Skinner CJ, Holmes DJ, Goldstein H, Rasbash J. Weighting for unequal selection
probabilities in multilevel models. *J R Stat Soc B* 1998;60:23-40.
Rabe-Hesketh S, Skrondal A. Multilevel modelling of complex survey data. *J R Stat Soc A*
2006;169:805-827.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.correlation import masked_mvn_logpdf, mvn_logpdf, pattern_factor
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_blocks import group_intercept
from cit_bayes.bayes.patient_fit import ModelInputs, PatientFit, cached_model, fit_cached_model
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.bayes.trajectory_data import (
    PATTERN_BLOCK,
    likelihood_form,
    observed_patterns,
    trajectory_values,
)
from cit_bayes.bayes.trajectory_prior import (
    PRIOR_NAMES,
    TrajectoryPrior,
    arm_levels,
    residual_correlation,
    slope_deviations,
)
from cit_bayes.bayes.trajectory_targets import trajectory_targets
from cit_bayes.exceptions import ModelError

__all__ = ["build_trajectory_model", "fit_trajectory_model", "trajectory_inputs"]

REPORTED = ("mean", "delta_plt")


def _build(
    n: int,
    arms: tuple[str, ...],
    covariates: tuple[str, ...],
    days: tuple[str, ...],
    patterns: tuple[tuple[tuple[bool, ...], int], ...] | None,
    pool_arms: bool,
    groups: tuple[str, ...] = (),
    fixed: bool = False,
    arm_slopes: bool = False,
):
    """The model; ``patterns`` ((set of days, count) pairs) for the unrolled form, None for
    the batched one."""
    n_days = len(days)
    pairs = [f"{days[j]}-{days[i]}" for i in range(1, n_days) for j in range(i)]
    coords = {
        "arm": list(arms),
        "arm_contrast": np.arange(len(arms) - 1),
        "day": list(days),
        "day_pair": pairs,
        "patient": np.arange(n),
        "covariate": list(covariates),
    }
    with pm.Model(coords=coords, check_bounds=False) as model:
        arm = pm.Data("arm_index", np.zeros(n, dtype="int64"), dims="patient")
        design = pm.Data("design", np.zeros((n, len(covariates))), dims=("patient", "covariate"))
        baseline = pm.Data("log_baseline_centred", np.zeros(n), dims="patient")
        pm.Data("plt_day0", np.ones(n), dims="patient")  # trajectory_targets
        pm.Data("baseline_reference", np.ones((n, len(arms))), dims=("patient", "arm"))
        log_plt = pm.Data("log_plt", np.zeros((n, n_days)), dims=("patient", "day"))
        pm.Data("observed", np.zeros((n, n_days)), dims=("patient", "day"))
        weight = pm.Data("weight", np.ones(n), dims="patient")
        pm.Data("target_tilt", np.ones(n), dims="patient")  # trajectory_targets
        prior = {name: pm.Data(f"prior_{name}", 1.0) for name in PRIOR_NAMES}

        residual_sd = pm.HalfNormal("residual_sd", prior["residual_sd"], dims=("arm", "day"))
        factor = residual_correlation(prior["correlation_eta"], n_days, pairs)
        arm_day = arm_levels(prior, residual_sd, len(arms), pool_arms, fixed)
        slope = pm.Normal("baseline_slope", 0.0, prior["baseline_slope_sd"], dims="day")
        coefficient = pm.Normal("coefficient", 0.0, prior["coefficient_sd"], dims="covariate")

        # (n,): covariates and, with a grouping, the patient's group intercept
        linear = pt.dot(design, coefficient) + group_intercept(groups, n, prior["group_sd"])
        shift = linear[:, None] + baseline[:, None] * slope[None, :]  # (n, day)
        if arm_slopes:  # each arm's slopes: the average slope + a zero-sum deviation
            deviation, baseline_deviation = slope_deviations(len(arms), prior["slope_deviation_sd"])
            shift = shift + (
                pt.sum(design * deviation[arm], axis=1)[:, None]
                + baseline[:, None] * baseline_deviation[arm]
            )
        mu = arm_day[arm] + shift
        if patterns is None:  # batched: the sets of recorded days are data
            masks = pm.Data("pattern_mask", np.zeros((PATTERN_BLOCK, n_days)))
            index = pm.Data("pattern_index", np.zeros(n, dtype="int64"), dims="patient")
            recorded = masks[index]  # (n, day) 0/1
            scale = residual_sd[arm]
            density = masked_mvn_logpdf(recorded * (log_plt - mu) / scale, factor, masks, index)
            log_scale = pt.sum(recorded * pt.log(scale), axis=1)
            pm.Potential("weighted_loglik", pt.sum(weight * (density - log_scale)))
            return model
        loglik = []
        for p, (pattern, count) in enumerate(patterns):
            days_p = [int(d) for d in np.flatnonzero(pattern)]
            values = pm.Data(f"log_plt_{p}", np.zeros((count, len(days_p))))
            if count == n:  # every patient has this set of days: no indexing
                mu_p, weight_p, scale_p = mu, weight, residual_sd[arm]
            else:
                rows = pm.Data(f"rows_{p}", np.zeros(count, dtype="int64"))
                mu_p, weight_p, scale_p = mu[rows], weight[rows], residual_sd[arm[rows]]
            if len(days_p) < n_days:
                mu_p, scale_p = mu_p[:, days_p], scale_p[:, days_p]
            scaled = (values - mu_p) / scale_p
            density = mvn_logpdf(scaled, pattern_factor(factor, days_p))
            log_scale = pt.sum(pt.log(scale_p), axis=1)
            loglik.append(pt.sum(weight_p * (density - log_scale)))
        pm.Potential("weighted_loglik", pt.sum(pt.stack(loglik)))
        # mean and delta_plt: g-computation on the stored draws (trajectory_targets)
    return model


def build_trajectory_model(
    data: PatientData,
    days: Sequence[str],
    observed: np.ndarray,
    pool_arms: bool = False,
    fixed: bool = False,
    form: str | None = None,
    arm_slopes: bool = False,
) -> pm.Model:
    """The (cached) trajectory model for data of this shape; its ``pm.Data`` are not set.

    ``form`` (default :func:`likelihood_form` of ``observed``, (n, days) bool) chooses the
    likelihood. Unrolled, the structure depends on the sets of recorded days: one block per set,
    and the cache key holds the sets and their counts. Batched, it does not: the sets are data
    (``pattern_mask``, ``pattern_index``;
    :func:`~cit_bayes.bayes.trajectory_data.pattern_values`), the key holds n, the arms,
    covariates, days, pooling and groups only, and a cohort of the same size with other missing
    counts re-uses the model and its compiled sampler. Every prior parameter is data, so a prior
    change re-uses the compiled model.

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> observed = np.array([[True, True], [True, False], [True, True], [True, True]])
    >>> model = build_trajectory_model(data, ["day3", "day7"], observed)
    >>> list(model.coords["day_pair"]), "log_plt_1" in model.named_vars  # two sets of days
    (['day3-day7'], True)
    """
    days = tuple(str(d) for d in days)
    observed = np.asarray(observed, dtype=bool)
    pool_arms, fixed, arm_slopes = bool(pool_arms), bool(fixed), bool(arm_slopes)
    if likelihood_form(observed, form) == "batched":
        patterns = None
    else:
        patterns = tuple(
            (pattern, int(np.sum(np.all(observed == np.array(pattern), axis=1))))
            for pattern in observed_patterns(observed)
        )
    structure = (pool_arms, fixed, data.groups) + (("arm_slopes",) if arm_slopes else ())
    key = ("trajectory", data.n, data.arms, data.covariates, days, patterns or "batched")
    return cached_model(
        (*key, *structure),
        lambda: _build(
            data.n, data.arms, data.covariates, days, patterns, pool_arms, data.groups, fixed,
            arm_slopes,
        ),
    )  # fmt: skip


def fit_trajectory_model(
    plt_day0,
    plt_follow_up,
    data: PatientData,
    *,
    days: Sequence[str] = ("day3", "day7", "day14"),
    prior: TrajectoryPrior | None = None,
    adjust_baseline: bool = True,
    seed: int | np.random.Generator,
    name: str = "plt",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
    form: str | None = None,
) -> PatientFit:
    """Fit the trajectory model; return natural-scale mean counts per day and arm.

    Parameters
    ----------
    plt_day0 : array, shape (n,)
        Baseline counts (x10^9/L), all present.
    plt_follow_up : array, shape (n, len(days))
        Follow-up counts, NaN where missing.
    data : PatientData
    days : sequence of str
        Labels of the follow-up days (columns of ``plt_follow_up``); the last is the day of
        ``delta_plt``.
    prior : TrajectoryPrior, optional
    adjust_baseline : bool
        False for the unadjusted analysis (no baseline-count covariate).
    form : {"unrolled", "batched"}, optional
        The likelihood's form (default: :func:`likelihood_form`;
        :mod:`~cit_bayes.bayes.trajectory_data`).

    Returns
    -------
    PatientFit
        ``draws["mean"]`` dims ``(chain, draw, day, arm)``; ``draws["delta_plt"]`` dims
        ``(chain, draw, arm)``.

    Examples
    --------
    Sampling takes seconds; the arguments are checked first:

    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> fit_trajectory_model([20, 30, 25, 40], [[50, 80]] * 4, data, days=["day7"], seed=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: need one distinct day label per column of counts, got ('day7',)
    """
    inputs = trajectory_inputs(
        plt_day0, plt_follow_up, data, days=days, prior=prior,
        adjust_baseline=adjust_baseline, form=form,
    )  # fmt: skip
    return fit_cached_model(
        inputs.model,
        inputs.values,
        endpoint="plt",
        reported=REPORTED,
        seed=seed,
        name=name,
        settings=settings,
        provenance=provenance,
        derived=inputs.derived,
    )


def trajectory_inputs(
    plt_day0,
    plt_follow_up,
    data: PatientData,
    *,
    days: Sequence[str] = ("day3", "day7", "day14"),
    prior: TrajectoryPrior | None = None,
    adjust_baseline: bool = True,
    form: str | None = None,
) -> ModelInputs:
    """The trajectory model, its data and its g-computation for one fit (not sampled).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> counts = np.array([[60.0, 90.0], [50.0, 80.0], [70.0, 120.0], [40.0, 100.0]])
    >>> inputs = trajectory_inputs([30.0, 40.0, 35.0, 20.0], counts, data, days=("day7", "day14"))
    >>> list(inputs.model.coords["day"])
    ['day7', 'day14']
    """
    prior = TrajectoryPrior() if prior is None else prior
    days = tuple(str(d) for d in days)
    if len(days) != np.shape(plt_follow_up)[-1] or len(set(days)) != len(days):
        raise ModelError(f"need one distinct day label per column of counts, got {days}")
    values = trajectory_values(
        plt_day0, plt_follow_up, data, prior, adjust_baseline=adjust_baseline, form=form
    )
    model = build_trajectory_model(
        data, days, values["observed"], prior.pool_arms, prior.arm_sd_fixed, form, prior.arm_slopes
    )
    return ModelInputs(model, values, trajectory_targets(values, days, data.arms))
