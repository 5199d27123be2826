"""Baseline PLT as a confounder: adjusting for log_plt_day0 recovers the truth, leaving it out does not.

Reference values: the simulator's ``baseline-confounding`` scenario (``models/scenarios/``), in
which the combination goes mostly to patients with a low baseline count and rhIL-11 to those
with a high one, and recovery to 100 x 10^9/L depends on the baseline. The truth is the share of
each arm's potential outcomes recovered by day 7 over the simulated patients
(``sim.truth["recovery_curve"][arm][6]``: marginal, ATE-type).

What is checked is interval coverage over six cohorts of 1000 patients (seeds 0-5), for the
contrast the scenario confounds most (rhIL-11 - combination): the 95 % sandwich interval of the
weighted difference with ``log_plt_day0`` among the covariates covers the truth in at least 4 of
6 cohorts (measured when the test was written: 5 of 6, largest |z| 2.5), while without it, and
unweighted, it covers in at most 1 (measured: 0 of 6 and 1 of 6; |z| of 3.0-4.8 without it).
With 6 cohorts a well-calibrated interval fails the first assertion with probability 0.002.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cit_bayes.cohort import validate_cohort
from cit_bayes.cohort.schema import BASELINE_COVARIATES
from cit_bayes.exceptions import BalanceWarning, PositivityWarning, WeightingWarning
from cit_bayes.simulate import simulate_cohort
from cit_bayes.weighting import PropensityWeighting, weighted_outcome

SEEDS = range(6)
ARM, COMPARATOR = "rhIL-11", "combination"


def _z_scores(seed: int) -> dict[str, float]:
    sim = simulate_cohort(1000, seed=seed, scenario="baseline-confounding")
    cohort = validate_cohort(sim.data)
    covariates, data = cohort.covariates(), cohort.data
    recovered_by_7 = ((data["recovered"] == 1) & (data["time_to_recovery"] <= 7)).to_numpy(float)
    curve = sim.truth["recovery_curve"]
    truth = curve[ARM][6] - curve[COMPARATOR][6]
    z = {}
    for label, names in (("with", list(covariates.columns)), ("without", BASELINE_COVARIATES)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (BalanceWarning, PositivityWarning, WeightingWarning))
            fitted = PropensityWeighting("ate", arms=cohort.arms).fit(
                covariates[list(names)], data["arm"]
            )
        table = weighted_outcome(fitted, recovered_by_7).set_index(["arm", "comparator"])
        sign, row = (
            (1.0, table.loc[(ARM, COMPARATOR)])
            if (ARM, COMPARATOR) in table.index
            else (
                -1.0,
                table.loc[(COMPARATOR, ARM)],
            )
        )
        z[label] = (sign * row["estimate"] - truth) / row["se_sandwich"]
        z["unweighted"] = (sign * row["unweighted_estimate"] - truth) / row["se_sandwich"]
    return z


@pytest.fixture(scope="module")
def z_scores():
    return [_z_scores(seed) for seed in SEEDS]


def test_log_baseline_is_a_plan_covariate_of_the_cohort():
    cohort = validate_cohort(simulate_cohort(50, seed=1, scenario="baseline-confounding").data)
    assert "log_plt_day0" in cohort.covariates().columns


def test_adjusting_for_log_baseline_covers_the_truth_leaving_it_out_does_not(z_scores):
    covered = {
        label: sum(abs(z[label]) < 1.96 for z in z_scores)
        for label in ("with", "without", "unweighted")
    }
    assert covered["with"] >= 4, z_scores
    assert covered["without"] <= 1, z_scores
    assert covered["unweighted"] <= 1, z_scores
    # the bias left without the baseline has the direction the scenario states
    assert np.median([z["without"] for z in z_scores]) > 2.0
