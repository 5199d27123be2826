"""Unmeasured confounding (issue 19, item 3): E-values against the published closed forms and
R's EValue package examples, the latent-U bias adjustment against a simulation with a known
truth, the zero-strength identity, the tipping-point surface's monotonicity, the benchmarks'
prevalence differences by hand, and the ``results.json`` block of a real (small) analysis."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

from cit_bayes.confounding.benchmarks import covariate_benchmarks
from cit_bayes.confounding.bias import (
    ConfoundingPrior,
    adjust_risk,
    bias_adjusted,
    draw_bias_parameters,
    tipping_surface,
)
from cit_bayes.confounding.evalue import (
    evalue,
    interval_evalues,
    is_common,
    risk_ratio_from_hazard_ratio,
    risk_ratio_from_mean_difference,
    risk_ratio_from_odds_ratio,
)
from cit_bayes.exceptions import ModelError, PlanError


def _closed_form(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def test_evalues_equal_the_published_examples():
    # VanderWeele & Ding (2017): RR 3.9 (1.8 to 8.7) -> 7.26 and 3.00
    out = interval_evalues(3.9, 1.8, 8.7)
    assert out["evalue_point"] == pytest.approx(7.26, abs=0.005)
    assert out["evalue_limit"] == pytest.approx(3.00, abs=0.005)
    assert out["limit"] == "ci_low"
    # R's EValue documentation: evalues.RR(0.80, 0.71, 0.91) -> 1.81 and 1.43
    out = interval_evalues(0.80, 0.71, 0.91)
    assert out["evalue_point"] == pytest.approx(1.81, abs=0.005)
    assert out["evalue_limit"] == pytest.approx(1.43, abs=0.005)
    assert out["limit"] == "ci_high"
    # 1 is the constant the function sets when the interval contains 1
    assert interval_evalues(1.2, 0.9, 1.6)["evalue_limit"] == pytest.approx(1.0, abs=1e-12)
    assert evalue(1.0) == pytest.approx(1.0, abs=1e-12)


def test_conversions_follow_vanderweele_and_ding():
    assert risk_ratio_from_odds_ratio(4.0, common=True) == pytest.approx(2.0)
    assert risk_ratio_from_odds_ratio(4.0, common=False) == pytest.approx(4.0)
    hr = 0.56
    expected = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    assert risk_ratio_from_hazard_ratio(hr, common=True) == pytest.approx(expected, rel=1e-12)
    assert risk_ratio_from_hazard_ratio(hr, common=False) == pytest.approx(hr)
    assert risk_ratio_from_mean_difference(0.5) == pytest.approx(math.exp(0.455), rel=1e-12)
    assert is_common(0.16) and not is_common(0.15)
    with pytest.raises(ModelError):
        evalue(-1.0)
    with pytest.raises(ModelError):
        interval_evalues(1.0, 1.2, 1.5)  # point outside its interval


def test_adjust_risk_solves_the_mixture_equation():
    rng = np.random.default_rng(5)
    p, pi, gamma = rng.uniform(0.02, 0.98, 50), rng.uniform(0, 1, 50), rng.normal(0, 1.5, 50)
    target = rng.uniform(0, 1, 50)
    got = adjust_risk(p, pi, gamma, target)
    for k in range(50):
        eta = brentq(
            lambda e, k=k: pi[k] * expit(e + gamma[k]) + (1 - pi[k]) * expit(e) - p[k],
            -50,
            50,
            xtol=1e-14,
        )
        expected = target[k] * expit(eta + gamma[k]) + (1 - target[k]) * expit(eta)
        assert got[k] == pytest.approx(expected, abs=1e-10)


def test_adjust_risk_recovers_a_simulated_truth():
    """Patients with a binary U of known prevalence and effect: the observed arm risk, adjusted
    with the true parameters, equals the risk standardised to the target prevalence."""
    rng = np.random.default_rng(20250101)
    n, gamma, target = 400_000, math.log(2.5), 0.45
    for eta, pi in ((0.3, 0.7), (-0.4, 0.2)):
        u = rng.random(n) < pi
        y = rng.random(n) < expit(eta + gamma * u)
        observed = y.mean()
        truth = target * expit(eta + gamma) + (1 - target) * expit(eta)
        se = math.sqrt(observed * (1 - observed) / n)
        assert abs(adjust_risk(observed, pi, gamma, target) - truth) < 4 * se


def test_zero_strength_gives_back_the_reported_draws():
    rng = np.random.default_rng(1)
    focus, reference = rng.beta(60, 40, 2000), rng.beta(50, 50, 2000)
    none = ConfoundingPrior(log_odds_ratio_mean=0.0, log_odds_ratio_sd=0.0)
    f, r = bias_adjusted(focus, reference, draw_bias_parameters(none, 2000, rng))
    # exact: zero strength returns the input draws themselves (np.where), by design
    np.testing.assert_array_equal(f, focus)
    np.testing.assert_array_equal(r, reference)
    same = ConfoundingPrior(prevalence_difference=(0.0, 0.0))
    f, r = bias_adjusted(focus, reference, draw_bias_parameters(same, 2000, rng), focus_share=0.4)
    np.testing.assert_array_equal(f, focus)
    np.testing.assert_array_equal(r, reference)


def test_tipping_surface_is_monotone_and_starts_at_the_reported_probability():
    rng = np.random.default_rng(2)
    focus, reference = rng.beta(70, 30, 3000), rng.beta(58, 42, 3000)
    differences, ratios = [0.0, 0.1, 0.3, 0.6], [1.0, 1.5, 2.5, 5.0]
    surface = tipping_surface(focus, reference, differences, ratios)
    reported = np.mean(focus > reference)
    np.testing.assert_allclose(surface[0], reported)  # odds ratio 1: U changes nothing
    np.testing.assert_allclose(surface[:, 0], reported)  # no imbalance: nothing changes
    assert np.all(np.diff(surface[:, 1:], axis=0) <= 1e-12)
    assert np.all(np.diff(surface[1:], axis=1) <= 1e-12)
    assert surface[-1, -1] < 0.5 < reported


def test_prior_checks_and_draws():
    with pytest.raises(ModelError, match="bounds"):
        ConfoundingPrior(prevalence_difference=(0.3, 0.1))
    with pytest.raises(ModelError, match="at most 1"):
        ConfoundingPrior(prevalence_reference=(0.2, 0.9), prevalence_difference=(0.0, 0.2))
    draws = draw_bias_parameters(ConfoundingPrior(), 20_000, np.random.default_rng(3))
    difference = draws["prevalence_focus"] - draws["prevalence_reference"]
    assert difference.min() >= 0 and difference.max() <= 0.2
    assert np.median(np.exp(draws["log_odds_ratio"])) == pytest.approx(2.0, rel=0.02)
    with pytest.raises(ModelError, match="Generator"):
        draw_bias_parameters(ConfoundingPrior(), 3, 7)


def test_benchmarks_by_hand():
    arm = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    stage = np.array([1, 1, 1, 0, 1, 0, 0, 0, 1, 0], dtype=float)
    age = np.array([-1.0, 0.2, 1.5, 0.7, -0.3, -1.1, 0.9, 0.1, 3.0, 2.0])
    table = covariate_benchmarks(
        np.column_stack([(stage - stage.mean()) / stage.std(), age]),
        ["stage_iv", "age"],
        arm == 0,
        arm == 1,
        [0.5, 0.2],
    ).set_index("covariate")
    assert table.loc["stage_iv", "kind"] == "indicator"
    assert table.loc["stage_iv", "prevalence_difference"] == pytest.approx(0.75 - 0.25)
    per_indicator = 0.5 / stage.std()  # the standardised column's coefficient per 0-1 step
    assert table.loc["stage_iv", "odds_ratio"] == pytest.approx(math.exp(per_indicator))
    both = age[arm < 2]
    median = np.median(both)
    above, below = both[both > median], both[both <= median]
    assert median == pytest.approx(0.15)  # ages above it: 3 of 4 in arm 0, 1 of 4 in arm 1
    assert table.loc["age", "prevalence_difference"] == pytest.approx(0.75 - 0.25)
    assert table.loc["age", "odds_ratio"] == pytest.approx(
        math.exp(0.2 * (above.mean() - below.mean()))
    )


def test_plan_reads_the_priors(tmp_path):
    from cit_bayes._paths import models_dir
    from cit_bayes.plan import load_plan

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    path = tmp_path / "plan.toml"
    path.write_text(
        text + "\n[unmeasured_confounding]\nprevalence_difference = [0.0, 0.3]\n"
        "log_odds_ratio_mean = 1.1\n"
    )
    prior = load_plan(path).confounding
    # the values are parsed from the TOML text, not computed
    assert prior.prevalence_difference == pytest.approx((0.0, 0.3), abs=1e-12)
    assert prior.log_odds_ratio_mean == pytest.approx(1.1, abs=1e-12)
    assert load_plan().confounding == ConfoundingPrior()
    path.write_text(text + "\n[unmeasured_confounding]\nlog_odds_ratio_sd = -1\n")
    with pytest.raises(PlanError, match="unmeasured_confounding"):
        load_plan(path)


@pytest.fixture(scope="module")
def runner(small_cohort_csv, small_analysis):
    from cit_bayes.analyses.endpoints import endpoint_runner
    from cit_bayes.cohort import read_cohort

    return endpoint_runner(read_cohort(small_cohort_csv), small_analysis.plan, 11, None)


def test_results_evalues_equal_the_closed_form_of_the_reported_numbers(small_analysis, runner):
    block = small_analysis.results["unmeasured_confounding"]
    plan = small_analysis.plan
    pairs = [f"{a}/{b}" for a, b in plan.spec.pairs]
    assert sorted(block["evalues"]) == ["plt", "recovery", "response"]
    for entries in block["evalues"].values():
        assert sorted(entries) == sorted(pairs)
        for entry in entries.values():
            ratio = entry["ratio"]
            assert entry["evalue_point"] == pytest.approx(_closed_form(ratio["median"]), rel=1e-12)
            if ratio["ci_low"] <= 1 <= ratio["ci_high"]:
                assert entry["evalue_limit"] == 1.0  # exact: the constant set for such intervals
            else:
                near = ratio["ci_low"] if ratio["median"] > 1 else ratio["ci_high"]
                assert entry["evalue_limit"] == pytest.approx(_closed_form(near), rel=1e-12)
    # the ratio is that of the posterior draws of the reported marginal rates
    rate = small_analysis.fits["response/adjusted"].draws["rate"]
    ratio = (rate.sel(arm="combination") / rate.sel(arm="rhTPO")).values.ravel()
    reported = block["evalues"]["response"]["combination/rhTPO"]["ratio"]
    assert reported["median"] == pytest.approx(np.median(ratio), rel=1e-12)
    assert reported["ci_low"] == pytest.approx(np.quantile(ratio, 0.025), rel=1e-12)
    # the bias analysis's unadjusted probability is the reported P(A > B)
    bias = block["bias_analysis"]["response"]["combination-rhTPO"]
    reported_p = small_analysis.results["response"]["adjusted"]["prob_superior"]
    assert bias["prob_superior"] == pytest.approx(reported_p["combination>rhTPO"], abs=1e-12)
    assert bias["prob_superior_bias_adjusted"] <= bias["prob_superior"] + 1e-12


def test_zero_strength_bias_analysis_of_a_fit_gives_back_its_posterior(small_analysis, runner):
    from cit_bayes.confounding.summary import confounding_summary

    plan = dataclasses.replace(
        small_analysis.plan,
        confounding=ConfoundingPrior(log_odds_ratio_mean=0.0, log_odds_ratio_sd=0.0),
    )
    block = confounding_summary(small_analysis.fits, plan, runner)
    for endpoint in ("response", "recovery"):
        for entry in block["bias_analysis"][endpoint].values():
            # exact: a U of zero strength returns the very draws (np.where), not recomputed ones
            assert entry["prob_superior_bias_adjusted"] == entry["prob_superior"]
            assert entry["difference_bias_adjusted"] == entry["difference"]
    again = confounding_summary(small_analysis.fits, small_analysis.plan, runner)
    assert again == small_analysis.results["unmeasured_confounding"]  # same seed, same numbers
