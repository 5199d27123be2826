"""Recovery's results fragments: marginal differences and the check of proportional hazards.

Reference values by hand: draws built so that arm A's share recovered by day 7 exceeds B's by
exactly 0.2 in every draw, and A's log hazard exceeds B's by 1 in the first half of the days
and by 0 in the second (a hazard ratio of e in the first week and 1 in the second: the change
is e, and the day-averaged hazard ratio e^(1/2)).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cit_bayes.analyses.fragments import ContrastSpec
from cit_bayes.analyses.recovery_fragments import (
    frequentist_recovery_fragment,
    recovery_fragment,
    recovery_population,
)

SPEC = ContrastSpec(("A", "B"), (("A", "B"),), "A", faster_by_days=(1.0,))
DAYS = [f"day{t}" for t in range(1, 15)]


def _draws():
    rng = np.random.default_rng(0)
    base = np.linspace(0.05, 0.7, 14)[None, None, :, None] + rng.normal(0, 0.01, (2, 100, 1, 1))
    cumulative = np.concatenate([base + 0.2, base], axis=3)  # A = B + 0.2 on every day
    log_hazard = np.full((2, 100, 14, 2), -2.0)
    log_hazard[:, :, :7, 0] += 1.0  # A: e times B's hazard in the first week only
    arm_effect = log_hazard.mean(axis=2) - log_hazard.mean(axis=(2, 3))[..., None]
    coords = {"arm": ["A", "B"], "day": DAYS}
    return (
        xr.DataArray(cumulative, coords, ("chain", "draw", "day", "arm")),
        xr.DataArray(
            14 - 10 * cumulative.mean(axis=2), {"arm": ["A", "B"]}, ("chain", "draw", "arm")
        ),
        xr.DataArray(arm_effect, {"arm": ["A", "B"]}, ("chain", "draw", "arm")),
        xr.DataArray(log_hazard, coords, ("chain", "draw", "day", "arm")),
    )


def test_marginal_differences_and_the_proportionality_check():
    cumulative, rmtr, effect, log_hazard = _draws()
    fragment, tables = recovery_fragment(
        cumulative, rmtr, effect, SPEC, reference="B", horizon=14, arm_log_hazard=log_hazard
    )
    for day in ("day7", "day14"):
        assert fragment["recovered_difference"][day]["A-B"]["mean"] == pytest.approx(0.2)
    change = fragment["hazard_ratio_change"]["A/B"]
    assert change["median"] == pytest.approx(math.e) and change["prob_greater_than_1"] == 1.0
    assert fragment["hazard_ratio"]["A/B"]["median"] == pytest.approx(math.exp(0.5))
    assert "day-averaged" in fragment["hazard_ratio_estimand"]
    assert "treatment policy" in fragment["intercurrent_events"]
    assert "hypothetical strategy for death" in fragment["intercurrent_events"]
    assert fragment["population"].startswith("all patients of the cohort")  # the default: ATE
    assert set(tables["recovered_difference"]["day"]) == {7, 14}


def test_the_population_is_the_estimands_and_says_who_was_left_out():
    cumulative, rmtr, effect, _ = _draws()
    population = recovery_population("ato", 14, 3)
    fragment, _ = recovery_fragment(
        cumulative, rmtr, effect, SPEC, reference="B", horizon=14, population=population
    )
    assert fragment["population"] == population
    assert population.startswith("the overlap population")
    assert population.endswith(
        "3 patient(s) without a recovery time left out of the fit and of the standardisation"
    )
    assert recovery_population(None, 14).startswith("each arm's own patients")
    assert "left out" not in recovery_population("att", 14)
    with pytest.raises(KeyError):
        recovery_population("itt", 14)


def test_kaplan_meier_differences_are_wald_with_independent_arms():
    km = pd.DataFrame(
        {"arm": ["A", "B"] * 2, "day": [7, 7, 14, 14],
         "cumulative_recovery": [0.6, 0.4, 0.9, 0.7], "se": [0.06, 0.08, 0.03, 0.04],
         "ci_low": 0.0, "ci_high": 1.0}
    )  # fmt: skip
    cox = pd.DataFrame([dict(key="A/B", hazard_ratio=2, ci_low=1, ci_high=4, p_value=0.04)])
    fragment = frequentist_recovery_fragment(km, pd.DataFrame(), cox, [("A", "B")], 0.95)
    day7 = fragment["recovered_difference"]["day7"]["A-B"]
    half = 1.959963984540054 * 0.1  # sqrt(0.06^2 + 0.08^2) = 0.1
    assert day7["estimate"] == pytest.approx(0.2)
    assert (day7["ci_low"], day7["ci_high"]) == pytest.approx((0.2 - half, 0.2 + half))
    assert "marginal" in fragment["hazard_ratio_estimand"]
