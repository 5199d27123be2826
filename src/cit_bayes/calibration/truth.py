"""The true marginal quantities of a simulated cohort, for the estimand an analysis targets.

The simulator keeps every patient's potential outcomes under every arm and the true assignment
probabilities (:class:`cit_bayes.simulate.SimulatedCohort`), so the truth of each estimand is a
weighted mean over the simulated patients of their potential outcomes (a sample estimand):

* ``ate``: every patient weight 1 (the cohort as it is);
* ``ato``: the overlap weight :math:`h(x) = 1 / \\sum_k 1 / e_k(x)` of the true propensities
  (Li & Li 2019, the multi-arm generalisation of Li, Morgan & Zaslavsky 2018);
* ``att``: the patients who received the target arm, weight 1 (the sample ATT).

ATE and ATO use the weighting layer's own tilting function
(:func:`cit_bayes.weighting.cohort_weights.tilt`) on the true propensities.

The same truth judges every analysis of a replicate (an unadjusted analysis is judged against
the primary estimand's truth, which is what makes its confounding bias visible).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cit_bayes.exceptions import PlanError
from cit_bayes.weighting.cohort_weights import tilt

__all__ = ["estimand_weights", "estimand_truth"]


def estimand_weights(sim, estimand: str, att_arm: str | None = None) -> np.ndarray:
    """Per-patient weights (in ``sim.data`` order) that define the estimand's population.

    Examples
    --------
    >>> from cit_bayes.simulate import simulate_cohort
    >>> sim = simulate_cohort(40, seed=1)
    >>> estimand_weights(sim, "ate").sum()
    np.float64(40.0)
    >>> bool((estimand_weights(sim, "ato") > 0).all())
    True
    >>> int(estimand_weights(sim, "att", "rhTPO").sum()) == int((sim.data["arm"] == "rhTPO").sum())
    True
    """
    if estimand == "att":
        if att_arm is None:
            raise PlanError("the ATT's truth needs its target arm")
        return (sim.data["arm"] == att_arm).to_numpy(dtype=float)
    if estimand not in ("ate", "ato"):
        raise PlanError(f"no truth for estimand {estimand!r}; expected ate, ato or att")
    return tilt(estimand, sim.propensity.loc[sim.data["patient_id"]])


def estimand_truth(
    sim,
    estimand: str,
    *,
    att_arm: str | None = None,
    days: tuple[str, ...] = ("day14",),
    horizon: int = 14,
) -> dict:
    """The true per-arm quantities the analyses estimate, over the estimand's population.

    Returns
    -------
    dict
        ``response`` (arm -> response rate), ``plt`` (day -> arm -> mean count),
        ``recovery`` (arm -> share recovered by ``horizon`` days).

    Examples
    --------
    For the ATE the truth is the simulator's own ``truth.json``:

    >>> from cit_bayes.simulate import simulate_cohort
    >>> sim = simulate_cohort(40, seed=1)
    >>> truth = estimand_truth(sim, "ate")
    >>> truth["response"] == sim.truth["response_rate"]
    True
    >>> truth["recovery"]["rhTPO"] == sim.truth["recovery_curve"]["rhTPO"][13]
    True
    """
    weights = pd.Series(
        estimand_weights(sim, estimand, att_arm), index=sim.data["patient_id"].to_numpy()
    )
    if weights.sum() <= 0:
        raise PlanError(f"the {estimand} population of this simulated cohort is empty")
    outcomes = sim.potential_outcomes
    arms = list(sim.propensity.columns)

    def mean(values: pd.Series, arm: str) -> float:
        rows = outcomes["arm"] == arm
        w = weights.loc[outcomes.loc[rows, "patient_id"]].to_numpy()
        return float(np.sum(w * values[rows].to_numpy(dtype=float)) / w.sum())

    recovered = (outcomes["recovered"] == 1) & (outcomes["time_to_recovery"] <= horizon)
    return {
        "response": {arm: mean(outcomes["response"], arm) for arm in arms},
        "plt": {day: {arm: mean(outcomes[f"plt_{day}"], arm) for arm in arms} for day in days},
        "recovery": {arm: mean(recovered, arm) for arm in arms},
    }
