"""The recovery model: person-period likelihood, smooth baseline and g-computation, by hand.

Reference values: the model's log density at arbitrary parameter values is compared with the
discrete-time hazard likelihood written out day by day over the person-period rows (Singer &
Willett 1993: a patient contributes log(1 - h_t) for each day survived and log h_T on the
recovery day, h = 1 - exp(-exp(eta))), which the model computes in closed form through the
cumulative hazard. The smooth basis is checked against its definition (orthogonal to the RW2
null space, average marginal variance 1), the restricted mean time to recovery against a
numpy sum of the g-computed survival curve.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.patient_blocks import CENTRED_MIN_WEIGHT, arms_carry_weight, zero_sum_basis
from cit_bayes.bayes.recovery import (
    RecoveryPrior,
    build_recovery_model,
    fit_recovery_model,
    recovery_inputs,
    recovery_values,
)
from cit_bayes.bayes.recovery_baseline import smooth_basis
from cit_bayes.bayes.recovery_targets import recovery_targets
from cit_bayes.bayes.recovery_times import person_period
from cit_bayes.exceptions import ModelError

ARMS = ("rhTPO", "hetrombopag", "combination", "rhIL-11")
HORIZON = 10


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(5)
    n = 28
    codes = np.repeat([0, 1, 2, 3], 7)
    data = PatientData(
        arms=ARMS,
        arm_codes=codes,
        design=rng.normal(size=(n, 3)),
        covariates=("age", "stage_IV", "bmi"),
        weights=rng.uniform(0.4, 2.0, n),
        tilt=rng.uniform(0.2, 1.0, n),
    )
    time = rng.integers(1, HORIZON + 1, n).astype(float)
    recovered = (rng.uniform(size=n) < 0.7).astype(float)
    time[3], recovered[3] = 0.0, 0.0  # censored before day 1: no person-period row
    time[4], recovered[4] = HORIZON, 0.0  # followed to the end without recovery
    return data, time, recovered


def test_smooth_basis_is_the_scaled_rw2_basis():
    day, basis = smooth_basis(14, 6)
    assert basis.shape == (14, 6)
    np.testing.assert_allclose(day, (np.arange(1, 15) - 7.5) / np.arange(1, 15).std(ddof=1))
    # orthogonal to the null space of the RW2 precision (constants and straight lines) ...
    np.testing.assert_allclose(basis.sum(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(day @ basis, 0.0, atol=1e-10)
    # ... mutually orthogonal, and scaled to an average marginal variance of 1
    gram = basis.T @ basis
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-10)
    assert np.mean(np.sum(basis**2, axis=1)) == pytest.approx(1.0)
    # the smoothest components carry the largest variance (inverse eigenvalues)
    assert np.all(np.diff(np.diag(gram)) < 0)


def test_person_period_rows_by_hand():
    patient, day, event = person_period([2, 0, 3], [1, 0, 0], horizon=5)
    np.testing.assert_array_equal(patient, [0, 0, 2, 2, 2])
    np.testing.assert_array_equal(day, [0, 1, 0, 1, 2])
    np.testing.assert_array_equal(event, [0, 1, 0, 0, 0])


@pytest.mark.parametrize(
    ("proportional_hazards", "pool_arms"), [(False, False), (True, False), (True, True)]
)
def test_log_density_is_the_person_period_likelihood(
    case, evaluate_model, kish_by_hand, proportional_hazards, pool_arms
):
    data, time, recovered = case
    prior = RecoveryPrior(
        intercept_mean=-2.5, intercept_sd=1.2, trend_sd=0.8, smooth_sd=0.4, rank=4,
        arm_sd=0.7, coefficient_sd=0.6, pool_arms=pool_arms,
        proportional_hazards=proportional_hazards,
    )  # fmt: skip
    values = recovery_values(time, recovered, data, prior, HORIZON)
    model = build_recovery_model(data, HORIZON, prior)
    p = {"baseline_smooth_sd": 0.3, "coefficient": np.array([0.2, -0.5, 0.1])}
    if proportional_hazards:
        p |= {"baseline_trend": 0.4, "baseline_z": np.array([0.5, -1.0, 0.2, 0.8])}
    else:  # each arm its own trend and smooth components
        p |= {
            "arm_trend": np.array([0.4, -0.3, 0.9, 0.0]),
            "arm_z": np.arange(16.0).reshape(4, 4) / 10 - 0.7,
        }
    if pool_arms:
        p |= {"baseline_intercept": -2.2, "arm_sd": 0.6, "arm_z": np.array([0.7, -0.4, 1.1])}
    else:  # each arm's own level (log hazard at the middle day)
        p |= {"arm_level": np.array([-2.0, -2.6, -1.5, -3.1])}
    logp, out = evaluate_model(
        model,
        values,
        p,
        outputs=("arm_log_hazard", "arm_effect", "cumulative_recovery", "rmtr"),
        targets=recovery_targets(values, list(model.coords["day"]), data.arms),
    )

    day_std, basis = smooth_basis(HORIZON, 4)
    if pool_arms:
        level = p["baseline_intercept"] + p["arm_sd"] * zero_sum_basis(4) @ p["arm_z"]
        arm_prior = (
            stats.norm(-2.5, 1.2).logpdf(p["baseline_intercept"])
            + stats.halfnorm(scale=0.7).logpdf(p["arm_sd"])
            + stats.norm.logpdf(p["arm_z"]).sum()
        )
    else:
        level = p["arm_level"]
        arm_prior = stats.norm(-2.5, 1.2).logpdf(p["arm_level"]).sum()
    if proportional_hazards:  # one shape, shifted by each arm's level: lam (day, arm)
        shape = p["baseline_trend"] * day_std + p["baseline_smooth_sd"] * basis @ p["baseline_z"]
        lam = shape[:, None] + level[None, :]
        shape_prior = (
            stats.norm(0, 0.8).logpdf(p["baseline_trend"])
            + stats.norm.logpdf(p["baseline_z"]).sum()
        )
    else:
        shape = np.outer(day_std, p["arm_trend"]) + p["baseline_smooth_sd"] * basis @ p["arm_z"]
        lam = shape + level[None, :]
        shape_prior = (
            stats.norm(0, 0.8).logpdf(p["arm_trend"]).sum() + stats.norm.logpdf(p["arm_z"]).sum()
        )
    linear = data.design @ p["coefficient"]
    w = kish_by_hand(data, time >= 1)  # over the patients at risk on day 1
    likelihood = 0.0
    for i in range(data.n):
        for t in range(int(time[i])):  # day t + 1
            hazard = 1.0 - np.exp(-np.exp(lam[t, data.arm_codes[i]] + linear[i]))
            last = t + 1 == time[i]
            likelihood += w[i] * np.log(hazard if (last and recovered[i]) else 1.0 - hazard)
    expected = (
        arm_prior
        + shape_prior
        + stats.halfnorm(scale=0.4).logpdf(p["baseline_smooth_sd"])
        + stats.norm(0, 0.6).logpdf(p["coefficient"]).sum()
        + likelihood
    )
    assert logp == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(out["arm_log_hazard"], lam, rtol=1e-12)
    # the day-averaged log hazard, centred over the arms (the log HR under proportional hazards)
    np.testing.assert_allclose(out["arm_effect"], lam.mean(0) - lam.mean(), atol=1e-12)

    # g-computation: each patient's survival under each arm, product of daily survivals
    daily = np.exp(-np.exp(lam.T[None, :, :] + linear[:, None, None]))
    survival_i = np.cumprod(daily, axis=2)  # (patient, arm, day): S(1), ..., S(T)
    survival = np.einsum("i,iat->at", data.tilt, survival_i) / data.tilt.sum()
    np.testing.assert_allclose(out["cumulative_recovery"], (1 - survival).T, rtol=1e-10)
    # RMTR over the horizon: sum of S(t) for t = 0..T-1, with S(0) = 1
    np.testing.assert_allclose(out["rmtr"], 1 + survival[:, :-1].sum(axis=1), rtol=1e-10)


def test_interval_censored_recoveries_add_the_probability_of_the_interval(
    case, evaluate_model, kish_by_hand
):
    """A recovery first seen on day T with the last count below 100 on day L < T - 1 adds
    log(S(L) - S(T)) (the patient recovered on one of the days L + 1..T), written out with the
    daily hazards; exact days (L = T - 1) and censored patients (L = T) as before."""
    data, time, recovered = case
    after = time - recovered
    widened = np.flatnonzero((recovered == 1) & (time >= 3))[:5]
    after[widened] = [0, 1, 2, 0, 1][: widened.size]
    prior = RecoveryPrior(rank=4)
    values = recovery_values(time, recovered, data, prior, HORIZON, after=after)
    p = {"baseline_smooth_sd": 0.3, "coefficient": np.array([0.2, -0.5, 0.1]),
         "arm_trend": np.array([0.4, -0.3, 0.9, 0.0]), "arm_level": np.array([-2.0, -2.6, -1.5, -3.1]),
         "arm_z": np.arange(16.0).reshape(4, 4) / 10 - 0.7}  # fmt: skip
    model = build_recovery_model(data, HORIZON, prior)
    logp, out = evaluate_model(model, values, p, outputs=("arm_log_hazard",))
    exact, _ = evaluate_model(
        model, recovery_values(time, recovered, data, prior, HORIZON), p, outputs=()
    )
    lam, linear = out["arm_log_hazard"], data.design @ p["coefficient"]
    w = kish_by_hand(data, time >= 1)

    def log_survival(i, day):  # log S_i(day) = -sum of the daily hazards' cloglog terms
        return -np.exp(lam[:day, data.arm_codes[i]] + linear[i]).sum()

    def contribution(i, last_below):
        low, high = log_survival(i, int(last_below)), log_survival(i, int(time[i]))
        return low + np.log(-np.expm1(high - low)) if recovered[i] else high

    change = sum(w[i] * (contribution(i, after[i]) - contribution(i, time[i] - 1)) for i in widened)
    assert widened.size == 5 and change > 0  # a wider interval is more probable
    assert logp - exact == pytest.approx(change, rel=1e-9)


@pytest.mark.parametrize(
    ("after", "message"),
    [([3.0, 2.0], "0..T-1"), ([-1.0, 2.0], "0..T-1"), ([1.0, 1.0], "censoring day"),
     ([1.5, 2.0], "whole days")],
)  # fmt: skip
def test_bad_intervals_are_refused(after, message):
    data = PatientData(
        arms=("a", "b"), arm_codes=np.array([0, 1]), design=np.zeros((2, 1)),
        covariates=("x",), weights=np.ones(2), tilt=np.ones(2),
    )  # fmt: skip
    with pytest.raises(ModelError, match=message):
        recovery_values([3.0, 2.0], [1, 0], data, RecoveryPrior(), HORIZON, after=after)


def test_centred_smooth_parts_are_the_same_model(case, evaluate_model):
    """Centred (sigma u ~ N(0, sigma^2)) and non-centred (u ~ N(0, 1)) smooth parts: at
    matching points the same hazards, and log densities that differ by the change of variables
    only (the centred density of sigma u minus the standard normal density of u)."""
    data, time, recovered = case
    prior = RecoveryPrior(rank=4, smooth_sd=0.4)
    values = recovery_values(time, recovered, data, prior, HORIZON)
    z = np.arange(16.0).reshape(4, 4) / 10 - 0.7
    p = {"baseline_smooth_sd": 0.3, "coefficient": np.array([0.2, -0.5, 0.1]),
         "arm_trend": np.array([0.4, -0.3, 0.9, 0.0]), "arm_level": np.array([-2.0, -2.6, -1.5, -3.1])}  # fmt: skip
    outputs = ("arm_log_hazard", "arm_smooth")
    plain, out = evaluate_model(
        build_recovery_model(data, HORIZON, prior), values, p | {"arm_z": z}, outputs=outputs
    )
    centred, out_c = evaluate_model(
        build_recovery_model(data, HORIZON, prior, centred=True),
        values,
        p | {"arm_smooth": 0.3 * z},
        outputs=("arm_log_hazard",),
    )
    np.testing.assert_allclose(out_c["arm_log_hazard"], out["arm_log_hazard"], rtol=1e-12)
    np.testing.assert_allclose(out["arm_smooth"], 0.3 * z, rtol=1e-12)
    change = stats.norm(0, 0.3).logpdf(0.3 * z).sum() - stats.norm.logpdf(z).sum()
    assert centred - plain == pytest.approx(change, rel=1e-10)


def test_centred_shared_shape_and_pooled_levels_are_the_same_model(case, evaluate_model):
    """Proportional hazards with pooled arms, centred (arms with much data): the shared smooth
    part sigma u ~ N(0, sigma^2) and the pooled levels tau z ~ N(0, tau^2); at matching points
    the same hazards, log densities differing by the change of variables only."""
    data, time, recovered = case
    prior = RecoveryPrior(rank=4, smooth_sd=0.4, arm_sd=0.7, pool_arms=True,
                          proportional_hazards=True)  # fmt: skip
    values = recovery_values(time, recovered, data, prior, HORIZON)
    z, v = np.array([0.5, -1.0, 0.2, 0.8]), np.array([0.7, -0.4, 1.1])
    p = {"baseline_smooth_sd": 0.3, "coefficient": np.array([0.2, -0.5, 0.1]),
         "baseline_trend": 0.4, "baseline_intercept": -2.2, "arm_sd": 0.6}  # fmt: skip
    plain, out = evaluate_model(
        build_recovery_model(data, HORIZON, prior), values, p | {"baseline_z": z, "arm_z": v},
        outputs=("arm_log_hazard",),
    )  # fmt: skip
    deterministics = build_recovery_model(data, HORIZON, prior).deterministics
    assert "baseline_smooth" not in {v.name for v in deterministics}  # the posterior as it was
    model = build_recovery_model(data, HORIZON, prior, centred=True)
    names = [variable.name for variable in model.free_RVs]
    assert "baseline_smooth" in names and "arm_u" in names and "arm_z" not in names
    centred, out_c = evaluate_model(
        model, values, p | {"baseline_smooth": 0.3 * z, "arm_u": 0.6 * v},
        outputs=("arm_log_hazard",),
    )  # fmt: skip
    np.testing.assert_allclose(out_c["arm_log_hazard"], out["arm_log_hazard"], rtol=1e-12)
    change = (
        stats.norm(0, 0.3).logpdf(0.3 * z).sum() - stats.norm.logpdf(z).sum()
        + stats.norm(0, 0.6).logpdf(0.6 * v).sum() - stats.norm.logpdf(v).sum()
    )  # fmt: skip
    assert centred - plain == pytest.approx(change, rel=1e-10)
    strong = np.repeat([0, 1, 2, 3], 150)
    data = PatientData(("a", "b", "c", "d"), strong, np.zeros((600, 0)), (), np.ones(600),
                       np.ones(600))  # fmt: skip
    times = np.tile([3.0, float(HORIZON)], 300)
    inputs = recovery_inputs(times, times < HORIZON, data, horizon=HORIZON, prior=prior)
    assert dict(inputs.provenance) == {
        "smooth_parametrisation": "centred", "pooled_levels_parametrisation": "centred"
    }  # fmt: skip


def test_the_parametrisation_follows_the_information_of_every_arm():
    codes = np.repeat([0, 1, 2], [200, 160, 149])
    assert not arms_carry_weight(np.ones(codes.size), codes, 3)  # 149 < CENTRED_MIN_WEIGHT
    assert arms_carry_weight(np.ones(codes.size - 149), codes[:-149], 2)
    assert CENTRED_MIN_WEIGHT == 150.0  # exact: a module constant, not computed


def test_pooling_needs_the_shared_shape():
    with pytest.raises(ModelError, match="proportional_hazards"):
        RecoveryPrior(pool_arms=True)


def test_log_density_and_gradient_are_finite_at_the_initial_point(case, at_initial_point):
    data, time, recovered = case
    prior = RecoveryPrior(rank=4)
    values = recovery_values(time, recovered, data, prior, HORIZON)
    logp, grad = at_initial_point(build_recovery_model(data, HORIZON, prior), values)
    # 4 arm levels, 4 trends, smooth SD, 4 x 4 smooth components, 3 coefficients
    assert np.isfinite(logp) and grad.size == 28 and np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    ("time", "recovered", "message"),
    [
        ([1.5, 2.0], [1, 0], "whole days"),
        ([11.0, 2.0], [1, 0], "0..10"),
        ([0.0, 2.0], [1, 0], "day 1 or later"),
        ([3.0, 2.0], [2, 0], "0 or 1"),
        ([0.0, 0.0], [0, 0], "followed for even one day"),
    ],
)
def test_bad_times_are_refused(time, recovered, message):
    data = PatientData(
        arms=("a", "b"), arm_codes=np.array([0, 1]), design=np.zeros((2, 1)),
        covariates=("x",), weights=np.ones(2), tilt=np.ones(2),
    )  # fmt: skip
    with pytest.raises(ModelError, match=message):
        fit_recovery_model(time, recovered, data, horizon=HORIZON, seed=1)


def test_rank_and_horizon_are_checked(case):
    data, time, recovered = case
    with pytest.raises(ModelError, match="rank 9 exceeds"):
        smooth_basis(HORIZON, 9)
    with pytest.raises(ModelError, match="horizon"):
        fit_recovery_model(time, recovered, data, horizon=2, seed=1)
    with pytest.raises(ModelError, match="rank"):
        RecoveryPrior(rank=0)
