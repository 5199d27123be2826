"""Posterior predictive checks: a model that generated the data passes, a wrong one fails.

Reference values: data simulated from known parameters (numpy), and "posteriors" that are
those parameters repeated (the model is right) or shifted (the model is wrong). For the right
model the two-sided posterior predictive p-values are not small (the observed statistic is one
draw of the replicate distribution: with 4 x 2 statistics at most 2 below 0.05 is asserted,
which fails with probability below 0.01 for a calibrated check); for a model whose hazard is
e^2 times too high, or whose mean log count is 0.5 too low, every arm's check fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cit_bayes.analyses.predictive import predictive_check

ARMS = ["a", "b", "c", "d"]
HORIZON = 14


def _recovery_case(shift: float):
    rng = np.random.default_rng(11)
    n = 400
    arm = np.repeat(np.arange(4), n // 4)
    log_hazard = (
        np.log(np.array([0.03, 0.06, 0.12, 0.08]))[None, :] + np.linspace(-0.5, 0.5, 14)[:, None]
    )  # (day, arm): hazards rising over the days
    hazard = -np.expm1(-np.exp(log_hazard[:, arm].T))  # (patient, day)
    event = rng.random(hazard.shape) < hazard
    first = np.where(event.any(axis=1), event.argmax(axis=1) + 1, HORIZON + 1)
    censor = np.where(rng.random(n) < 0.2, rng.integers(1, HORIZON + 1, n), HORIZON)
    recovered = (first <= censor).astype(float)
    time = np.where(recovered == 1, first, censor)
    draws = np.broadcast_to(log_hazard + shift, (2, 200, HORIZON, 4)).copy()
    posterior = xr.Dataset(
        {
            "arm_log_hazard": (("chain", "draw", "day", "arm"), draws),
            "coefficient": (("chain", "draw", "covariate"), np.zeros((2, 200, 0))),
        },
        coords={"arm": ARMS, "day": [f"day{t}" for t in range(1, HORIZON + 1)]},
    )
    data = xr.Dataset(
        {
            "arm_index": ("patient", arm),
            "design": (("patient", "covariate"), np.zeros((n, 0))),
            "time_to_recovery": ("patient", time.astype(int)),
            "recovered": ("patient", recovered),
        }
    )
    return xr.DataTree.from_dict({"posterior": posterior, "constant_data": data})


def _plt_case(shift: float):
    rng = np.random.default_rng(12)
    n, days = 400, ["day3", "day7", "day14"]
    arm = np.repeat(np.arange(4), n // 4)
    theta = np.log([[40, 60, 90], [45, 80, 120], [50, 110, 160], [40, 55, 85]])  # (arm, day)
    sd = np.array([0.4, 0.5, 0.6])
    correlation = np.array([[1.0, 0.8, 0.4], [0.8, 1.0, 0.6], [0.4, 0.6, 1.0]])
    covariance = correlation * sd[:, None] * sd[None, :]
    log_plt = theta[arm] + rng.multivariate_normal(np.zeros(3), covariance, n)
    observed = rng.random((n, 3)) > 0.1
    pairs = np.array([0.8, 0.4, 0.6])  # (1,0), (2,0), (2,1)
    shape = (2, 200)
    posterior = xr.Dataset(
        {
            "arm_day_effect": (
                ("chain", "draw", "arm", "day"),
                np.broadcast_to(theta + shift, (*shape, 4, 3)).copy(),
            ),
            "baseline_slope": (("chain", "draw", "day"), np.zeros((*shape, 3))),
            "coefficient": (("chain", "draw", "covariate"), np.zeros((*shape, 0))),
            "residual_sd": (
                ("chain", "draw", "arm", "day"),
                np.broadcast_to(sd, (*shape, 4, 3)).copy(),
            ),
            "residual_correlation": (
                ("chain", "draw", "day_pair"),
                np.broadcast_to(pairs, (*shape, 3)).copy(),
            ),
        },
        coords={"arm": ARMS, "day": days},
    )
    data = xr.Dataset(
        {
            "arm_index": ("patient", arm),
            "design": (("patient", "covariate"), np.zeros((n, 0))),
            "log_baseline_centred": ("patient", np.zeros(n)),
            "log_plt": (("patient", "day"), np.where(observed, log_plt, 0.0)),
            "observed": (("patient", "day"), observed.astype(float)),
        }
    )
    return xr.DataTree.from_dict({"posterior": posterior, "constant_data": data})


@pytest.mark.parametrize(("endpoint", "case", "wrong"), [
    ("recovery", _recovery_case, 2.0), ("plt", _plt_case, -0.5),
])  # fmt: skip
def test_the_true_model_passes_and_a_wrong_one_fails(endpoint, case, wrong):
    fragment, table = predictive_check(endpoint, case(0.0), seed=3)
    p_values = table["p_value"].to_numpy()
    assert fragment["passed"], fragment["failures"]
    assert np.sum(p_values < 0.05) <= 2, table
    assert set(table["arm"]) == set(ARMS)
    bad, _ = predictive_check(endpoint, case(wrong), seed=3)
    assert not bad["passed"]
    last = "day14"
    assert {f"{last} {arm}" for arm in ARMS} <= set(bad["failures"])


def test_observed_values_are_the_data_summaries():
    idata = _recovery_case(0.0)
    fragment, _ = predictive_check("recovery", idata, seed=1)
    data = idata["constant_data"]
    arm, time = data["arm_index"].values, data["time_to_recovery"].values
    recovered = data["recovered"].values
    for j, name in enumerate(ARMS):
        rows = arm == j
        expected = np.mean((recovered[rows] == 1) & (time[rows] <= 7))
        assert fragment["values"]["day7"][name]["observed"] == pytest.approx(expected)
    assert predictive_check("safety", idata, seed=1) == (None, None)
