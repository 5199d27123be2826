"""The trajectory model's priors: their settings, and the terms they put in the PyMC model.

:class:`TrajectoryPrior` holds the settings (those in :data:`PRIOR_NAMES` are ``pm.Data`` of the
model, the others fix its structure); inside the model's context, :func:`residual_correlation`
adds the within-patient correlation under LKJ, :func:`arm_levels` the arm-by-day levels
(independent or partially pooled) and :func:`slope_deviations` the arm-specific slopes. The model
and the reasons for these choices: :mod:`cit_bayes.bayes.trajectory`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.correlation import correlation_cholesky, cpc_shapes
from cit_bayes.bayes.patient_base import SCALE, check_fixed_arm_sd, check_prior
from cit_bayes.bayes.patient_blocks import zero_sum_basis
from cit_bayes.config import setting

__all__ = [
    "PRIOR_NAMES",
    "TrajectoryPrior",
    "arm_levels",
    "residual_correlation",
    "slope_deviations",
]


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
        :func:`~cit_bayes.bayes.patient_blocks.group_intercept`).
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
        analysis; :mod:`~cit_bayes.bayes.trajectory`). It changes the model's structure, not only
        its data.
    arm_sd_fixed : bool
        Only with ``pool_arms``: the standardised between-arm SD :math:`\tau` is ``arm_sd``
        itself, not estimated (a sceptical prior on the differences between arms: two arms'
        levels of a day differ by N(0, 2 arm_sd^2) within-patient SDs a priori). It changes the
        model's structure.
    arm_slopes : bool
        False (default): one slope per covariate and per day's baseline for all arms. True:
        each arm its own (a sensitivity analysis, not the primary:
        :mod:`~cit_bayes.bayes.trajectory`, "Arm-specific slopes"). It changes the model's
        structure; optional in a plan.

    Examples
    --------
    >>> from cit_bayes.bayes.trajectory_prior import TrajectoryPrior
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
PRIOR_NAMES = tuple(f.name for f in fields(TrajectoryPrior) if f.name not in _STRUCTURE)


def residual_correlation(eta, n_days: int, pairs: list[str]):
    """The Cholesky factor of R (nested lists of scalars) from its canonical partial
    correlations under LKJ(eta), and R's off-diagonal ``residual_correlation``.

    Examples
    --------
    One day has no pair: R is [[1]] and no variable is added. Three days (nothing compiled or
    sampled): three partial correlations, and a 3 x 3 lower-triangular factor whose first row
    is (1, 0, 0).

    >>> import pymc as pm
    >>> from cit_bayes.bayes.trajectory_prior import residual_correlation
    >>> residual_correlation(2.0, 1, [])
    [[1.0]]
    >>> pairs = ["day3-day7", "day3-day14", "day7-day14"]
    >>> with pm.Model(coords={"day_pair": pairs}) as model:
    ...     factor = residual_correlation(2.0, 3, pairs)
    >>> [v.name for v in model.free_RVs], [v.name for v in model.deterministics], factor[0]
    (['residual_cpc_unit'], ['residual_correlation'], [1.0, 0.0, 0.0])
    """
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


def arm_levels(prior, residual_sd, n_arms: int, pool_arms: bool, fixed: bool):
    """The arm-by-day levels θ (``arm_day_effect``): independent a priori, or partially
    pooled (``pool_arms``; the between-arm SD a constant when ``fixed``).

    Examples
    --------
    The variables each form adds to a model (nothing compiled or sampled):

    >>> import pymc as pm
    >>> from cit_bayes.bayes.trajectory_prior import arm_levels
    >>> prior = {"day_mean_center": 4.6, "day_mean_sd": 1.0, "arm_sd": 0.5}
    >>> coords = {"arm": ["a", "b"], "day": ["day3", "day7"], "arm_contrast": [0]}
    >>> for pool_arms, fixed in ((False, False), (True, False), (True, True)):
    ...     with pm.Model(coords=coords) as model:
    ...         residual_sd = pm.HalfNormal("residual_sd", 0.5, dims=("arm", "day"))
    ...         levels = arm_levels(prior, residual_sd, 2, pool_arms, fixed)
    ...     print([v.name for v in model.free_RVs if v is not residual_sd])
    ['arm_day_effect']
    ['day_mean', 'arm_sd', 'arm_z']
    ['day_mean', 'arm_z']
    """
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


def slope_deviations(n_arms: int, sd):
    """Each arm's deviations from the average covariate and baseline slopes (arm_slopes):
    :math:`\\xi_{\\cdot j} = s_\\xi H z_{\\cdot j}` (covariate j) and :math:`\\zeta_{\\cdot d} =
    s_\\xi H z'_{\\cdot d}` (day d), z standard normal, H the zero-sum basis, so the deviations of
    a slope sum to zero over the arms (the average slope is ``coefficient`` /
    ``baseline_slope`` alone: no ridge between it and the deviations) and two arms' slopes differ
    by N(0, 2 s_ξ^2) a priori. Non-centred with a fixed scale: no funnel.

    Examples
    --------
    Three arms, one covariate, two days (nothing compiled or sampled): two standardised
    contrasts per slope, expanded to one deviation per arm.

    >>> import pymc as pm
    >>> from cit_bayes.bayes.trajectory_prior import slope_deviations
    >>> coords = {"arm": ["a", "b", "c"], "arm_contrast": [0, 1], "covariate": ["age"],
    ...           "day": ["day3", "day7"]}
    >>> with pm.Model(coords=coords) as model:
    ...     deviation, baseline_deviation = slope_deviations(3, 0.25)
    >>> [v.name for v in model.free_RVs]
    ['coefficient_deviation_z', 'baseline_slope_deviation_z']
    >>> model.named_vars_to_dims["coefficient_deviation"]
    ('arm', 'covariate')
    """
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
