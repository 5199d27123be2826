"""Recovery: a discrete-time (daily) hazard model with a smooth baseline, and g-computation.

Data
----
Person-period rows (Singer & Willett 1993): patient i is at risk on days 1, ..., T_i, where T_i
is the recovery day (event on that day) or the censoring day (no event; 14 when followed to the
end, earlier when counts stop); a patient with T_i = 0 contributes no row.

Model
-----
The daily hazard (probability of reaching PLT >= 100 on day t, not before) with the
complementary log-log link,

.. math::

    \\mathrm{cloglog}\\, h_{it} = \\lambda_{a_i t} + x_i^\\top\\beta,\\qquad
    \\lambda_{at} = \\nu_a + \\delta_a s_t + \\sigma (Z u_a)_t,

is a grouped-time hazard model (Prentice & Gloeckler 1978) with a baseline hazard of its own for
every arm: a level :math:`\\nu_a \\sim N(m, s)` (the log hazard at the middle day), a trend
:math:`\\delta_a \\sim N(0, s_\\delta)` in the standardised day s, and a smooth part
:math:`\\sigma Z u_a`, :math:`u_a \\sim N(0, I_r)`, with Z the r smoothest eigenvectors of the
second-order random-walk (RW2) precision over the days, scaled by the inverse square roots of
their eigenvalues (the mixed-model form of a penalised spline, parametrised as below; Ruppert, Wand &
Carroll 2003), the whole random part rescaled so that its average marginal variance is 1 (Sorbye
& Rue 2014): sigma is the typical SD of the log hazard around a straight line in the day. Z is
orthogonal to the constant and to s, so the levels, the trends and the smooth parts do not trade
off. The arms are independent a priori (different regimens, not exchangeable: no arm's hazard is
pulled toward the others'); only the smoothness sigma is one parameter for all arms. Hazards are
not forced to be proportional between arms (an injected and an oral agent need not act on the
same time course); covariates act proportionally within arm. Reported: the log daily hazard of
each arm at x = 0 (``arm_log_hazard``, dims ``day, arm``) and the day-averaged arm effect
:math:`\\eta_a = \\bar\\lambda_{a\\cdot} - \\frac1K\\sum_b \\bar\\lambda_{b\\cdot} = \\nu_a -
\\bar\\nu` (``arm_effect``: s and Z average to zero over the days), so that
:math:`\\exp(\\eta_a - \\eta_b)` is a day-averaged hazard ratio, conditional on the covariates.
Weights (rescaled within arm to the Kish ESS of the patients at risk on day 1) multiply each
patient's log likelihood.

The arms' smooth parts are centred or non-centred by the strength of the data: the same model,
another geometry (:func:`~cit_bayes.bayes.patient_blocks.arms_carry_weight`;
:mod:`~cit_bayes.bayes.recovery_baseline`, where the choice is measured). ``arm_smooth``
(sigma u_a) is in the posterior under both.

Proportional hazards (``proportional_hazards=True``, a sensitivity analysis): one shape
:math:`g = \\delta s + \\sigma Z u` shared by the arms, :math:`\\lambda_{at} = \\nu_a + g_t`, so
that :math:`\\exp(\\eta_a - \\eta_b)` is the constant hazard ratio of the grouped
proportional-hazards model whatever happens within a day. Partial pooling (``pool_arms=True``,
which needs the shared shape): :math:`\\nu = \\lambda_0 + \\tau H z`, :math:`z \\sim N(0,
I_{K-1})`, :math:`\\lambda_0 \\sim N(m, s)`, :math:`\\tau \\sim \\mathrm{HalfNormal}(s_\\tau)` (H
the zero-sum basis). The between-arm SD is learned from K arms and rests on its prior; in the
non-centred form the ridge between :math:`\\tau` and z gave divergences (one or two per 8,000
draws on simulated cohorts, measured for issue 13; three, min bulk ESS 961, on the simulator's
paper-like cohort of 2,000 patients, seed 1). When every arm carries much data
(:func:`~cit_bayes.bayes.patient_blocks.arms_carry_weight`) the pooled levels and the shared
shape's smooth part are centred (``arm_u``, ``baseline_smooth``): none and 12,500 on that
cohort. Pooling pulls the arms toward
each other. Hence not the default.

Reported beside ``arm_log_hazard`` and ``arm_effect``: the cumulative recovery of each arm by day
and the restricted mean time to recovery, g-computed on the stored draws after sampling
(:mod:`~cit_bayes.bayes.recovery_targets`).

References
----------
Prentice RL, Gloeckler LA. Regression analysis of grouped survival data with application to
breast cancer data. *Biometrics* 1978;34:57-67.
Singer JD, Willett JB. It's about time: using discrete-time survival analysis to study duration
and the timing of events. *J Educ Stat* 1993;18:155-195.
Ruppert D, Wand MP, Carroll RJ. *Semiparametric Regression*. Cambridge University Press, 2003.
Sorbye SH, Rue H. Scaling intrinsic Gaussian Markov random field priors in spatial modelling.
*Spat Stat* 2014;8:39-51.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.patient_base import SCALE, PatientData, check_prior, group_values
from cit_bayes.bayes.patient_blocks import (
    arms_carry_weight,
    group_intercept,
    likelihood_rows,
    row_data,
)
from cit_bayes.bayes.patient_fit import ModelInputs, PatientFit, cached_model, fit_cached_model
from cit_bayes.bayes.recovery_baseline import (
    arm_shapes,
    shared_shape,
    smooth_basis,
)
from cit_bayes.bayes.recovery_targets import recovery_targets
from cit_bayes.bayes.recovery_times import check_recovery_times, recovery_after
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "RecoveryPrior",
    "build_recovery_model",
    "recovery_values",
    "fit_recovery_model",
    "recovery_inputs",
]

REPORTED = ("cumulative_recovery", "rmtr", "arm_effect", "arm_log_hazard")


@dataclass(frozen=True)
class RecoveryPrior:
    """Priors of the recovery model (complementary log-log scale).

    Attributes
    ----------
    intercept_mean, intercept_sd : float
        :math:`\\nu_a \\sim N(m, s)`, each arm's log hazard at the middle day (the common
        :math:`\\lambda_0` when ``pool_arms``): N(-3, 1.5) centres the daily hazard at 5 %
        (95 %: 0.3 % to 57 %); two arms' log hazard ratio is N(0, 2.1) a priori.
    trend_sd : float
        :math:`\\delta \\sim N(0, s)`: change of the log hazard per SD of the day (about 4 days).
    smooth_sd : float
        Half-normal scale of :math:`\\sigma`, the departure from a straight line.
    rank : int
        Number r of smooth components of the baseline (at most days - 2).
    arm_sd : float
        Used only when ``pool_arms``: half-normal scale of the between-arm SD of the log hazard
        :math:`\\tau` (1.0: hazard ratios of e^2 plausible).
    coefficient_sd : float
        :math:`\\beta_j \\sim N(0, s)`, log hazard ratio per SD (0.5: a hazard ratio of e^1
        per SD at the 95 % edge).
    group_sd : float
        Used only when the data carry a grouping (``PatientData.groups``): half-normal scale of
        the SD of the groups' random intercepts on the log hazard (at an SD of 0.5 a group's
        hazard lies within a factor e^1 of the average group's at the 95 % edge;
        :func:`~cit_bayes.bayes.patient_blocks.group_intercept`).
    pool_arms : bool
        False (default): independent arm levels. True: partially pooled (a sensitivity
        analysis; module docstring). It changes the model's structure, not only its data.
    proportional_hazards : bool
        False (default): every arm has its own baseline shape over the days (trend and smooth
        part), so hazard ratios may change with time. True: one shape shared by the arms,
        proportional hazards between arms (a sensitivity analysis). Structure, not data.

    Examples
    --------
    >>> from cit_bayes.bayes.recovery import RecoveryPrior
    >>> prior = RecoveryPrior(rank=4)
    >>> prior.intercept_mean, prior.rank, prior.pool_arms, prior.proportional_hazards
    (-3.0, 4, False, False)
    """

    intercept_mean: float = -3.0
    intercept_sd: float = setting(1.5, **SCALE)
    trend_sd: float = setting(1.0, **SCALE)
    smooth_sd: float = setting(0.5, **SCALE)
    rank: int = setting(6, low=1)
    arm_sd: float = setting(1.0, **SCALE)
    coefficient_sd: float = setting(0.5, **SCALE)
    group_sd: float = setting(0.5, **SCALE)
    pool_arms: bool = False
    proportional_hazards: bool = False

    def __post_init__(self):
        check_prior(self)
        if self.pool_arms and not self.proportional_hazards:
            raise ModelError(
                "pool_arms pools the arms' levels of one shared baseline shape: it needs "
                "proportional_hazards = true"
            )


#: The prior settings that are ``pm.Data`` of the model (``prior_<name>``); the rank of the
#: smooth baseline and ``pool_arms`` are not: they fix the model's structure.
_STRUCTURE = ("rank", "pool_arms", "proportional_hazards")
_PRIOR_NAMES = tuple(f.name for f in fields(RecoveryPrior) if f.name not in _STRUCTURE)


def _build(
    n: int,
    arms: tuple[str, ...],
    covariates: tuple[str, ...],
    horizon: int,
    rank: int,
    pool_arms: bool,
    proportional_hazards: bool,
    groups: tuple[str, ...] = (),
    centred: bool = False,
):
    day_std, basis = smooth_basis(horizon, rank)
    coords = {
        "arm": list(arms),
        "arm_contrast": np.arange(len(arms) - 1),
        "day": [f"day{t}" for t in range(1, horizon + 1)],
        "patient": np.arange(n),
        "covariate": list(covariates),
        "component": np.arange(rank),
    }
    with pm.Model(coords=coords, check_bounds=False) as model:
        # each patient's arrays (the g-computation and the predictive checks read them) ...
        pm.Data("arm_index", np.zeros(n, dtype="int64"), dims="patient")
        pm.Data("design", np.zeros((n, len(covariates))), dims=("patient", "covariate"))
        pm.Data("weight", np.ones(n), dims="patient")
        pm.Data("target_tilt", np.ones(n), dims="patient")  # recovery_targets
        pm.Data("time_to_recovery", np.zeros(n, dtype="int64"), dims="patient")
        pm.Data("recovered", np.zeros(n), dims="patient")
        pm.Data("recovery_after", np.zeros(n, dtype="int64"), dims="patient")
        # ... and the likelihood's: identical patients merged, their weights summed
        row = row_data({name: np.zeros(1, dtype=dtype) for name, dtype in _ROW_DTYPES.items()})
        row["design"] = pm.Data("row_design", np.zeros((1, len(covariates))))
        prior = {name: pm.Data(f"prior_{name}", 1.0) for name in _PRIOR_NAMES}

        if proportional_hazards:
            log_hazard = shared_shape(prior, day_std, basis, arms, pool_arms, centred)
        else:
            log_hazard = arm_shapes(prior, day_std, basis, centred)
        pm.Deterministic("arm_log_hazard", log_hazard, dims=("day", "arm"))
        # the day-averaged log hazard of each arm, centred over the arms (day_std and the
        # smooth basis average to zero over the days, so this is the arm's level minus the
        # levels' mean): under proportional hazards the log hazard ratio itself
        arm_mean = pt.mean(log_hazard, axis=0)
        pm.Deterministic("arm_effect", arm_mean - pt.mean(arm_mean), dims="arm")
        coefficient = pm.Normal("coefficient", 0.0, prior["coefficient_sd"], dims="covariate")

        # (rows,): covariates and, with a grouping, the row's group intercept
        group = group_intercept(groups, n, prior["group_sd"], rows=True)
        linear = pt.dot(row["design"], coefficient) + group
        arm, recovered = row["arm_index"], row["recovered"]
        time, after = row["time_to_recovery"], row["recovery_after"]
        hazard = pt.exp(log_hazard)  # (day, arm)
        # cumulative baseline Lambda_a(t), t = 0..horizon (Lambda(0) = 0), dims (day + 1, arm)
        cumulative = pt.concatenate([pt.zeros((1, len(arms))), pt.cumsum(hazard, axis=0)])
        # not recovered by day L (``after``); a recovery in (L, T]: S(L) - S(T) (one day when
        # exact, L = T - 1; longer when interval-censored between two counts)
        risk = pt.exp(linear)  # (rows,)
        before = cumulative[after, arm]
        # censored patients (L = T) have no interval: a placeholder keeps log1mexp finite
        gap = pt.switch(recovered > 0, cumulative[time, arm] - before, 1.0)
        loglik = -risk * before + recovered * pt.log1mexp(-risk * gap)
        pm.Potential("weighted_loglik", pt.sum(row["weight"] * loglik))
        # cumulative_recovery and rmtr: g-computation on the stored draws (recovery_targets)
    return model


#: The likelihood's inputs besides the design (merged over identical patients: likelihood_rows).
_ROW_DTYPES = {
    "arm_index": "int64",
    "time_to_recovery": "int64",
    "recovered": "float64",
    "recovery_after": "int64",
}


def build_recovery_model(
    data: PatientData, horizon: int, prior: RecoveryPrior, centred: bool = False
) -> pm.Model:
    """The (cached) recovery model for data of this shape; its ``pm.Data`` are not set.

    The structure depends on the number of patients, the arms, the covariates, the horizon and
    the rank of the smooth baseline and ``pool_arms`` (the prior settings that are not data),
    and ``centred`` (:func:`~cit_bayes.bayes.patient_blocks.arms_carry_weight`: the smooth parts
    centred, and with ``pool_arms`` the pooled arm levels,
    :func:`~cit_bayes.bayes.patient_blocks.pooled_levels`).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> model = build_recovery_model(data, horizon=14, prior=RecoveryPrior())
    >>> len(model.coords["day"]), model.coords["day"][:2], len(model.coords["component"])
    (14, ('day1', 'day2'), 6)
    """
    structure = (prior.rank, prior.pool_arms, prior.proportional_hazards, data.groups)
    centred = bool(centred)
    key = ("recovery", data.n, data.arms, data.covariates, horizon, *structure, centred)
    return cached_model(
        key,
        lambda: _build(data.n, data.arms, data.covariates, horizon, *structure, centred),
    )


def recovery_values(
    time, recovered, data: PatientData, prior: RecoveryPrior, horizon: int, after=None
) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values for this analysis (checked).

    ``after`` is the last day each patient is known not to have recovered (see
    :func:`recovery_after`); default ``time - recovered`` (exact recovery days).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> values = recovery_values([3, 14, 2, 0], [1, 0, 1, 0], data, RecoveryPrior(), 14)
    >>> values["weight"].tolist()  # the patient followed for 0 days has no weight
    [1.0, 1.0, 1.0, 0.0]
    """
    if not isinstance(prior, RecoveryPrior):
        raise ModelError(f"prior must be a RecoveryPrior, got {type(prior).__name__}")
    time = np.asarray(time, dtype=float)
    if time.shape != (data.n,):
        raise ModelError(f"time must have shape ({data.n},), got {time.shape}")
    check_recovery_times(time, recovered, horizon)  # as person_period would, without its rows
    if not np.any(time >= 1):
        raise ModelError("no patient is followed for even one day")
    after = recovery_after(time, recovered, after)
    at_risk = time >= 1
    values = {
        "arm_index": data.arm_codes,
        "design": data.design,
        "weight": data.likelihood_weights(at_risk),
        "target_tilt": data.tilt,
        "time_to_recovery": time.astype("int64"),
        "recovered": np.asarray(recovered, dtype=float),
        "recovery_after": after,
    }
    for name in _PRIOR_NAMES:
        values[f"prior_{name}"] = np.asarray(float(getattr(prior, name)))
    values |= group_values(data)
    return values | likelihood_rows(values, ("design", *_ROW_DTYPES))


def fit_recovery_model(
    time,
    recovered,
    data: PatientData,
    *,
    horizon: int = 14,
    prior: RecoveryPrior | None = None,
    seed: int | np.random.Generator,
    name: str = "recovery",
    settings: SamplerSettings | None = None,
    provenance: Mapping[str, str | int | float] | None = None,
    after=None,
) -> PatientFit:
    """Fit the discrete-time hazard model; return cumulative recovery, RMTR and arm effects.

    Parameters
    ----------
    time : array of int, shape (n,)
        Recovery day (1..horizon) or censoring day (0..horizon).
    recovered : array of 0/1, shape (n,)
        1 when recovery was observed on ``time``.
    data : PatientData
    horizon : int
        Last day of follow-up (14).
    prior : RecoveryPrior, optional
    after : array of int, shape (n,), optional
        The last day each patient is known not to have recovered: a recovery on ``time`` T
        happened in (after, T], interval-censored when after < T - 1 (:func:`recovery_after`).
        Default ``time - recovered``: exact recovery days.

    Returns
    -------
    PatientFit
        ``draws["cumulative_recovery"]`` dims ``(chain, draw, day, arm)`` (days ``day1`` ..
        ``day<horizon>``); ``draws["rmtr"]`` and ``draws["arm_effect"]`` dims
        ``(chain, draw, arm)``.

    Examples
    --------
    Sampling takes seconds; the arguments are checked first:

    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> fit_recovery_model([3, 14, 2, 0], [1, 0, 1, 0], data, horizon=2, seed=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: horizon must be an integer of at least 3 days, got 2
    """
    inputs = recovery_inputs(time, recovered, data, horizon=horizon, prior=prior, after=after)
    return fit_cached_model(
        inputs.model,
        inputs.values,
        endpoint="recovery",
        reported=REPORTED,
        seed=seed,
        name=name,
        settings=settings,
        provenance=dict(provenance or {}) | dict(inputs.provenance),
        derived=inputs.derived,
    )


def recovery_inputs(
    time, recovered, data: PatientData, *, horizon: int, prior=None, after=None
) -> ModelInputs:
    """The recovery model, its data and its g-computation for one fit (not sampled).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> inputs = recovery_inputs([3, 14, 5, 14], [1, 0, 1, 0], data, horizon=14)
    >>> len(inputs.model.coords["day"]), dict(inputs.provenance)
    (14, {'smooth_parametrisation': 'non-centred'})
    """
    prior = RecoveryPrior() if prior is None else prior
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 3:
        raise ModelError(f"horizon must be an integer of at least 3 days, got {horizon!r}")
    values = recovery_values(time, recovered, data, prior, horizon, after)
    centred = arms_carry_weight(values["weight"], data.arm_codes, data.n_arms)
    model = build_recovery_model(data, horizon, prior, centred)
    geometry = "centred" if centred else "non-centred"
    provenance = {"smooth_parametrisation": geometry}
    if prior.pool_arms:
        provenance["pooled_levels_parametrisation"] = geometry
    return ModelInputs(
        model,
        values,
        recovery_targets(values, list(model.coords["day"]), data.arms),
        provenance,
    )
