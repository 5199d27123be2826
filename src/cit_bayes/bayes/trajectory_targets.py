"""The trajectory model on its stored draws: the targets' g-computation, after sampling.

The model and its symbols: :mod:`cit_bayes.bayes.trajectory`. Beside the targets,
:func:`slope_deviation_terms` gives what arm-specific slopes add to each patient's log-count
mean on draws (for the predictive checks and the SBC simulator).

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cit_bayes.bayes.gcomp import (
    as_posterior,
    average_over_patients,
    distinct_patients,
    draws_matrix,
    linear_predictor,
)

__all__ = ["slope_deviation_terms", "trajectory_targets"]


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
