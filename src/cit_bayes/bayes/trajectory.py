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
zero-sum basis (:func:`~cit_bayes.bayes.patient_base.zero_sum_basis`), non-centred (Betancourt &
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

Missing counts: two forms of the same likelihood
------------------------------------------------
*Unrolled*: the patients are grouped by their set of recorded days, and each set has its own
block of the likelihood, with the Cholesky factor of its correlation block written out in
scalar operations (read off the factor of R for a leading block). The graph, and the model's
cache key, hold the sets. *Batched*: the sets are data (``pattern_mask``, the distinct sets as
0/1 rows padded with empty ones to a multiple of :data:`PATTERN_BLOCK`; ``pattern_index``, each
patient's set): every set's masked correlation :math:`M R M + (I - M)` is factored together
(:func:`~cit_bayes.bayes.correlation.masked_mvn_logpdf`), which gives each patient the density of
the recorded days exactly (the same log density and gradient to rounding, tested). The graph
does not depend on the sets, nor on n, and the cache key holds neither the sets nor their
counts: a cohort of the same size with other missing counts re-uses the built model, and a
cohort of any size the compiled sampler (both callbacks loaded from the on-disk cache,
:func:`~cit_bayes.bayes.compiled.compile_model`; within a process the nutpie backend re-uses
the compiled model itself while the data keep their shapes, hence the padding).

Which form (:func:`likelihood_form`): unrolled for a cohort with one set of recorded days (no
missing count), or at most :data:`BATCHED_ABOVE` = 7 sets with at most :data:`UNROLLED_DAYS` = 3
days (every set three days can make: the bundled cohort, whose graph and draws stay those of
the unrolled form, bit for bit); batched otherwise. Measured for issue 17 (numba backend, 2 cores
shared with other work, so within about 30 %; "compile": nutpie's callbacks with PyTensor's cache
holding other models, "cold" with an empty cache; "gradient": one log density and gradient):

- 3 days, all 7 sets, n = 1,000: unrolled 664 graph nodes, compile 53 s, gradient 0.075 ms;
  batched 426 nodes, compile 47 s, gradient 0.115 ms. (n = 200, the bundled cohort's size:
  unrolled compile 58 s, gradient 0.071 ms.)
- 9 days, n = 1,000, unrolled: one set (no missing count) compile 40 s, gradient 0.11 ms; four
  sets compile 703 s, gradient 0.53 ms (each block that is not a leading one has its scalar
  Cholesky factor written out, and numba compiles the large fused loops slowly).
- 9 days, 20 % of counts missing at random, n = 3,000 (278 sets): unrolled 127,883 nodes, graph
  built in 24 s, compile not done after 25 minutes (stopped, so no gradient time); batched 1,095
  nodes, built in 0.1 s, compile 226 s cold and 8.6 s for a cohort with other missing counts
  (270 sets: both callbacks from the cache), gradient 1.4-1.8 ms.
- the same at n = 10,000 (377 sets): unrolled 153,497 nodes, built in 26 s; batched built in
  0.2 s, compile 244 s cold and 9.6 s with the n = 3,000 model's cache entries (the same graph),
  gradient 4.5-6.0 ms.

With three days the two forms compile alike and the unrolled one evaluates 1.5 times faster;
with nine days an unrolled block that is not a leading one compiles slowly, and every cohort
with other sets of recorded days is a new structure for the unrolled form, never for the
batched one.
From four days on the batched form is therefore taken as soon as a count is missing.

Target (g-computation, natural scale)
-------------------------------------
Computed in every posterior draw after sampling, on the stored draws (:func:`trajectory_targets`,
:mod:`cit_bayes.bayes.gcomp`), not by the sampler.

The mean count of arm a on day d in the target population (tilting h):

.. math::

    M_{ad} = \\frac{\\sum_i h_i \\exp(\\theta_{ad} + \\gamma_d b_i + x_i^\\top\\beta
        + s_{ad}^2/2)}{\\sum_i h_i},

the log-normal mean of each patient's count averaged over the patients (``mean``, dims
``day, arm``); and :math:`\\Delta_a = M_{a,\\mathrm{last}} - \\bar P_{0}`, the change from the
target population's observed mean baseline count :math:`\\bar P_{0} = \\sum_i h_i
\\mathrm{PLT}_{i0} / \\sum_i h_i` (the same for every arm: it is measured before treatment) to
the last day (``delta_plt``). In the unadjusted analysis (``adjust_baseline=False``) each arm's
own observed baseline mean is subtracted instead, the naive change per arm. The residual is
normal on the log scale (log-normal counts), so the natural-scale mean is finite; a Student-t
residual would make it infinite.

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
from dataclasses import dataclass, fields

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.correlation import (
    correlation_cholesky,
    cpc_shapes,
    masked_mvn_logpdf,
    mvn_logpdf,
    pattern_factor,
)
from cit_bayes.bayes.gcomp import (
    as_posterior,
    average_over_patients,
    distinct_patients,
    draws_matrix,
    linear_predictor,
)
from cit_bayes.bayes.patient_base import (
    SCALE,
    ModelInputs,
    PatientData,
    PatientFit,
    cached_model,
    check_fixed_arm_sd,
    check_prior,
    fit_cached_model,
    group_intercept,
    group_values,
    zero_sum_basis,
)
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "BATCHED_ABOVE",
    "UNROLLED_DAYS",
    "TrajectoryPrior",
    "build_trajectory_model",
    "likelihood_form",
    "slope_deviation_terms",
    "trajectory_values",
    "fit_trajectory_model",
    "trajectory_inputs",
    "trajectory_targets",
]

REPORTED = ("mean", "delta_plt")

#: The likelihood is batched over the sets of recorded days when a cohort of at most
#: :data:`UNROLLED_DAYS` days has more than this many distinct non-empty sets (7: every set three
#: days can make, so a three-day cohort keeps the unrolled form), or a cohort of more days more
#: than one set; unrolled (one block per set) otherwise (module docstring, "Missing counts").
BATCHED_ABOVE = 7

#: Up to this many days the unrolled form is kept for up to :data:`BATCHED_ABOVE` sets.
UNROLLED_DAYS = 3

#: The forms of the likelihood: one block per set of recorded days, or masked blocks batched.
FORMS = ("unrolled", "batched")

#: The batched form's sets of recorded days are padded to a multiple of this many rows, so
#: that cohorts whose numbers of sets differ a little have data of the same shapes (the nutpie
#: backend re-uses a compiled model for data of the same shapes).
PATTERN_BLOCK = 32


@dataclass(frozen=True)
class TrajectoryPrior:
    """Priors of the trajectory model (log PLT scale, PLT in x10^9/L).

    Attributes
    ----------
    day_mean_center, day_mean_sd : float
        :math:`\\theta_{ad} \\sim N(c, s)`, the level of arm a on day d (the common level
        :math:`m_d` when ``pool_arms``): N(log 100, 1) covers counts from about 14 to 700.
    arm_sd : float
        Used only when ``pool_arms``: half-normal scale of the standardised between-arm SD
        :math:`\\tau` (the SD of the arm levels of a day in units of that day's within-patient
        SD averaged over the arms, :math:`\\bar s_d`): 0.5 lets two arms differ by about 1.4
        within-patient SDs at the 95 % edge of the prior.
    baseline_slope_sd : float
        :math:`\\gamma_d \\sim N(0, s)` (slope on the centred log baseline count).
    coefficient_sd : float
        :math:`\\beta_j \\sim N(0, s)`: 0.5 lets a 1-SD covariate change counts by a factor
        e^1 (95 % prior range).
    group_sd : float
        Used only when the data carry a grouping (``PatientData.groups``): half-normal scale of
        the SD of the groups' random intercepts on the log count (at an SD of 0.5 a group's
        counts lie within a factor e^1 of the average group's at the 95 % edge;
        :func:`~cit_bayes.bayes.patient_base.group_intercept`).
    residual_sd : float
        Half-normal scale of the within-patient SD :math:`s_{ad}` of each arm and day.
    correlation_eta : float
        LKJ shape of the within-patient correlation matrix (2: mildly favours weaker
        correlations; 1 is uniform over correlation matrices). With three days each
        correlation then has the marginal prior 2 Beta(2.5, 2.5) - 1.
    slope_deviation_sd : float
        Used only when ``arm_slopes``: :math:`s_\\xi`, the SD of each arm's deviation from the
        average covariate and baseline slopes (0.25: two arms' slopes differ by less than 0.7
        on the log scale with prior probability 0.95). Optional in a plan.
    pool_arms : bool
        False (default): independent arm-by-day levels. True: partially pooled (a sensitivity
        analysis; module docstring). It changes the model's structure, not only its data.
    arm_sd_fixed : bool
        Only with ``pool_arms``: the standardised between-arm SD :math:`\tau` is ``arm_sd``
        itself, not estimated (a sceptical prior on the differences between arms: two arms'
        levels of a day differ by N(0, 2 arm_sd^2) within-patient SDs a priori). It changes the
        model's structure.
    arm_slopes : bool
        False (default): one slope per covariate and per day's baseline for all arms. True:
        each arm its own (a sensitivity analysis, not the primary: module docstring, "Arm-specific
        slopes"). It changes the model's structure; optional in a plan.

    Examples
    --------
    >>> from cit_bayes.bayes.trajectory import TrajectoryPrior
    >>> prior = TrajectoryPrior(correlation_eta=1.0)
    >>> round(prior.day_mean_center, 3), prior.correlation_eta, prior.pool_arms
    (4.605, 1.0, False)
    """

    day_mean_center: float = float(np.log(100.0))
    day_mean_sd: float = setting(1.0, **SCALE)
    arm_sd: float = setting(0.5, **SCALE)
    baseline_slope_sd: float = setting(1.0, **SCALE)
    coefficient_sd: float = setting(0.5, **SCALE)
    group_sd: float = setting(0.5, **SCALE)
    residual_sd: float = setting(0.5, **SCALE)
    correlation_eta: float = setting(2.0, **SCALE)
    slope_deviation_sd: float = setting(0.25, **SCALE)
    pool_arms: bool = False
    arm_sd_fixed: bool = False
    arm_slopes: bool = False

    def __post_init__(self):
        check_prior(self)
        check_fixed_arm_sd(self)


#: The prior settings that are ``pm.Data`` of the model (``prior_<name>``); ``pool_arms``,
#: ``arm_sd_fixed`` and ``arm_slopes`` are not: they fix the model's structure.
_STRUCTURE = ("pool_arms", "arm_sd_fixed", "arm_slopes")
_PRIOR_NAMES = tuple(f.name for f in fields(TrajectoryPrior) if f.name not in _STRUCTURE)


def observed_patterns(observed: np.ndarray) -> tuple[tuple[bool, ...], ...]:
    """The distinct sets of recorded days (rows of the mask), in a fixed order, none empty."""
    rows = {tuple(bool(v) for v in row) for row in np.asarray(observed, dtype=bool)}
    return tuple(sorted((r for r in rows if any(r)), reverse=True))


def likelihood_form(observed: np.ndarray, form: str | None = None) -> str:
    """The form of the likelihood for these recorded days (``observed``, (n, days) bool).

    ``form`` if given (checked); else ``"unrolled"`` for one set of recorded days, or up to
    :data:`BATCHED_ABOVE` sets with at most :data:`UNROLLED_DAYS` days, and ``"batched"``
    otherwise (module docstring, "Missing counts").

    Examples
    --------
    >>> observed = np.array([[True, True], [True, False], [False, True]])
    >>> likelihood_form(observed), likelihood_form(observed, "batched")
    ('unrolled', 'batched')
    >>> likelihood_form(np.array([[True] * 4, [True, True, True, False]]))  # 4 days, 2 sets
    'batched'
    """
    observed = np.asarray(observed, dtype=bool)
    if form is None:
        limit = BATCHED_ABOVE if observed.shape[1] <= UNROLLED_DAYS else 1
        return "batched" if len(observed_patterns(observed)) > limit else "unrolled"
    if form not in FORMS:
        raise ModelError(f"form must be one of {FORMS}, got {form!r}")
    return form


def pattern_rows(sets: int) -> int:
    """Rows of the batched form's ``pattern_mask`` for this many distinct sets of recorded
    days: the next multiple of :data:`PATTERN_BLOCK` (empty rows pad it).

    Examples
    --------
    >>> pattern_rows(5), pattern_rows(32), pattern_rows(282)
    (32, 32, 288)
    """
    return PATTERN_BLOCK * max(1, -(-int(sets) // PATTERN_BLOCK))


def pattern_values(observed: np.ndarray) -> dict[str, np.ndarray]:
    """The batched form's ``pm.Data``: the distinct sets of recorded days as 0/1 rows (the
    empty set among them if a patient has no count), padded with empty rows to
    :func:`pattern_rows`, and each patient's row.

    Examples
    --------
    >>> observed = np.array([[True, True], [True, False], [True, True]])
    >>> values = pattern_values(observed)
    >>> values["pattern_mask"][:3].tolist(), values["pattern_mask"].shape
    ([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], (32, 2))
    >>> values["pattern_index"].tolist()
    [1, 0, 1]
    """
    observed = np.asarray(observed, dtype=bool)
    sets, index = np.unique(observed, axis=0, return_inverse=True)
    mask = np.zeros((pattern_rows(len(sets)), observed.shape[1]))
    mask[: len(sets)] = sets
    return {"pattern_mask": mask, "pattern_index": index.reshape(-1).astype("int64")}


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
        prior = {name: pm.Data(f"prior_{name}", 1.0) for name in _PRIOR_NAMES}

        residual_sd = pm.HalfNormal("residual_sd", prior["residual_sd"], dims=("arm", "day"))
        factor = _residual_correlation(prior["correlation_eta"], n_days, pairs)
        arm_day = _arm_levels(prior, residual_sd, len(arms), pool_arms, fixed)
        slope = pm.Normal("baseline_slope", 0.0, prior["baseline_slope_sd"], dims="day")
        coefficient = pm.Normal("coefficient", 0.0, prior["coefficient_sd"], dims="covariate")

        # (n,): covariates and, with a grouping, the patient's group intercept
        linear = pt.dot(design, coefficient) + group_intercept(groups, n, prior["group_sd"])
        shift = linear[:, None] + baseline[:, None] * slope[None, :]  # (n, day)
        if arm_slopes:  # each arm's slopes: the average slope + a zero-sum deviation
            deviation, baseline_deviation = _slope_deviations(
                len(arms), prior["slope_deviation_sd"]
            )
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


def _residual_correlation(eta, n_days: int, pairs: list[str]):
    """The Cholesky factor of R (nested lists of scalars) from its canonical partial
    correlations under LKJ(eta), and R's off-diagonal ``residual_correlation``."""
    if not pairs:
        return [[1.0]]
    shape = eta + cpc_shapes(n_days)
    cpc_unit = pm.Beta("residual_cpc_unit", shape, shape, dims="day_pair")
    cpc = 2.0 * cpc_unit - 1.0
    factor = correlation_cholesky([cpc[p] for p in range(len(pairs))])
    correlation = [
        sum((factor[i][m] * factor[j][m] for m in range(j + 1)), start=0.0)
        for i in range(1, n_days)
        for j in range(i)
    ]
    pm.Deterministic("residual_correlation", pt.stack(correlation), dims="day_pair")
    return factor


def _arm_levels(prior, residual_sd, n_arms: int, pool_arms: bool, fixed: bool):
    """The arm-by-day levels θ (``arm_day_effect``): independent a priori, or partially
    pooled (``pool_arms``; the between-arm SD a constant when ``fixed``)."""
    if not pool_arms:
        return pm.Normal(
            "arm_day_effect", prior["day_mean_center"], prior["day_mean_sd"], dims=("arm", "day")
        )
    day_mean = pm.Normal("day_mean", prior["day_mean_center"], prior["day_mean_sd"], dims="day")
    arm_sd = prior["arm_sd"] if fixed else pm.HalfNormal("arm_sd", prior["arm_sd"])
    arm_z = pm.Normal("arm_z", 0.0, 1.0, dims=("arm_contrast", "day"))
    contrast = pt.as_tensor(zero_sum_basis(n_arms))  # (arm, arm_contrast)
    return pm.Deterministic(
        "arm_day_effect",
        day_mean[None, :]
        + arm_sd * pt.mean(residual_sd, axis=0)[None, :] * pt.dot(contrast, arm_z),
        dims=("arm", "day"),
    )


def _slope_deviations(n_arms: int, sd):
    """Each arm's deviations from the average covariate and baseline slopes (arm_slopes):
    :math:`\\xi_{\\cdot j} = s_\\xi H z_{\\cdot j}` (covariate j) and :math:`\\zeta_{\\cdot d} =
    s_\\xi H z'_{\\cdot d}` (day d), z standard normal, H the zero-sum basis, so the deviations of
    a slope sum to zero over the arms (the average slope is ``coefficient`` /
    ``baseline_slope`` alone: no ridge between it and the deviations) and two arms' slopes differ
    by N(0, 2 s_ξ^2) a priori. Non-centred with a fixed scale: no funnel."""
    basis = pt.as_tensor(zero_sum_basis(n_arms))  # (arm, arm_contrast)
    z = pm.Normal("coefficient_deviation_z", 0.0, 1.0, dims=("arm_contrast", "covariate"))
    z_day = pm.Normal("baseline_slope_deviation_z", 0.0, 1.0, dims=("arm_contrast", "day"))
    deviation = pm.Deterministic(
        "coefficient_deviation", sd * pt.dot(basis, z), dims=("arm", "covariate")
    )
    baseline_deviation = pm.Deterministic(
        "baseline_slope_deviation", sd * pt.dot(basis, z_day), dims=("arm", "day")
    )
    return deviation, baseline_deviation


def slope_deviation_terms(deviation, baseline_deviation, design, baseline, arm) -> np.ndarray:
    """What arm-specific slopes add to each patient's log-count mean under their own arm:
    :math:`x_i^\\top \\xi_{a_i} + \\zeta_{a_i d} b_i`, shape (..., patient, day), for one draw or
    for leading draw dimensions (the predictive checks and the SBC simulator).

    Parameters
    ----------
    deviation : array, shape (..., arm, covariate)
        ``coefficient_deviation``.
    baseline_deviation : array, shape (..., arm, day)
        ``baseline_slope_deviation``.
    design : array, shape (patient, covariate)
    baseline : array, shape (patient,)
        The centred log baseline count.
    arm : array of int, shape (patient,)

    Examples
    --------
    >>> terms = slope_deviation_terms(
    ...     np.array([[0.5], [-0.5]]), np.array([[0.1, 0.2], [-0.1, -0.2]]),
    ...     np.array([[1.0], [2.0]]), np.array([0.0, 1.0]), np.array([0, 1]),
    ... )
    >>> terms.round(2).tolist()
    [[0.5, 0.5], [-1.1, -1.2]]
    """
    deviation, baseline_deviation = np.asarray(deviation), np.asarray(baseline_deviation)
    design, baseline = np.asarray(design, dtype=float), np.asarray(baseline, dtype=float)
    covariate_part = np.einsum("...np,np->...n", deviation[..., arm, :], design)
    return covariate_part[..., None] + baseline_deviation[..., arm, :] * baseline[:, None]


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
    (``pattern_mask``, ``pattern_index``; :func:`pattern_values`), the key holds n, the arms,
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


def trajectory_values(
    plt_day0,
    plt_follow_up,
    data: PatientData,
    prior: TrajectoryPrior,
    *,
    adjust_baseline: bool = True,
    form: str | None = None,
) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values for this analysis (checked).

    ``plt_follow_up`` is (n, days) with NaN for a missing count; ``adjust_baseline=False``
    (the unadjusted analysis) sets the centred log baseline to zero. ``form`` as for
    :func:`build_trajectory_model` (the same default): the unrolled form's data hold each set
    of recorded days' rows and counts, the batched form's the sets (:func:`pattern_values`).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> counts = [[50, 80], [60, np.nan], [40, 90], [70, 120]]  # day3, day7
    >>> values = trajectory_values([20, 30, 25, 40], counts, data, TrajectoryPrior())
    >>> values["rows_0"].tolist(), values["rows_1"].tolist()  # both days, day3 only
    ([0, 2, 3], [1])
    """
    if not isinstance(prior, TrajectoryPrior):
        raise ModelError(f"prior must be a TrajectoryPrior, got {type(prior).__name__}")
    day0 = np.asarray(plt_day0, dtype=float)
    counts = np.asarray(plt_follow_up, dtype=float)
    if day0.shape != (data.n,):
        raise ModelError(f"plt_day0 must have shape ({data.n},), got {day0.shape}")
    if counts.ndim != 2 or counts.shape[0] != data.n:
        raise ModelError(f"follow-up counts must have shape (n={data.n}, days)")
    if not np.all(np.isfinite(day0)) or np.any(day0 <= 0):
        raise ModelError("every baseline count must be present and positive")
    observed = np.isfinite(counts)
    if np.any(counts[observed] <= 0):
        raise ModelError("platelet counts must be positive (log scale)")
    for j, label in enumerate(data.arms):
        if not observed[data.arm_codes == j].any():
            raise ModelError(f"no follow-up platelet count in arm {label!r}")
    for d in range(counts.shape[1]):
        if observed[:, d].sum() < 2:
            raise ModelError(f"fewer than 2 counts recorded on follow-up day {d + 1}")
    log_baseline = np.log(day0)
    centred = log_baseline - log_baseline.mean() if adjust_baseline else np.zeros(data.n)
    contributes = observed.any(axis=1)
    if adjust_baseline:
        reference = np.ones((data.n, data.n_arms))
    else:
        reference = (data.arm_codes[:, None] == np.arange(data.n_arms)[None, :]).astype(float)
    log_counts = np.log(np.where(observed, counts, 1.0))
    values = {
        "arm_index": data.arm_codes,
        "design": data.design,
        "log_baseline_centred": centred,
        "plt_day0": day0,
        "baseline_reference": reference,
        "log_plt": np.where(observed, log_counts, 0.0),
        "observed": observed.astype(float),
        "weight": data.likelihood_weights(contributes),
        "target_tilt": data.tilt,
    }
    if likelihood_form(observed, form) == "batched":
        values |= pattern_values(observed)
    else:
        for p, pattern in enumerate(observed_patterns(observed)):
            rows = np.flatnonzero(np.all(observed == np.array(pattern), axis=1))
            if len(rows) < data.n:
                values[f"rows_{p}"] = rows.astype("int64")
            values[f"log_plt_{p}"] = log_counts[np.ix_(rows, np.flatnonzero(pattern))]
    for name in _PRIOR_NAMES:
        values[f"prior_{name}"] = np.asarray(float(getattr(prior, name)))
    return values | group_values(data)


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
        The likelihood's form (default: :func:`likelihood_form`; module docstring).

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


def trajectory_targets(values: Mapping[str, np.ndarray], days: Sequence[str], arms: Sequence[str]):
    """The g-computation of the trajectory model on the stored draws (module docstring).

    Returns a function of the posterior (as :func:`~cit_bayes.bayes.sampling.sample` takes
    it) giving ``mean`` (dims ``day, arm``) and ``delta_plt`` (dim ``arm``). The patient's
    log-normal mean factorises, :math:`M_{ad} = e^{\\theta_{ad} + s_{ad}^2/2} \\sum_i h_i
    e^{\\gamma_d b_i + x_i^\\top\\beta + u_{g_i}} / \\sum_i h_i`, so the average over the
    distinct patients (:mod:`cit_bayes.bayes.gcomp`) is taken once per day, not per arm.

    Examples
    --------
    >>> import xarray as xr
    >>> posterior = xr.Dataset(
    ...     {"arm_day_effect": (("chain", "draw", "arm", "day"), np.log([[[[100.0], [200.0]]]])),
    ...      "residual_sd": (("chain", "draw", "arm", "day"), np.zeros((1, 1, 2, 1))),
    ...      "baseline_slope": (("chain", "draw", "day"), [[[0.0]]]),
    ...      "coefficient": (("chain", "draw", "covariate"), np.zeros((1, 1, 0)))})
    >>> values = {"design": np.zeros((2, 0)), "target_tilt": np.ones(2),
    ...           "log_baseline_centred": np.zeros(2), "plt_day0": np.array([40.0, 60.0]),
    ...           "baseline_reference": np.ones((2, 2))}
    >>> targets = trajectory_targets(values, ["day14"], ["a", "b"])(posterior)
    >>> targets["mean"].values[0, 0].round(6).tolist(), targets["delta_plt"].values[0, 0].round(6).tolist()
    ([[100.0, 200.0]], [50.0, 150.0])
    """
    tilt_all = np.asarray(values["target_tilt"], dtype=float)
    baseline = np.asarray(values["log_baseline_centred"], dtype=float)
    design, tilt, groups = distinct_patients(
        np.column_stack([values["design"], baseline]), tilt_all, values.get("group_index")
    )
    design, baseline = design[:, :-1], design[:, -1]
    reference = tilt_all[:, None] * np.asarray(values["baseline_reference"], dtype=float)
    baseline_mean = (reference * np.asarray(values["plt_day0"])[:, None]).sum(axis=0) / (
        reference.sum(axis=0)
    )  # (arm,): the target population's observed mean baseline count
    coords = {"day": list(days), "arm": list(arms)}

    def derived(posterior):
        linear = linear_predictor(posterior, design, groups)  # linear(draws): (draws, m)
        slope = draws_matrix(posterior, "baseline_slope")  # (S, day)
        level = draws_matrix(posterior, "arm_day_effect")  # (S, arm, day)
        spread = 0.5 * draws_matrix(posterior, "residual_sd") ** 2  # (S, arm, day)
        n_draws, n_arms, n_days = level.shape
        if "coefficient_deviation" in posterior:  # arm_slopes: a patient's factor per arm
            deviation = draws_matrix(posterior, "coefficient_deviation")  # (S, arm, p)
            slopes = slope[:, None, :] + draws_matrix(posterior, "baseline_slope_deviation")

            def per_patient(s):  # (draws, m, arm x day)
                by_arm = linear(s)[:, :, None] + np.einsum("sap,mp->sma", deviation[s], design)
                log_factor = by_arm[..., None] + baseline[None, :, None, None] * slopes[s][:, None]
                return np.exp(log_factor).reshape(len(log_factor), len(tilt), -1)

            scale = average_over_patients(
                per_patient, n_draws, len(tilt), n_arms * n_days, tilt
            ).reshape(n_draws, n_arms, n_days)
        else:  # one factor for every arm: the average over patients once per day
            scale = average_over_patients(
                lambda s: np.exp(
                    linear(s)[:, :, None] + baseline[None, :, None] * slope[s, None, :]
                ),
                n_draws, len(tilt), n_days, tilt,
            )[:, None, :]  # fmt: skip
        mean = np.exp(level + spread) * scale  # (S, arm, day)
        return {
            "mean": as_posterior(mean.transpose(0, 2, 1), posterior, ("day", "arm"), coords),
            "delta_plt": as_posterior(
                mean[:, :, -1] - baseline_mean[None, :], posterior, ("arm",), {"arm": list(arms)}
            ),
        }

    return derived
