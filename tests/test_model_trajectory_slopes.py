"""Arm-specific slopes in the trajectory model, against a simulation with a known truth.

The model does what it says (it is a sensitivity analysis, not the primary: on the simulator's
scenarios it did not remove the PLT model's bias, data/calibration/arm-slopes/README.md). When a
covariate changes platelet counts by a different factor under each regimen, one slope for all
arms predicts each arm's counts with the other arms' slope for the patients that arm rarely
treats, and the g-computed means are biased where the arms' covariates differ. Here two arms,
one confounder (x raises the chance of arm B), slopes -0.2 in A and 0.7 in B on the log scale,
and a known target: the average over the cohort's own patients of each arm's log-normal mean, so
the truth is exact for this cohort, not a population value. The common-slope model's 95 %
interval of arm A's mean misses it; the arm-slopes model's intervals cover every arm's means and
the difference, and its slope deviations are found. Both fits are real (NUTS), and both pass the
gates.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.bayes.trajectory import fit_trajectory_model
from cit_bayes.bayes.trajectory_prior import TrajectoryPrior

SLOPE = np.array([-0.2, 0.7])  # the covariate's slope in arms A and B (log scale)
LEVEL = np.array([[4.2, 4.6], [4.5, 5.0]])  # arm x day
SD, BASELINE_SLOPE = 0.3, 0.4


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(11)
    n = 400
    x = rng.normal(size=n)
    arm = (rng.random(n) < expit(1.5 * x)).astype(int)
    day0 = np.exp(rng.normal(3.9, 0.3, n))
    b = np.log(day0) - np.log(day0).mean()
    noise = rng.normal(size=(n, 2)) @ np.linalg.cholesky([[1.0, 0.5], [0.5, 1.0]]).T
    fixed = (SLOPE[arm] * x)[:, None] + BASELINE_SLOPE * b[:, None]
    counts = np.exp(LEVEL[arm] + fixed + SD * noise)
    truth = np.array(
        [
            [np.mean(np.exp(LEVEL[a, d] + SLOPE[a] * x + BASELINE_SLOPE * b + SD**2 / 2))
             for a in range(2)]
            for d in range(2)
        ]
    )  # (day, arm)  # fmt: skip
    data = PatientData(("A", "B"), arm, x[:, None], ("x",), np.ones(n), np.ones(n))
    return data, day0, counts, truth


def _fit(cohort, arm_slopes: bool):
    data, day0, counts, _ = cohort
    return fit_trajectory_model(
        day0, counts, data, days=("day3", "day7"), seed=3,
        prior=TrajectoryPrior(arm_slopes=arm_slopes),
        settings=SamplerSettings(chains=2, draws=1000, tune=700),
    )  # fmt: skip


def _interval(values: np.ndarray) -> np.ndarray:
    return np.quantile(values, [0.025, 0.975], axis=0)


def test_arm_slopes_recover_the_truth_where_one_slope_does_not(cohort):
    truth = cohort[3]
    common, by_arm = _fit(cohort, False), _fit(cohort, True)
    assert common.passed and by_arm.passed

    low, high = _interval(common.draws["mean"].values.reshape(-1, 2, 2))  # (day, arm)
    # one slope (about the arms' average) predicts arm A too high for B's high-x patients
    assert np.all(low[:, 0] > truth[:, 0])

    mean = by_arm.draws["mean"].values.reshape(-1, 2, 2)
    low, high = _interval(mean)
    assert np.all((low < truth) & (truth < high))
    low, high = _interval(mean[:, :, 1] - mean[:, :, 0])
    difference = truth[:, 1] - truth[:, 0]
    assert np.all((low < difference) & (difference < high))

    # the deviations from the average slope: -0.45 in A, +0.45 in B
    deviation = by_arm.idata["posterior"]["coefficient_deviation"]
    estimate = deviation.mean(("chain", "draw")).values[:, 0]
    spread = deviation.std(("chain", "draw")).values[:, 0]
    expected = SLOPE - SLOPE.mean()
    assert np.all(np.abs(estimate - expected) < 3 * spread)


def test_the_robustness_variant_changes_the_plt_model_alone(tmp_path):
    from cit_bayes._paths import models_dir
    from cit_bayes.analyses.robustness import VARIANT_ENDPOINTS, _variant_priors
    from cit_bayes.plan import load_plan
    from cit_bayes.report.model_equations import PRIOR_SYMBOLS

    text = (models_dir() / "default.toml").read_text()
    assert load_plan().priors["plt"].arm_slopes is False  # one slope per covariate: the primary
    listed = '  "no Kish rescaling",\n'
    assert text.count(listed) == 1
    (tmp_path / "plan.toml").write_text(text.replace(listed, listed + '  "arm-specific slopes",\n'))
    plan = load_plan(tmp_path / "plan.toml")
    assert "arm-specific slopes" in plan.robustness
    assert plan.priors["plt"].slope_deviation_sd == pytest.approx(0.25)
    priors = _variant_priors("arm-specific slopes", plan)
    assert priors["plt"].arm_slopes is True
    assert priors["response"] == plan.priors["response"]
    assert priors["recovery"] == plan.priors["recovery"]
    assert VARIANT_ENDPOINTS["arm-specific slopes"] == ("plt",)
    # the supplement's prior table names every field of the prior, the new ones included
    assert {"arm_slopes", "slope_deviation_sd"} <= set(PRIOR_SYMBOLS["plt"])


def test_the_supplement_states_the_arm_slopes_model_only_when_the_plan_sets_it():
    import dataclasses
    from types import SimpleNamespace

    from cit_bayes.plan import load_plan
    from cit_bayes.report.model_equations import ARM_SLOPES_EQUATION
    from cit_bayes.report.supplement_models import model_blocks

    plan = load_plan()
    results = {"meta": {"plan": {}}, "plt": {"adjusted": {"mean": {"day7": {}, "day14": {}}}}}

    def blocks(priors):
        ctx = SimpleNamespace(
            results=results, primary="adjusted", plan=SimpleNamespace(priors=priors)
        )
        return model_blocks(ctx)

    assert ARM_SLOPES_EQUATION not in blocks(plan.priors)
    sloped = dict(plan.priors, plt=dataclasses.replace(plan.priors["plt"], arm_slopes=True))
    stated = blocks(sloped)
    assert ARM_SLOPES_EQUATION in stated
    # after the trajectory model's own equations, before its prior table
    assert stated.index(ARM_SLOPES_EQUATION) == len(stated) - 2


def _arm_slopes_case(with_deviations: bool):
    """Counts from arm-specific slopes (covariate slopes +-0.8 around an average of 0, baseline
    slopes 0.4 +- 0.3) and a "posterior" of the true values, with or without the deviations."""
    import xarray as xr

    rng = np.random.default_rng(5)
    n, arms, days = 400, ["a", "b", "c", "d"], ["day3", "day7", "day14"]
    arm = np.repeat(np.arange(4), n // 4)
    x, b = rng.normal(size=n), rng.normal(0.0, 0.5, n)
    theta = np.log([[40, 60, 90], [45, 80, 120], [50, 110, 160], [40, 55, 85]])  # (arm, day)
    deviation = np.array([[0.8], [-0.8], [0.8], [-0.8]])  # (arm, covariate): sums to 0
    day_deviation = np.repeat([[0.3], [-0.3], [0.3], [-0.3]], 3, axis=1)  # (arm, day)
    sd = 0.4
    mu = theta[arm] + (deviation[arm, 0] * x)[:, None] + b[:, None] * (0.4 + day_deviation[arm])
    log_plt = mu + sd * rng.standard_normal((n, 3))
    shape = (2, 200)

    def repeated(value, dims):
        value = np.asarray(value, dtype=float)
        return (("chain", "draw", *dims), np.broadcast_to(value, (*shape, *value.shape)).copy())

    variables = {
        "arm_day_effect": repeated(theta, ("arm", "day")),
        "baseline_slope": repeated(np.full(3, 0.4), ("day",)),
        "coefficient": repeated(np.zeros(1), ("covariate",)),
        "residual_sd": repeated(np.full((4, 3), sd), ("arm", "day")),
        "residual_correlation": repeated(np.zeros(3), ("day_pair",)),
    }
    if with_deviations:
        variables["coefficient_deviation"] = repeated(deviation, ("arm", "covariate"))
        variables["baseline_slope_deviation"] = repeated(day_deviation, ("arm", "day"))
    posterior = xr.Dataset(variables, coords={"arm": arms, "day": days})
    data = xr.Dataset(
        {
            "arm_index": ("patient", arm),
            "design": (("patient", "covariate"), x[:, None]),
            "log_baseline_centred": ("patient", b),
            "log_plt": (("patient", "day"), log_plt),
            "observed": (("patient", "day"), np.ones((n, 3))),
        }
    )
    return xr.DataTree.from_dict({"posterior": posterior, "constant_data": data})


def test_the_predictive_check_replicates_each_arms_slopes():
    from cit_bayes.analyses.predictive import predictive_check

    # the model that generated the counts (its arms' own slopes) passes ...
    fragment, table = predictive_check("plt", _arm_slopes_case(True), seed=3)
    assert fragment["passed"], fragment["failures"]
    assert np.sum(table["p_value"].to_numpy() < 0.05) <= 2, table
    # ... and the same values with one slope for all arms (the deviations dropped) fail: every
    # arm's slope is 0.8 away from the average, so its mean count is e^(0.8^2 / 2) = 1.38 times
    # what one slope predicts
    wrong, _ = predictive_check("plt", _arm_slopes_case(False), seed=3)
    assert not wrong["passed"]
    assert {f"day14 {arm}" for arm in "abcd"} <= set(wrong["failures"])


def test_the_sbc_simulator_adds_each_arms_slope_deviations():
    from cit_bayes.bayes.sbc import simulate_outcomes

    rng = np.random.default_rng(2)
    n = 30
    values = {
        "arm_index": np.arange(n) % 3,
        "design": rng.normal(size=(n, 2)),
        "log_baseline_centred": rng.normal(0.0, 0.4, n),
    }
    parameters = {
        "arm_day_effect": np.log([[40.0, 80.0], [50.0, 90.0], [45.0, 70.0]]),
        "baseline_slope": np.array([0.5, 0.3]),
        "coefficient": np.array([0.2, -0.1]),
        "residual_sd": np.full((3, 2), 0.4),
        "residual_correlation": np.array([0.5]),
    }
    deviation = np.array([[0.3, -0.2], [-0.1, 0.4], [-0.2, -0.2]])  # (arm, covariate)
    day_deviation = np.array([[0.1, -0.2], [0.0, 0.3], [-0.1, -0.1]])  # (arm, day)
    sloped = parameters | {
        "coefficient_deviation": deviation,
        "baseline_slope_deviation": day_deviation,
    }
    common = simulate_outcomes("plt", parameters, values, np.random.default_rng(7))["plt"]
    by_arm = simulate_outcomes("plt", sloped, values, np.random.default_rng(7))["plt"]
    arm = values["arm_index"]
    # the same noise: the log counts differ by exactly x_i' xi_a + zeta_ad b_i
    expected = np.sum(values["design"] * deviation[arm], axis=1)[:, None]
    expected = expected + day_deviation[arm] * values["log_baseline_centred"][:, None]
    np.testing.assert_allclose(np.log(by_arm) - np.log(common), expected, atol=1e-10)
