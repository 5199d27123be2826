"""The recovery model's baseline hazard over the days: the smooth basis, the shapes, their geometry.

:func:`smooth_basis` gives the standardised day and the scaled low-rank RW2 basis Z; inside the
model's context, :func:`shared_shape` adds one baseline shape shared by the arms (proportional
hazards) and :func:`arm_shapes` each arm's own, whose smooth parts are centred or not as
:func:`~cit_bayes.bayes.patient_blocks.arms_carry_weight` says. The model and its symbols:
:mod:`cit_bayes.bayes.recovery`.

The smooth parts are non-centred (:math:`u_a \\sim N(0, I_r)` scaled by sigma) when the arms
carry little information and centred (:math:`\\sigma u_a \\sim N(0, \\sigma^2 I_r)`, variable
``arm_smooth``) when every arm carries much
(:func:`~cit_bayes.bayes.patient_blocks.arms_carry_weight`: each arm's likelihood weights
over the patients at risk, as the analysis rescales them (Kish ESS by default, the arm's size
in the "no Kish rescaling" variant, counts unweighted), sum to at least
:data:`~cit_bayes.bayes.patient_blocks.CENTRED_MIN_WEIGHT`), the classic choice by the
strength of the data (Betancourt & Girolami 2015): the same model, another geometry.
Measured with the default plan (4 x 2000 draws; max R-hat, min bulk ESS): non-centred missed
the R-hat gate on a 1,000-patient baseline-confounding cohort (1.0120, ESS 1035; 1.0099 at
2,000 patients), where centred gave 1.0032, 1641 (2,000 patients: <= 1.0037, >= 1092); at 60 to
187 patients non-centred mixes better (bulk ESS 2161-3483 against 521-1976 centred; both pass).
``arm_smooth`` (sigma u_a) is in the posterior under both. Under proportional hazards the
same choice centres the shared shape's smooth part (``baseline_smooth``) and, with the arms
pooled, their levels (:func:`~cit_bayes.bayes.patient_blocks.pooled_levels`).

References
----------
Betancourt M, Girolami M. Hamiltonian Monte Carlo for hierarchical models. In: *Current Trends in
Bayesian Methodology with Applications*. CRC Press, 2015:79-101.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cit_bayes.bayes.patient_blocks import pooled_levels
from cit_bayes.exceptions import ModelError

__all__ = ["arm_shapes", "shared_shape", "smooth_basis"]


def smooth_basis(n_days: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardised day and the scaled low-rank RW2 basis (:mod:`~cit_bayes.bayes.recovery`).

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
    >>> from cit_bayes.bayes.recovery_baseline import smooth_basis
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


def shared_shape(prior, day_std, basis, arms, pool_arms, centred: bool = False):
    """Proportional hazards: one baseline shape, arm levels (independent or pooled).

    ``centred`` (:func:`~cit_bayes.bayes.patient_blocks.arms_carry_weight`): the shape's
    smooth part (``baseline_smooth``, in the posterior when centred; ``baseline_z`` scaled by
    the smooth SD when not) and the pooled arm levels
    (:func:`~cit_bayes.bayes.patient_blocks.pooled_levels`) centred.

    Examples
    --------
    Building the terms in a model (nothing compiled or sampled): pooled arm levels are a mean,
    an SD and one standardised contrast fewer than the arms.

    >>> import pymc as pm
    >>> from cit_bayes.bayes.recovery_baseline import shared_shape, smooth_basis
    >>> day, basis = smooth_basis(5, rank=2)
    >>> prior = {"trend_sd": 1.0, "smooth_sd": 1.0, "intercept_mean": -2.0,
    ...          "intercept_sd": 1.0, "arm_sd": 0.5}
    >>> coords = {"component": [0, 1], "arm": ["a", "b", "c"], "arm_contrast": [0, 1]}
    >>> with pm.Model(coords=coords) as model:
    ...     log_hazard = shared_shape(prior, day, basis, ["a", "b", "c"], pool_arms=True)
    >>> [variable.name for variable in model.free_RVs], log_hazard.type.shape  # (day, arm)
    (['baseline_trend', 'baseline_smooth_sd', 'baseline_z', 'baseline_intercept', 'arm_sd', 'arm_z'], (5, 3))
    """
    trend = pm.Normal("baseline_trend", 0.0, prior["trend_sd"])
    smooth_sd = pm.HalfNormal("baseline_smooth_sd", prior["smooth_sd"])
    if centred:
        smooth_part = pt.dot(basis, pm.Normal("baseline_smooth", 0.0, smooth_sd, dims="component"))
    else:
        # the graph the non-centred fits always had (no Deterministic, the same order of
        # operations): their posterior, gated variables and draws stay as they were
        smooth_part = smooth_sd * pt.dot(basis, pm.Normal("baseline_z", 0.0, 1.0, dims="component"))
    day_shape = trend * day_std + smooth_part
    if pool_arms:
        intercept = pm.Normal("baseline_intercept", prior["intercept_mean"], prior["intercept_sd"])
        arm_sd = pm.HalfNormal("arm_sd", prior["arm_sd"])
        level = pooled_levels(intercept, arm_sd, len(arms), centred)
    else:
        level = pm.Normal("arm_level", prior["intercept_mean"], prior["intercept_sd"], dims="arm")
    return day_shape[:, None] + level[None, :]


def arm_shapes(prior, day_std, basis, centred: bool = False):
    """Arm-specific baseline hazards: each arm its own level, trend and smooth part; only the
    smoothness (the SD of the departure from a straight line) is one parameter for all arms.

    Examples
    --------
    The same terms in either geometry (nothing compiled or sampled): ``arm_smooth`` is a free
    variable when centred, a deterministic of ``arm_z`` when not.

    >>> import pymc as pm
    >>> from cit_bayes.bayes.recovery_baseline import arm_shapes, smooth_basis
    >>> day, basis = smooth_basis(5, rank=2)
    >>> prior = {"trend_sd": 1.0, "smooth_sd": 1.0, "intercept_mean": -2.0, "intercept_sd": 1.0}
    >>> for centred in (False, True):
    ...     with pm.Model(coords={"component": [0, 1], "arm": ["a", "b"]}) as model:
    ...         log_hazard = arm_shapes(prior, day, basis, centred=centred)
    ...     print([v.name for v in model.free_RVs], [v.name for v in model.deterministics])
    ['arm_level', 'arm_trend', 'baseline_smooth_sd', 'arm_z'] ['arm_smooth']
    ['arm_level', 'arm_trend', 'baseline_smooth_sd', 'arm_smooth'] []
    """
    level = pm.Normal("arm_level", prior["intercept_mean"], prior["intercept_sd"], dims="arm")
    trend = pm.Normal("arm_trend", 0.0, prior["trend_sd"], dims="arm")
    smooth_sd = pm.HalfNormal("baseline_smooth_sd", prior["smooth_sd"])
    if centred:
        smooth = pm.Normal("arm_smooth", 0.0, smooth_sd, dims=("component", "arm"))
    else:
        smooth_z = pm.Normal("arm_z", 0.0, 1.0, dims=("component", "arm"))
        smooth = pm.Deterministic("arm_smooth", smooth_sd * smooth_z, dims=("component", "arm"))
    return level[None, :] + day_std[:, None] * trend[None, :] + pt.dot(basis, smooth)
