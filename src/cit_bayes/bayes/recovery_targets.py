"""The recovery model's targets: the g-computation on the stored draws, after sampling.

The model and its symbols: :mod:`cit_bayes.bayes.recovery`.

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
Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard ratio for
the design and analysis of randomized trials with a time-to-event outcome. *BMC Med Res
Methodol* 2013;13:152.
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

__all__ = ["recovery_targets"]


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
