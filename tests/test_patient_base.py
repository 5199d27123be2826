"""The shared base of the patient-level models: PatientData checks, Kish rescaling, caching.

Reference values: the Kish rescaling is checked against a hand calculation (written out in the
test), the zero-sum basis against its defining identities (orthonormal columns, H H^T = I - J/K),
and seed reproducibility against a second fit with the same seed (identical draws) on the
smallest sampled model (response, with no covariate).
"""

from __future__ import annotations

import numpy as np
import pytest

from cit_bayes.bayes.patient_base import PatientData, arm_size_rescale, kish_rescale
from cit_bayes.bayes.patient_blocks import zero_sum_basis
from cit_bayes.bayes.patient_fit import cached_model
from cit_bayes.bayes.response import fit_response_model
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.exceptions import ModelError

ARMS = ("a", "b", "c")


def make_data(**changes) -> PatientData:
    values = {
        "arms": ARMS,
        "arm_codes": np.array([0, 0, 1, 1, 2, 2]),
        "design": np.arange(12, dtype=float).reshape(6, 2),
        "covariates": ("x1", "x2"),
        "weights": np.ones(6),
        "tilt": np.ones(6),
    }
    return PatientData(**(values | changes))


def test_kish_rescale_matches_a_hand_calculation():
    weights = np.array([1.0, 2.0, 3.0, 2.0, 2.0, 5.0])
    codes = np.array([0, 0, 0, 1, 1, 1])
    mask = np.array([True, True, True, True, True, False])
    # arm 0: total 6, sum of squares 14, n_eff = 36 / 14; w * n_eff / total = w * 3 / 7
    # arm 1 (patient 6 masked out): total 4, sum of squares 8, n_eff = 2; w * 2 / 4 = w / 2
    expected = np.array([3 / 7, 6 / 7, 9 / 7, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(kish_rescale(weights, codes, 2, mask), expected, rtol=1e-12)
    rescaled = kish_rescale(weights, codes, 2)
    # without a mask arm 1 has total 9, sum of squares 33: n_eff = 81 / 33, factor 9 / 33
    np.testing.assert_allclose(rescaled[3:], weights[3:] * 9 / 33, rtol=1e-12)
    # each arm's rescaled weights sum to its Kish effective sample size
    assert rescaled[:3].sum() == pytest.approx(36 / 14)
    assert rescaled[3:].sum() == pytest.approx(81 / 33)


def test_arm_size_rescale_matches_a_hand_calculation():
    weights = np.array([1.0, 2.0, 3.0, 2.0, 2.0, 5.0])
    codes = np.array([0, 0, 0, 1, 1, 1])
    mask = np.array([True, True, True, True, True, False])
    # arm 0: 3 patients, total 6: w / 2; arm 1 (patient 6 masked out): 2 patients, total 4: w / 2
    expected = np.array([0.5, 1.0, 1.5, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(arm_size_rescale(weights, codes, 2, mask), expected, rtol=1e-12)
    data = make_data(weights=weights, arm_codes=np.array([0, 0, 0, 1, 1, 2]))
    assert data.weight_scale == "kish"
    np.testing.assert_allclose(data.likelihood_weights(), kish_rescale(weights, data.arm_codes, 3))
    plain = PatientData(**(vars(data) | {"weight_scale": "arm size"})).likelihood_weights()
    np.testing.assert_allclose(plain, [0.5, 1.0, 1.5, 1.0, 1.0, 1.0], rtol=1e-12)
    with pytest.raises(ModelError, match="weight_scale"):
        make_data(weight_scale="n")


def test_kish_rescale_leaves_unit_weights_and_empty_arms_alone():
    codes = np.array([0, 0, 1, 1, 1])
    np.testing.assert_array_equal(kish_rescale(np.ones(5), codes, 3), np.ones(5))
    out = kish_rescale(np.ones(5), codes, 2, mask=np.array([True, True, False, False, False]))
    np.testing.assert_array_equal(out, [1.0, 1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_zero_sum_basis_is_an_orthonormal_basis_of_the_zero_sum_vectors(k):
    basis = zero_sum_basis(k)
    assert basis.shape == (k, k - 1)
    np.testing.assert_allclose(basis.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(basis.T @ basis, np.eye(k - 1), atol=1e-12)
    np.testing.assert_allclose(basis @ basis.T, np.eye(k) - 1.0 / k, atol=1e-12)


def test_zero_sum_basis_needs_two_levels():
    with pytest.raises(ModelError, match="at least 2"):
        zero_sum_basis(1)


def test_patient_data_checks_and_converts():
    data = make_data(arm_codes=[0.0, 0.0, 1.0, 1.0, 2.0, 2.0], weights=[1, 2, 1, 1, 1, 1])
    assert data.arm_codes.dtype == np.int64
    assert data.weights.dtype == float
    assert (data.n, data.n_arms) == (6, 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arms": ("a", "a", "c")}, "distinct arm labels"),
        ({"arms": ("a",), "arm_codes": np.zeros(6, int)}, "at least two arms"),
        ({"arm_codes": np.array([0, 0, 1, 1, 3, 3])}, "must lie in"),
        ({"arm_codes": np.array([0, 0, 1, 1, 1, 1])}, "no patient in arm"),
        ({"arm_codes": np.array([0, 0, 1, 1, 2, 2.5])}, "whole numbers"),
        ({"design": np.zeros((5, 2))}, "design must have shape"),
        ({"design": np.array([[np.nan, 0.0]] + [[0.0, 0.0]] * 5)}, "non-finite"),
        ({"covariates": ("x1",)}, "distinct covariate names"),
        ({"covariates": ("x1", "x1")}, "distinct covariate names"),
        ({"weights": np.array([1.0, -1.0, 1, 1, 1, 1])}, "non-negative"),
        ({"weights": np.array([1.0, np.inf, 1, 1, 1, 1])}, "finite"),
        ({"weights": np.array([0.0, 0.0, 1, 1, 1, 1])}, "sum to zero"),
        ({"weights": np.ones(5)}, "weights must have shape"),
        ({"tilt": np.zeros(6)}, "tilt sums to zero"),
    ],
)
def test_patient_data_rejects_bad_input(changes, message):
    with pytest.raises(ModelError, match=message):
        make_data(**changes)


def test_unadjusted_keeps_patients_and_drops_adjustment():
    data = make_data(weights=np.arange(1.0, 7.0), tilt=np.linspace(0.1, 0.6, 6))
    plain = data.unadjusted()
    np.testing.assert_array_equal(plain.arm_codes, data.arm_codes)
    np.testing.assert_array_equal(plain.design, np.zeros((6, 2)))
    np.testing.assert_array_equal(plain.weights, np.ones(6))
    np.testing.assert_array_equal(plain.tilt, np.ones(6))
    assert plain.covariates == data.covariates and plain.arms == data.arms


def test_cached_model_builds_once_per_key():
    calls = []

    def build():
        calls.append(1)
        return object()

    key = ("test_patient_base", object())
    first = cached_model(key, build)
    assert cached_model(key, build) is first
    assert len(calls) == 1


def _response_fit(seed):
    data = make_data(design=np.zeros((6, 0)), covariates=())
    settings = SamplerSettings(chains=2, draws=300, tune=200, min_ess=100)
    return fit_response_model(np.array([1, 0, 1, 1, 0, 1]), data, seed=seed, settings=settings)


@pytest.mark.filterwarnings("ignore::cit_bayes.exceptions.ConvergenceWarning")
def test_same_seed_gives_identical_draws():
    # a short fit: what is checked is reproducibility, not convergence
    first, again, other = _response_fit(5), _response_fit(5), _response_fit(6)
    np.testing.assert_array_equal(first.draws["rate"].values, again.draws["rate"].values)
    assert not np.array_equal(first.draws["rate"].values, other.draws["rate"].values)
    assert first.idata.posterior.attrs["seed"] == 5
