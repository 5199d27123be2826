"""The response model: its log density, its g-computation and its weights, by hand.

Reference values: the model's log density (priors and the weighted Bernoulli likelihood) at
arbitrary parameter values is compared with the same density written out with scipy, the
marginal rates (g-computation over the target tilting) with a numpy average, and the weights
the model receives with a hand calculation of the Kish rescaling. A posterior check on the
bundled-size cohort is in ``test_analysis_known_truth.py`` (known simulated truth).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import special, stats

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_blocks import zero_sum_basis
from cit_bayes.bayes.response import (
    ResponsePrior,
    build_response_model,
    fit_response_model,
    response_inputs,
    response_targets,
    response_values,
)
from cit_bayes.exceptions import ModelError

ARMS = ("rhTPO", "hetrombopag", "combination")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(42)
    n = 30
    codes = np.repeat([0, 1, 2], 10)
    data = PatientData(
        arms=ARMS,
        arm_codes=codes,
        design=rng.normal(size=(n, 2)),
        covariates=("age", "stage_IV"),
        weights=rng.uniform(0.5, 3.0, n),
        tilt=rng.uniform(0.2, 1.0, n),
    )
    response = rng.integers(0, 2, n)
    return data, response


@pytest.mark.parametrize(
    ("family", "density"), [("logistic", stats.logistic), ("normal", stats.norm)]
)
def test_log_density_is_the_written_model(case, evaluate_model, family, density):
    """Independent arms (the default): alpha_a ~ F(m, s) each, no between-arm scale."""
    data, response = case
    prior = ResponsePrior(
        intercept_mean=0.3, intercept_sd=1.2, arm_sd=0.8, coefficient_sd=0.7,
        intercept_family=family,
    )  # fmt: skip
    values = response_values(response, data, prior)
    point = {"arm_logit": np.array([0.4, -0.9, 1.3]), "coefficient": np.array([0.3, -0.8])}
    model = build_response_model(data, family=family)
    assert {rv.name for rv in model.free_RVs} == {"arm_logit", "coefficient"}
    targets = response_targets(values, data.arms)
    logp, out = evaluate_model(model, values, point, outputs=("rate",), targets=targets)

    arm_logit = point["arm_logit"]
    linear = data.design @ point["coefficient"]
    eta = arm_logit[data.arm_codes] + linear
    bernoulli = response * eta - np.logaddexp(0.0, eta)
    w = values["weight"]  # Kish-rescaled: checked by hand in the next test
    expected = (
        density(0.3, 1.2).logpdf(arm_logit).sum()
        + stats.norm(0, 0.7).logpdf(point["coefficient"]).sum()
        + np.sum(w * bernoulli)
    )
    assert logp == pytest.approx(expected, rel=1e-10)
    # g-computation: each patient's probability under each arm, averaged with the tilting
    probability = special.expit(linear[:, None] + arm_logit[None, :])
    rate = (data.tilt[:, None] * probability).sum(axis=0) / data.tilt.sum()
    np.testing.assert_allclose(out["rate"], rate, rtol=1e-12)


def test_log_density_of_the_pooled_sensitivity_model(case, evaluate_model):
    data, response = case
    prior = ResponsePrior(
        intercept_mean=0.3, intercept_sd=1.2, arm_sd=0.8, coefficient_sd=0.7, pool_arms=True
    )
    values = response_values(response, data, prior)
    point = {
        "intercept": 0.4,
        "arm_sd": 0.6,
        "arm_z": np.array([0.5, -1.1]),
        "coefficient": np.array([0.3, -0.8]),
    }
    model = build_response_model(data, pool_arms=True)
    targets = response_targets(values, data.arms)
    logp, out = evaluate_model(model, values, point, outputs=("arm_logit", "rate"), targets=targets)

    arm_logit = point["intercept"] + point["arm_sd"] * zero_sum_basis(3) @ point["arm_z"]
    linear = data.design @ point["coefficient"]
    eta = arm_logit[data.arm_codes] + linear
    bernoulli = response * eta - np.logaddexp(0.0, eta)
    w = values["weight"]
    expected = (
        stats.logistic(0.3, 1.2).logpdf(point["intercept"])
        + stats.halfnorm(scale=0.8).logpdf(point["arm_sd"])
        + stats.norm.logpdf(point["arm_z"]).sum()
        + stats.norm(0, 0.7).logpdf(point["coefficient"]).sum()
        + np.sum(w * bernoulli)
    )
    assert logp == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(out["arm_logit"], arm_logit, rtol=1e-12)
    probability = special.expit(linear[:, None] + arm_logit[None, :])
    rate = (data.tilt[:, None] * probability).sum(axis=0) / data.tilt.sum()
    np.testing.assert_allclose(out["rate"], rate, rtol=1e-12)


def test_the_centred_pooled_model_has_the_same_prior_in_the_other_geometry(case, evaluate_model):
    """Centred pooled levels (arms with much data): u = tau z ~ N(0, tau^2), the same model."""
    data, response = case
    prior = ResponsePrior(intercept_sd=1.2, arm_sd=0.8, coefficient_sd=0.7, pool_arms=True)
    values = response_values(response, data, prior)
    u = np.array([0.3, -0.66])
    point = {"intercept": 0.4, "arm_sd": 0.6, "arm_u": u, "coefficient": np.array([0.3, -0.8])}
    model = build_response_model(data, pool_arms=True, centred=True)
    assert [v.name for v in model.free_RVs] == ["intercept", "arm_sd", "arm_u", "coefficient"]
    logp, out = evaluate_model(model, values, point, outputs=("arm_logit",))
    arm_logit = point["intercept"] + zero_sum_basis(3) @ u
    eta = arm_logit[data.arm_codes] + data.design @ point["coefficient"]
    expected = (
        stats.logistic(0.0, 1.2).logpdf(point["intercept"])
        + stats.halfnorm(scale=0.8).logpdf(point["arm_sd"])
        + stats.norm(0, point["arm_sd"]).logpdf(u).sum()
        + stats.norm(0, 0.7).logpdf(point["coefficient"]).sum()
        + np.sum(values["weight"] * (response * eta - np.logaddexp(0.0, eta)))
    )
    assert logp == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(out["arm_logit"], arm_logit, rtol=1e-12)
    # a fixed arm SD has no funnel: one geometry, the non-centred model
    fixed = build_response_model(data, pool_arms=True, fixed=True, centred=True)
    assert fixed is build_response_model(data, pool_arms=True, fixed=True)


def test_the_pooled_levels_are_centred_when_every_arm_carries_much_weight():
    """150 = CENTRED_MIN_WEIGHT: arms of 150 patients (unit weights) centre, of 149 do not;
    the choice is recorded in the fit's provenance; unpooled fits record nothing."""
    for size, geometry in ((150, "centred"), (149, "non-centred")):
        codes = np.repeat([0, 1], size)
        data = PatientData(("a", "b"), codes, np.zeros((2 * size, 0)), (), np.ones(2 * size),
                           np.ones(2 * size))  # fmt: skip
        response = np.tile([0, 1], size)
        inputs = response_inputs(response, data, ResponsePrior(pool_arms=True))
        assert inputs.provenance == {"pooled_levels_parametrisation": geometry}
        names = {v.name for v in inputs.model.free_RVs}
        assert ("arm_u" in names) == (geometry == "centred") != ("arm_z" in names)
        assert response_inputs(response, data).provenance == {}


def test_log_density_and_gradient_are_finite_at_the_initial_point(case, at_initial_point):
    data, response = case
    logp, grad = at_initial_point(
        build_response_model(data), response_values(response, data, ResponsePrior())
    )
    assert np.isfinite(logp) and grad.size == 3 + 2 and np.all(np.isfinite(grad))


def test_the_model_receives_kish_rescaled_weights(case, kish_by_hand):
    data, response = case
    w = response_values(response, data, ResponsePrior())["weight"]
    np.testing.assert_allclose(w, kish_by_hand(data, np.ones(data.n, bool)), rtol=1e-12)
    for j in range(3):
        raw = data.weights[data.arm_codes == j]
        # rescaled weights are proportional to the raw ones and sum to the Kish ESS
        np.testing.assert_allclose(w[data.arm_codes == j] / raw, raw.sum() / (raw**2).sum())
        assert w[data.arm_codes == j].sum() == pytest.approx(raw.sum() ** 2 / (raw**2).sum())


def test_pooled_arm_effects_sum_to_zero_around_the_intercept(case, evaluate_model):
    data, response = case
    values = response_values(response, data, ResponsePrior(pool_arms=True))
    point = {
        "intercept": -0.2,
        "arm_sd": 1.7,
        "arm_z": np.array([2.0, 0.3]),
        "coefficient": np.zeros(2),
    }
    model = build_response_model(data, pool_arms=True)
    _, out = evaluate_model(model, values, point, outputs=("arm_logit",))
    assert out["arm_logit"].mean() == pytest.approx(-0.2, abs=1e-12)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (np.full(30, 2), "0 or 1"),
        (np.r_[np.zeros(29), np.nan], "0 or 1"),
        (np.zeros(29), "shape"),
    ],
)
def test_bad_outcomes_are_refused(case, response, message):
    data, _ = case
    with pytest.raises(ModelError, match=message):
        fit_response_model(response, data, seed=1)


def test_a_prior_of_the_wrong_model_is_refused(case):
    from cit_bayes.bayes.safety import SafetyPrior

    data, response = case
    with pytest.raises(ModelError, match="ResponsePrior"):
        fit_response_model(response, data, prior=SafetyPrior(), seed=1)
    with pytest.raises(ModelError, match="arm_sd"):
        ResponsePrior(arm_sd=0.0)
    with pytest.raises(ModelError, match="pool_arms"):
        ResponsePrior(pool_arms="yes")


def test_logistic_intercept_prior_is_uniform_on_the_reference_rate():
    """Logistic(0, 1) on the logit is the uniform distribution of the rate (the flat Beta(1, 1)
    of the published reanalysis): its prior draws' rates pass a KS test against U(0, 1)."""
    data = PatientData(("a", "b"), [0, 0, 1, 1], np.zeros((4, 0)), (), np.ones(4), np.ones(4))
    model = build_response_model(data)
    values = response_values([0, 1, 1, 0], data, ResponsePrior())
    with model:
        pm.set_data({k: v for k, v in values.items()})
        draws = pm.draw(model["arm_logit"], draws=4000, random_seed=np.random.default_rng(5))
    rates = special.expit(np.asarray(draws).ravel())
    assert stats.kstest(rates, "uniform").pvalue > 0.001
    with pytest.raises(ModelError, match="intercept family"):
        build_response_model(data, family="cauchy")
    with pytest.raises(ModelError, match="intercept_family"):
        ResponsePrior(intercept_family="cauchy")
