"""The known-truth simulator.

Reference values and where they come from:

* the truth is checked against an independent large-sample Monte Carlo estimate: the Hajek
  inverse-probability-weighted mean of the *observed* outcomes with the true propensities
  (n = 60 000), which is consistent for the marginal mean of each arm's potential outcome; the
  tolerance is 4 Monte Carlo standard errors (influence-function SE), and at most 0.02 for rates;
* the multinomial logit is recomputed by hand from the scenario TOML and the design matrix;
* the ``paper-like`` truth is compared with the paper's Table 2 (response) and Table 4 (day-14
  mean) through ``cit_bayes.paper.load_tables``, with tolerances 0.03 and 10 x10^9/L;
* ``null`` has identical potential outcomes in every arm (common random numbers), so every true
  difference is exactly 0;
* under ``strong-confounding`` the unadjusted difference in response (combination - rhTPO) is off
  the true difference by at least 0.15 (measured about 0.29 at n = 20 000, where its standard
  error is about 0.01), while the IPW estimate with the true propensities is within 0.03.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pandas as pd
import pytest

from cit_bayes.cohort import ARMS, validate_cohort
from cit_bayes.cohort.schema import INPUT_COLUMNS
from cit_bayes.exceptions import CohortError, PlanError
from cit_bayes.paper import load_tables
from cit_bayes.simulate import (
    FEATURES,
    SimulatedCohort,
    design_matrix,
    list_scenarios,
    load_scenario,
    scenarios_dir,
    simulate_cohort,
    write_simulated,
)

SCENARIOS = ("null", "paper-like", "strong-confounding", "heterogeneous")


@pytest.fixture(scope="module")
def large() -> tuple[SimulatedCohort, pd.DataFrame]:
    sim = simulate_cohort(60_000, seed=20250101, scenario="paper-like")
    return sim, validate_cohort(sim.data).data


def hajek(observed: pd.DataFrame, propensity: pd.DataFrame, arm: str, values: np.ndarray):
    """IPW (Hajek) mean of ``values`` in ``arm`` and its influence-function standard error."""
    e = propensity.loc[observed["patient_id"], arm].to_numpy()
    treated = (observed["arm"] == arm).to_numpy()
    weights = treated / e
    mean = float((weights * values).sum() / weights.sum())
    influence = weights * (values - mean) / weights.mean()
    return mean, float(influence.std(ddof=1) / np.sqrt(len(values)))


def test_bundled_scenarios():
    assert set(SCENARIOS) <= set(list_scenarios())
    for name in SCENARIOS:
        assert load_scenario(name).name == name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simulated_data_pass_validation_in_the_input_schema(scenario):
    sim = simulate_cohort(187, seed=11, scenario=scenario)
    assert set(sim.data.columns) <= set(INPUT_COLUMNS)
    assert "response" not in sim.data.columns  # derived by the cohort layer, never written
    cohort = validate_cohort(sim.data, source="simulated")
    assert cohort.synthetic is True
    assert cohort.n == 187 and cohort.dropped.empty
    assert sim.truth["scenario"] == scenario and sim.truth["n"] == 187 and sim.truth["seed"] == 11


def test_same_seed_same_cohort_and_truth():
    first = simulate_cohort(300, seed=7)
    second = simulate_cohort(300, seed=7)
    pd.testing.assert_frame_equal(first.data, second.data)
    pd.testing.assert_frame_equal(first.potential_outcomes, second.potential_outcomes)
    assert first.truth == second.truth
    assert not first.data.equals(simulate_cohort(300, seed=8).data)
    from_generator = simulate_cohort(300, seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(first.data, from_generator.data)


def test_observed_outcomes_are_the_potential_outcomes_of_the_assigned_arm():
    sim = simulate_cohort(500, seed=3, scenario="strong-confounding")
    data = validate_cohort(sim.data).data
    po = sim.potential_outcomes.set_index(["patient_id", "arm"])
    assigned = po.loc[list(zip(data["patient_id"], data["arm"].astype(str), strict=True))]
    for name in ("response", "plt_day14", "time_to_recovery", "recovered", "transfusion"):
        np.testing.assert_array_equal(data[name].to_numpy(), assigned[name].to_numpy(), name)
    pd.testing.assert_series_equal(
        data["recovery_day"].reset_index(drop=True),
        assigned["recovery_day"].reset_index(drop=True),
        check_names=False,
    )


def test_truth_is_the_average_of_the_potential_outcomes():
    sim = simulate_cohort(400, seed=5)
    po = sim.potential_outcomes
    assert len(po) == 400 * len(ARMS)
    for arm in ARMS:
        part = po[po["arm"] == arm]
        assert sim.truth["response_rate"][arm] == pytest.approx(part["response"].mean(), abs=1e-12)
        assert sim.truth["plt_day14_mean"][arm] == pytest.approx(part["plt_day14"].mean())
        curve = sim.truth["recovery_curve"][arm]
        assert len(curve) == 14 and curve == sorted(curve)
        assert curve[-1] == pytest.approx(part["recovered"].mean())
        by_day7 = ((part["recovered"] == 1) & (part["time_to_recovery"] <= 7)).mean()
        assert curve[6] == pytest.approx(by_day7)
    propensity = sim.propensity
    assert list(propensity.columns) == list(ARMS)
    np.testing.assert_allclose(propensity.sum(axis=1), 1.0)
    assert (propensity.to_numpy() > 0).all()


def test_assignment_is_the_multinomial_logit_of_the_scenario():
    sim = simulate_cohort(300, seed=9, scenario="strong-confounding")
    with (scenarios_dir() / "strong-confounding.toml").open("rb") as handle:
        override = tomllib.load(handle)["assignment"]
    # a table of values in the extending file replaces the base table whole
    assert (
        load_scenario("strong-confounding").spec["assignment"]["coefficients"]["combination"]
        == override["coefficients"]["combination"]
    )
    x = design_matrix(validate_cohort(sim.data).covariates())
    coefficients = override["coefficients"]["combination"]
    by_hand = override["intercept"]["combination"] + sum(
        value * x[name].to_numpy() for name, value in coefficients.items()
    )
    log_ratio = np.log(sim.propensity["combination"] / sim.propensity["rhTPO"]).to_numpy()
    np.testing.assert_allclose(log_ratio, by_hand, atol=1e-10)
    assert set(coefficients) <= set(FEATURES)


def test_truth_matches_a_large_sample_monte_carlo_estimate(large):
    sim, data = large
    response = data["response"].to_numpy().astype(float)
    day14 = data["plt_day14"].to_numpy()
    recovered_by_7 = ((data["recovered"] == 1) & (data["time_to_recovery"] <= 7)).to_numpy()
    for arm in ARMS:
        estimate, se = hajek(data, sim.propensity, arm, response)
        truth = sim.truth["response_rate"][arm]
        assert abs(estimate - truth) < min(4 * se, 0.02), (arm, estimate, truth, se)
        estimate, se = hajek(data, sim.propensity, arm, day14)
        assert abs(estimate - sim.truth["plt_day14_mean"][arm]) < 4 * se, arm
        estimate, se = hajek(data, sim.propensity, arm, recovered_by_7.astype(float))
        assert abs(estimate - sim.truth["recovery_curve"][arm][6]) < min(4 * se, 0.02), arm


def test_sample_truth_is_close_to_the_population_value(large):
    big, _ = large
    small = simulate_cohort(5_000, seed=99).truth["response_rate"]
    for arm in ARMS:
        # the sample-average truth of 5 000 patients varies around the population value with
        # SD at most sqrt(0.25 / 5000) ~ 0.007; 0.03 is over 4 SD
        assert small[arm] == pytest.approx(big.truth["response_rate"][arm], abs=0.03)


def test_paper_like_truth_is_near_the_published_results(large):
    sim, _ = large
    tables = load_tables()
    response = tables["table2_response"].set_index("arm")
    day14 = tables["table4_plt"].query("level == 'day14'").set_index("arm")
    for arm in ARMS:
        published_rate = response.loc[arm, "count"] / response.loc[arm, "n_arm"]
        assert sim.truth["response_rate"][arm] == pytest.approx(published_rate, abs=0.03), arm
        assert sim.truth["plt_day14_mean"][arm] == pytest.approx(day14.loc[arm, "mean"], abs=10)
    rates = sim.truth["response_rate"]
    assert rates["combination"] - rates["rhTPO"] > 0.2  # the paper's headline contrast


def test_null_scenario_has_no_treatment_differences():
    sim = simulate_cohort(2_000, seed=4, scenario="null")
    truth = sim.truth
    for key in ("response_rate", "plt_day14_mean", "delta_plt_mean", "transfusion_rate"):
        assert len(set(truth[key].values())) == 1, key
    assert len({tuple(curve) for curve in truth["recovery_curve"].values()}) == 1
    for event in truth["adverse_event_rate"].values():
        assert len(set(event.values())) == 1
    wide = sim.potential_outcomes.pivot(index="patient_id", columns="arm", values="plt_day14")
    assert (wide.nunique(axis=1) == 1).all()


def test_strong_confounding_biases_the_naive_comparison():
    sim = simulate_cohort(20_000, seed=2024, scenario="strong-confounding")
    data = validate_cohort(sim.data).data
    truth = sim.truth["response_rate"]
    true_difference = truth["combination"] - truth["rhTPO"]
    naive = data.groupby("arm", observed=True)["response"].mean()
    naive_difference = naive["combination"] - naive["rhTPO"]
    assert abs(naive_difference - true_difference) >= 0.15, (naive_difference, true_difference)
    response = data["response"].to_numpy().astype(float)
    adjusted = {arm: hajek(data, sim.propensity, arm, response)[0] for arm in ARMS}
    assert adjusted["combination"] - adjusted["rhTPO"] == pytest.approx(true_difference, abs=0.03)


def test_heterogeneous_effects_make_the_target_population_matter():
    """Overlap-population (ATO) truth computed from potential outcomes and propensities."""
    sim = simulate_cohort(20_000, seed=6, scenario="heterogeneous")
    wide = sim.potential_outcomes.pivot(index="patient_id", columns="arm", values="response")
    propensity = sim.propensity.loc[wide.index]
    tilt = 1.0 / (1.0 / propensity).sum(axis=1)  # generalized overlap weights h(x)
    ato = (wide.mul(tilt, axis=0).sum() / tilt.sum()).to_dict()
    ate = sim.truth["response_rate"]
    assert ate["combination"] == pytest.approx(wide["combination"].mean())
    assert (ato["combination"] - ato["rhTPO"]) != pytest.approx(
        ate["combination"] - ate["rhTPO"], abs=0.005
    )


@pytest.mark.parametrize("extension", [".csv", ".parquet"])
def test_write_simulated_writes_the_cohort_and_its_truth(tmp_path, extension):
    sim = simulate_cohort(120, seed=1)
    cohort_path, truth_path = write_simulated(sim, tmp_path / f"sim{extension}")
    assert truth_path.name == f"sim{extension}.truth.json"
    assert json.loads(truth_path.read_text()) == sim.truth
    from cit_bayes.cohort import read_cohort

    cohort = read_cohort(cohort_path)
    assert cohort.synthetic is True
    assert cohort.fingerprint == validate_cohort(sim.data).fingerprint


def test_bad_arguments_and_scenarios(tmp_path):
    with pytest.raises(CohortError, match="positive whole number"):
        simulate_cohort(0, seed=1)
    with pytest.raises(PlanError, match="not found"):
        simulate_cohort(10, seed=1, scenario="no-such-scenario")
    bad = tmp_path / "bad.toml"
    text = (scenarios_dir() / "paper-like.toml").read_text()
    bad.write_text(text.replace("radiotherapy = -1.4", "radio_therapy = -1.4"))
    with pytest.raises(PlanError, match="unknown feature"):
        load_scenario(bad)
    for old, new, message in [
        ("hill = 3.0\n", "", "lacks hill"),
        ("hill = 3.0", 'hill = "three"', "must be a number"),
        ("rhTPO = { amplitude = 98.0", "rhTPO = { amplitude = -98.0", "must be positive"),
        ("radiotherapy = 0.11", "radiotherapy = 1.5", "must lie in"),
    ]:
        bad.write_text(text.replace(old, new))
        with pytest.raises(PlanError, match=message):
            load_scenario(bad)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop"\n')
    with pytest.raises(PlanError, match="circular"):
        load_scenario(loop)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["paper-like", "strong-confounding"])
def test_truth_matches_monte_carlo_tightly_at_a_larger_n(scenario):
    """Slow: n = 300 000, tolerance 4 influence-function SE, each SE below 0.004."""
    sim = simulate_cohort(300_000, seed=31, scenario=scenario)
    data = validate_cohort(sim.data).data
    response = data["response"].to_numpy().astype(float)
    for arm in ARMS:
        estimate, se = hajek(data, sim.propensity, arm, response)
        assert se < 0.004, (arm, se)
        assert abs(estimate - sim.truth["response_rate"][arm]) < 4 * se, arm
