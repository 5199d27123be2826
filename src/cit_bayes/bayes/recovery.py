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

The smooth parts are non-centred (:math:`u_a \\sim N(0, I_r)` scaled by sigma) when the arms
carry little information and centred (:math:`\\sigma u_a \\sim N(0, \\sigma^2 I_r)`, variable
``arm_smooth``) when every arm carries much (:func:`smooth_centred`: each arm's likelihood
weights over the patients at risk, as the analysis rescales them (Kish ESS by default, the
arm's size in the "no Kish rescaling" variant, counts unweighted), sum to at least
:data:`CENTRED_MIN_WEIGHT`), the classic
choice by the strength of the data (Betancourt & Girolami 2015): the same model, another
geometry. Measured with the default plan (4 x 2000 draws; max R-hat, min bulk ESS): non-centred
missed the R-hat gate on a 1,000-patient baseline-confounding cohort (1.0120, ESS 1035; 1.0099 at
2,000 patients), where centred gave 1.0032, 1641 (2,000 patients: <= 1.0037, >= 1092); at 60 to
187 patients non-centred mixes better (bulk ESS 2161-3483 against 521-1976 centred; both pass).
``arm_smooth`` (sigma u_a) is in the posterior under both.

Proportional hazards (``proportional_hazards=True``, a sensitivity analysis): one shape
:math:`g = \\delta s + \\sigma Z u` shared by the arms, :math:`\\lambda_{at} = \\nu_a + g_t`, so
that :math:`\\exp(\\eta_a - \\eta_b)` is the constant hazard ratio of the grouped
proportional-hazards model whatever happens within a day. Partial pooling (``pool_arms=True``,
which needs the shared shape): :math:`\\nu = \\lambda_0 + \\tau H z`, :math:`z \\sim N(0,
I_{K-1})`, :math:`\\lambda_0 \\sim N(m, s)`, :math:`\\tau \\sim \\mathrm{HalfNormal}(s_\\tau)` (H
the zero-sum basis, non-centred). The between-arm SD is learned from K arms and rests on its
prior; the ridge between :math:`\\tau` and z gave divergences (one or two per 8,000 draws on
simulated cohorts; measured for issue 13), and it pulls the arms toward each other. Hence not the
default.

Targets (g-computation)
-----------------------
Computed in every posterior draw after sampling, on the stored draws (:func:`recovery_targets`,
:mod:`cit_bayes.bayes.gcomp`), not by the sampler.

With :math:`\\Lambda_{at} = \\sum_{s \\le t} e^{\\lambda_{as}}`, patient i's probability of not
having recovered by day t under arm a is :math:`S_{ia}(t) = \\exp(-e^{x_i^\\top\\beta}
\\Lambda_{at})`; averaged with the target tilting h, :math:`S_a(t) = \\sum_i h_i S_{ia}(t) /
\\sum_i h_i`. Reported: ``cumulative_recovery`` :math:`1 - S_a(t)` (dims ``day, arm``), the
restricted mean time to recovery over the horizon T, :math:`\\mathrm{RMTR}_a = \\sum_{t=0}^{T-1}
S_a(t)` (``rmtr``; a patient not recovered counts T days), ``arm_effect`` and
``arm_log_hazard``. The marginal contrasts (differences in the share recovered by a day, in
RMTR), the day-averaged hazard ratios and the check of proportionality are computed from these
draws by the analysis layer.

References
----------
Prentice RL, Gloeckler LA. Regression analysis of grouped survival data with application to
breast cancer data. *Biometrics* 1978;34:57-67.
Singer JD, Willett JB. It's about time: using discrete-time survival analysis to study duration
and the timing of events. *J Educ Stat* 1993;18:155-195.
Ruppert D, Wand MP, Carroll RJ. *Semiparametric Regression*. Cambridge University Press, 2003.
Sorbye SH, Rue H. Scaling intrinsic Gaussian Markov random field priors in spatial modelling.
*Spat Stat* 2014;8:39-51.
Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard ratio for
the design and analysis of randomized trials with a time-to-event outcome. *BMC Med Res
Methodol* 2013;13:152.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pymc as pm
import pytensor.tensor as pt

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
    check_prior,
    fit_cached_model,
    group_intercept,
    group_values,
    likelihood_rows,
    row_data,
    zero_sum_basis,
)
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.config import setting
from cit_bayes.exceptions import ModelError

__all__ = [
    "RecoveryPrior",
    "smooth_basis",
    "check_recovery_times",
    "person_period",
    "build_recovery_model",
    "recovery_after",
    "recovery_values",
    "fit_recovery_model",
    "recovery_inputs",
    "recovery_targets",
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
        :func:`~cit_bayes.bayes.patient_base.group_intercept`).
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


def smooth_basis(n_days: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardised day and the scaled low-rank RW2 basis (module docstring).

    Returns
    -------
    day : numpy.ndarray, shape (n_days,)
        (t - mean) / SD for t = 1..n_days.
    basis : numpy.ndarray, shape (n_days, rank)
        Eigenvectors of the RW2 precision :math:`D_2^\\top D_2` for its ``rank`` smallest
        non-zero eigenvalues, each divided by the square root of its eigenvalue, then all
        scaled so that the mean of the diagonal of ``basis @ basis.T`` is 1.

    Examples
    --------
    >>> from cit_bayes.bayes.recovery import smooth_basis
    >>> day, basis = smooth_basis(14, rank=6)
    >>> day.shape, basis.shape, round(float(np.mean(np.sum(basis**2, axis=1))), 3)
    ((14,), (14, 6), 1.0)
    """
    if n_days < 3:
        raise ModelError(f"a smooth baseline needs at least 3 days, got {n_days}")
    if rank > n_days - 2:
        raise ModelError(f"rank {rank} exceeds the {n_days - 2} smooth components of {n_days} days")
    days = np.arange(1, n_days + 1, dtype=float)
    day = (days - days.mean()) / days.std(ddof=1)
    second = np.diff(np.eye(n_days), n=2, axis=0)
    values, vectors = np.linalg.eigh(second.T @ second)
    order = np.argsort(values)[2:]  # drop the null space (constant and linear)
    chosen = order[:rank]
    basis = vectors[:, chosen] / np.sqrt(values[chosen])[None, :]
    # a deterministic sign for each column (eigh's signs are arbitrary)
    basis *= np.where(basis[-1] < 0, -1.0, 1.0)[None, :]
    basis /= np.sqrt(np.mean(np.sum(basis**2, axis=1)))
    return day, basis


def check_recovery_times(time, recovered, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Check (time, recovered) as :func:`person_period` reads them; return them as float arrays.

    Examples
    --------
    >>> from cit_bayes.bayes.recovery import check_recovery_times
    >>> check_recovery_times([2, 0], [1, 1], horizon=14)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: a recovery must happen on day 1 or later
    """
    time = np.asarray(time, dtype=float)
    recovered = np.asarray(recovered, dtype=float)
    if time.ndim != 1 or recovered.shape != time.shape:
        raise ModelError("time and recovered must be one-dimensional arrays of one length")
    if not np.all(np.isfinite(time)) or np.any(time % 1 != 0):
        raise ModelError("times to recovery must be whole days")
    if np.any(time < 0) or np.any(time > horizon):
        raise ModelError(f"times to recovery must lie in 0..{horizon}")
    if not np.all(np.isin(recovered, (0.0, 1.0))):
        raise ModelError("recovered must be 0 or 1")
    if np.any((recovered == 1) & (time < 1)):
        raise ModelError("a recovery must happen on day 1 or later")
    return time, recovered


def person_period(time, recovered, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand (time, recovered) into person-period rows.

    Returns
    -------
    patient, day, event : numpy.ndarray
        One row per patient and day at risk: the patient's position, the day index (0 for
        day 1) and 1 on the recovery day (0 otherwise).

    Examples
    --------
    >>> from cit_bayes.bayes.recovery import person_period
    >>> patient, day, event = person_period([2, 0, 1], [1, 0, 0], horizon=14)
    >>> patient.tolist(), day.tolist(), event.tolist()
    ([0, 0, 2], [0, 1, 0], [0.0, 1.0, 0.0])
    """
    time, recovered = check_recovery_times(time, recovered, horizon)
    counts = time.astype(int)
    patient = np.repeat(np.arange(len(time)), counts)
    day = np.concatenate([np.arange(c) for c in counts]) if counts.sum() else np.zeros(0, int)
    event = ((day + 1) == counts[patient]) & (recovered[patient] == 1)
    return patient.astype("int64"), day.astype("int64"), event.astype(float)


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
            log_hazard = _shared_shape(prior, day_std, basis, arms, pool_arms)  # (day, arm)
        else:
            log_hazard = _arm_shapes(prior, day_std, basis, centred)
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


def _shared_shape(prior, day_std, basis, arms, pool_arms):
    """Proportional hazards: one baseline shape, arm levels (independent or pooled)."""
    trend = pm.Normal("baseline_trend", 0.0, prior["trend_sd"])
    smooth_sd = pm.HalfNormal("baseline_smooth_sd", prior["smooth_sd"])
    smooth_z = pm.Normal("baseline_z", 0.0, 1.0, dims="component")
    day_shape = trend * day_std + smooth_sd * pt.dot(basis, smooth_z)
    if pool_arms:
        intercept = pm.Normal("baseline_intercept", prior["intercept_mean"], prior["intercept_sd"])
        arm_sd = pm.HalfNormal("arm_sd", prior["arm_sd"])
        arm_z = pm.Normal("arm_z", 0.0, 1.0, dims="arm_contrast")
        level = intercept + arm_sd * pt.dot(pt.as_tensor(zero_sum_basis(len(arms))), arm_z)
    else:
        level = pm.Normal("arm_level", prior["intercept_mean"], prior["intercept_sd"], dims="arm")
    return day_shape[:, None] + level[None, :]


def _arm_shapes(prior, day_std, basis, centred: bool = False):
    """Arm-specific baseline hazards: each arm its own level, trend and smooth part; only the
    smoothness (the SD of the departure from a straight line) is one parameter for all arms."""
    level = pm.Normal("arm_level", prior["intercept_mean"], prior["intercept_sd"], dims="arm")
    trend = pm.Normal("arm_trend", 0.0, prior["trend_sd"], dims="arm")
    smooth_sd = pm.HalfNormal("baseline_smooth_sd", prior["smooth_sd"])
    if centred:
        smooth = pm.Normal("arm_smooth", 0.0, smooth_sd, dims=("component", "arm"))
    else:
        smooth_z = pm.Normal("arm_z", 0.0, 1.0, dims=("component", "arm"))
        smooth = pm.Deterministic("arm_smooth", smooth_sd * smooth_z, dims=("component", "arm"))
    return level[None, :] + day_std[:, None] * trend[None, :] + pt.dot(basis, smooth)


#: Each arm's likelihood weights (as rescaled, patients at risk) must sum to at least this for
#: the centred smooth parts (module docstring: measured at 60 to 2,000 patients).
CENTRED_MIN_WEIGHT = 150.0


def smooth_centred(weights, arm_codes, n_arms: int) -> bool:
    """Whether every arm carries enough information for the centred smooth parts.

    Examples
    --------
    >>> smooth_centred(np.ones(400), np.repeat([0, 1], 200), 2)
    True
    >>> smooth_centred(np.ones(400), np.repeat([0, 1], [300, 100]), 2)
    False
    """
    totals = np.bincount(np.asarray(arm_codes), weights=np.asarray(weights), minlength=n_arms)
    return bool(np.all(totals >= CENTRED_MIN_WEIGHT))


def build_recovery_model(
    data: PatientData, horizon: int, prior: RecoveryPrior, centred: bool = False
) -> pm.Model:
    """The (cached) recovery model for data of this shape; its ``pm.Data`` are not set.

    The structure depends on the number of patients, the arms, the covariates, the horizon and
    the rank of the smooth baseline and ``pool_arms`` (the prior settings that are not data),
    and ``centred`` (the arms' smooth parts centred; :func:`smooth_centred`).

    Examples
    --------
    >>> data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    >>> model = build_recovery_model(data, horizon=14, prior=RecoveryPrior())
    >>> len(model.coords["day"]), model.coords["day"][:2], len(model.coords["component"])
    (14, ('day1', 'day2'), 6)
    """
    structure = (prior.rank, prior.pool_arms, prior.proportional_hazards, data.groups)
    centred = bool(centred) and not prior.proportional_hazards
    key = ("recovery", data.n, data.arms, data.covariates, horizon, *structure, centred)
    return cached_model(
        key,
        lambda: _build(data.n, data.arms, data.covariates, horizon, *structure, centred),
    )


def recovery_after(time, recovered, after=None) -> np.ndarray:
    """The last day each patient is known not to have recovered (checked), as int64.

    A recovery observed on day T happened in (L, T]: L = T - 1 when the count was recorded
    daily (the default when ``after`` is None), earlier when the day before T had no count
    (interval-censored, as when recovery is derived from sparse laboratory draws:
    :mod:`cit_bayes.cohort.labs`). A patient not recovered was followed to T: L = T.

    Examples
    --------
    >>> recovery_after([3, 14, 7], [1, 0, 1]).tolist()
    [2, 14, 6]
    >>> recovery_after([3, 14, 7], [1, 0, 1], [2, 14, 3]).tolist()  # the third in (3, 7]
    [2, 14, 3]
    """
    time = np.asarray(time, dtype=float)
    recovered = np.asarray(recovered, dtype=float)
    if after is None:
        return (time - recovered).astype("int64")
    after = np.asarray(after, dtype=float)
    if after.shape != time.shape:
        raise ModelError(f"recovery_after must have shape {time.shape}, got {after.shape}")
    if not np.all(np.isfinite(after)) or np.any(after % 1 != 0):
        raise ModelError("recovery_after must be whole days")
    event = recovered == 1
    if np.any(event & ((after < 0) | (after >= time))):
        raise ModelError("a recovery on day T needs a last day without it in 0..T-1")
    if np.any(~event & (after != time)):
        raise ModelError("a patient not recovered is known not recovered up to the censoring day")
    return after.astype("int64")


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
    centred = smooth_centred(values["weight"], data.arm_codes, data.n_arms)
    model = build_recovery_model(data, horizon, prior, centred)
    shapes = "centred" if centred and not prior.proportional_hazards else "non-centred"
    return ModelInputs(
        model,
        values,
        recovery_targets(values, list(model.coords["day"]), data.arms),
        {"smooth_parametrisation": shapes},
    )


def recovery_targets(values: Mapping[str, np.ndarray], days: Sequence[str], arms: Sequence[str]):
    """The g-computation of the recovery model on the stored draws (module docstring).

    Returns a function of the posterior (as :func:`~cit_bayes.bayes.sampling.sample` takes
    it) giving ``cumulative_recovery`` (dims ``day, arm``) and ``rmtr`` (dim ``arm``) from
    ``arm_log_hazard``, ``coefficient`` and ``group_effect``: :math:`S_a(t) = \\sum_i h_i
    \\exp(-e^{x_i^\\top\\beta + u_{g_i}} \\Lambda_{at}) / \\sum_i h_i`, over the distinct
    patients (:mod:`cit_bayes.bayes.gcomp`).

    Examples
    --------
    >>> import xarray as xr
    >>> hazard = np.log(np.full((1, 1, 3, 2), 0.5))
    >>> posterior = xr.Dataset(
    ...     {"arm_log_hazard": (("chain", "draw", "day", "arm"), hazard),
    ...      "coefficient": (("chain", "draw", "covariate"), np.zeros((1, 1, 0)))})
    >>> values = {"design": np.zeros((4, 0)), "target_tilt": np.ones(4)}
    >>> targets = recovery_targets(values, ["day1", "day2", "day3"], ["a", "b"])(posterior)
    >>> targets["cumulative_recovery"].values[0, 0, :, 0].round(4).tolist()  # 1 - exp(-t / 2)
    [0.3935, 0.6321, 0.7769]
    >>> float(targets["rmtr"].values[0, 0, 0].round(4))  # 1 + exp(-1/2) + exp(-1)
    1.9744
    """
    design, tilt, groups = distinct_patients(
        values["design"], values["target_tilt"], values.get("group_index")
    )
    coords = {"day": list(days), "arm": list(arms)}

    def derived(posterior):
        linear = linear_predictor(posterior, design, groups)  # linear(draws): (draws, m)
        log_hazard = draws_matrix(posterior, "arm_log_hazard")  # (S, day, arm)
        n_draws, n_days, n_arms = log_hazard.shape
        cumulative = np.cumsum(np.exp(log_hazard), axis=1).reshape(n_draws, -1)
        survival = average_over_patients(
            lambda s: np.exp(-np.exp(linear(s))[:, :, None] * cumulative[s, None, :]),
            n_draws, len(tilt), n_days * n_arms, tilt,
        ).reshape(n_draws, n_days, n_arms)  # fmt: skip
        return {
            "cumulative_recovery": as_posterior(1.0 - survival, posterior, ("day", "arm"), coords),
            "rmtr": as_posterior(
                1.0 + survival[:, :-1, :].sum(axis=1), posterior, ("arm",), {"arm": coords["arm"]}
            ),
        }

    return derived
