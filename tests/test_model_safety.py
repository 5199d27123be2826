"""The safety model: a Beta-binomial rate per event and arm, weighted pseudo-counts.

Reference values: with unit weights the posterior of every rate is Beta(a + Y, b + N) with Y
events and N non-events (conjugacy; Gelman et al., *Bayesian Data Analysis*, 3rd ed., ch. 2),
drawn directly: the draws are compared with scipy's Beta (Kolmogorov-Smirnov, and mean and SD
within stated Monte Carlo tolerances); with weights, with the Beta of the Kish-rescaled
pseudo-counts. Weighted pseudo-counts are checked against a hand
calculation (Kish rescaling within arm over the patients with the event recorded). The cohort is
the shared small simulated cohort of the test suite (``tests/conftest.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.safety import (
    fit_safety_model,
    weighted_event_counts,
)
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.cohort import read_cohort
from cit_bayes.cohort.schema import SAFETY_OUTCOMES
from cit_bayes.exceptions import ModelError, WeightingWarning

#: 2 x 1000 independent draws.
SETTINGS = SamplerSettings(chains=2, draws=1000)


@pytest.fixture(scope="module")
def cohort(small_cohort_csv):
    from cit_bayes.weighting.design import encode_covariates

    cohort = read_cohort(small_cohort_csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightingWarning)  # constant covariates are dropped
        design = encode_covariates(cohort.covariates(), rare_level_min=5)
    arms = cohort.arms
    data = PatientData(
        arms=arms,
        arm_codes=np.array([arms.index(a) for a in cohort.data["arm"]]),
        design=design.model_matrix,
        covariates=tuple(design.model_columns["design_column"]),
        weights=np.ones(cohort.n),
        tilt=np.ones(cohort.n),
    )
    events = cohort.data[list(SAFETY_OUTCOMES)].to_numpy(dtype=float)
    return data, events


def test_posterior_is_the_conjugate_beta_with_unit_weights(cohort):
    data, events = cohort
    fit = fit_safety_model(events, data, event_names=SAFETY_OUTCOMES, seed=3, settings=SETTINGS)
    rate = fit.draws["rate"]
    assert rate.dims == ("chain", "draw", "event", "arm")
    assert list(rate["event"].values) == list(SAFETY_OUTCOMES)
    assert tuple(rate["arm"].values) == data.arms
    assert fit.passed and fit.fit.sampler == "exact"
    assert fit.fit.compile_seconds == 0.0  # exact: a constant set by exact_fit, not measured
    for e, event in enumerate(SAFETY_OUTCOMES):
        for j, arm in enumerate(data.arms):
            y = events[data.arm_codes == j, e]
            exact = stats.beta(1.0 + y.sum(), 1.0 + (1 - y).sum())
            draws = rate.sel(event=event, arm=arm).values.ravel()
            # 2000 independent draws: the Monte Carlo SE of the mean is sd / 45, so 0.15 sd is
            # more than 6 MCSE; the SD itself is estimated within about 1.6 % (1 SE)
            assert abs(draws.mean() - exact.mean()) < 0.15 * exact.std(), (event, arm)
            assert draws.std() == pytest.approx(exact.std(), rel=0.08), (event, arm)
            assert stats.kstest(draws, exact.cdf).pvalue > 1e-4, (event, arm)


def test_weighted_posterior_is_the_beta_of_the_pseudo_counts(cohort):
    data, events = cohort
    weights = np.linspace(0.5, 2.0, data.n)
    weighted = PatientData(
        data.arms, data.arm_codes, data.design, data.covariates, weights, np.ones(data.n)
    )
    fit = fit_safety_model(events, weighted, event_names=SAFETY_OUTCOMES, seed=4, settings=SETTINGS)
    yes, no, _, _ = weighted_event_counts(events, weighted)
    constant = fit.idata["constant_data"]
    np.testing.assert_allclose(constant["weighted_events"].values, yes)
    for e, event in enumerate(SAFETY_OUTCOMES):
        for j, arm in enumerate(data.arms):
            exact = stats.beta(1.0 + yes[e, j], 1.0 + no[e, j])
            draws = fit.draws["rate"].sel(event=event, arm=arm).values.ravel()
            assert stats.kstest(draws, exact.cdf).pvalue > 1e-4, (event, arm)


def test_same_seed_same_draws_and_provenance(cohort):
    data, events = cohort
    first, again, other = (
        fit_safety_model(events, data, event_names=SAFETY_OUTCOMES, seed=s, settings=SETTINGS)
        for s in (5, 5, 6)
    )
    np.testing.assert_array_equal(first.draws["rate"].values, again.draws["rate"].values)
    assert not np.array_equal(first.draws["rate"].values, other.draws["rate"].values)
    attrs = first.idata["posterior"].attrs
    assert attrs["seed"] == 5 and attrs["sampler"] == "exact" and attrs["model"] == "safety"


def test_weighted_pseudo_counts_match_a_hand_calculation():
    data = PatientData(
        arms=("a", "b"),
        arm_codes=np.array([0, 0, 0, 1, 1]),
        design=np.zeros((5, 1)),
        covariates=("x",),
        weights=np.array([1.0, 3.0, 2.0, 1.0, 1.0]),
        tilt=np.ones(5),
    )
    events = np.array([[1.0], [0.0], [np.nan], [1.0], [0.0]])
    yes, no, count, ess = weighted_event_counts(events, data)
    # arm a, patients 1-2 recorded: weights (1, 3), total 4, n_eff = 16 / 10 = 1.6,
    # rescaled (0.4, 1.2): 0.4 events, 1.2 non-events. Arm b: unit weights, 1 and 1.
    np.testing.assert_allclose(yes, [[0.4, 1.0]])
    np.testing.assert_allclose(no, [[1.2, 1.0]])
    np.testing.assert_array_equal(count, [[2, 2]])
    np.testing.assert_allclose(ess, [[1.6, 2.0]])


def test_bad_input_is_refused(cohort):
    data, events = cohort
    with pytest.raises(ModelError, match="event names"):
        fit_safety_model(events, data, event_names=SAFETY_OUTCOMES[:2], seed=1)
    with pytest.raises(ModelError, match="0, 1 or missing"):
        fit_safety_model(events * 2, data, event_names=SAFETY_OUTCOMES, seed=1)
    empty = events.copy()
    empty[data.arm_codes == 0, 0] = np.nan
    with pytest.raises(ModelError, match="no recorded value"):
        fit_safety_model(empty, data, event_names=SAFETY_OUTCOMES, seed=1)
