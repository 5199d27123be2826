"""Estimand weights against hand calculations.

Reference values:
- the four-patient, three-arm example below, worked by hand from w = h(x) / e_a(x) with the
  tilting functions of Li & Li (2019, Table 1): ATE h = 1, ATO h = 1 / sum_k 1/e_k,
  ATT h = e_t, matching h = min_k e_k (the fractions are written out next to each number);
- the classic two-arm overlap weights of Li, Morgan & Zaslavsky (2018): 1 - e for the treated,
  e for the controls;
- a saturated model (one categorical covariate) whose unpenalised maximum-likelihood
  propensities are the observed arm shares within each level, so that the estimator's weights
  are known in closed form;
- the derivative of the weights against central finite differences (step 1e-6, tolerance 1e-6);
- a property test (hypothesis) of bounds that follow from the definitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cit_bayes.exceptions import BalanceWarning, WeightingError
from cit_bayes.weighting import PropensityWeighting, estimand_weights
from cit_bayes.weighting.weights import (
    tilting,
    tilting_weights,
    trim_mask,
    truncate_weights,
    truncation_bounds,
    weight_gradient,
)

ARMS3 = ["A", "B", "C"]
PROPENSITY = pd.DataFrame(
    [[0.2, 0.3, 0.5], [0.5, 0.25, 0.25], [0.1, 0.6, 0.3], [0.4, 0.4, 0.2]], columns=ARMS3
)
ARM = ["A", "B", "C", "C"]

HAND = {
    # 1 / e_own
    "ate": [5.0, 4.0, 10 / 3, 5.0],
    # sum 1/e = 31/3, 10, 15, 10 -> h = 3/31, 1/10, 1/15, 1/10; w = h / e_own
    "ato": [15 / 31, 0.4, 2 / 9, 0.5],
    # focal A: e_A / e_own
    "att": [1.0, 2.0, 1 / 3, 2.0],
    # min e / e_own: 0.2/0.2, 0.25/0.25, 0.1/0.3, 0.2/0.2
    "matching": [1.0, 1.0, 1 / 3, 1.0],
}


@pytest.mark.parametrize("estimand", sorted(HAND))
def test_weights_equal_hand_calculation(estimand):
    weights = estimand_weights(PROPENSITY, ARM, estimand, reference="A")
    np.testing.assert_allclose(weights.to_numpy(), HAND[estimand], rtol=0, atol=1e-12)
    assert weights.name == "weight"


def test_tilting_functions_by_hand():
    e = PROPENSITY.to_numpy()
    np.testing.assert_allclose(tilting(e, "ato"), [3 / 31, 0.1, 1 / 15, 0.1], atol=1e-12)
    np.testing.assert_allclose(tilting(e, "matching"), [0.2, 0.25, 0.1, 0.2], atol=1e-12)
    np.testing.assert_allclose(tilting(e, "att", focal=1), [0.3, 0.25, 0.6, 0.4], atol=1e-12)


def test_two_arm_ato_equals_classic_overlap_weights():
    e_treated = np.array([0.1, 0.35, 0.5, 0.8, 0.95, 0.6])
    propensity = pd.DataFrame({"control": 1 - e_treated, "treated": e_treated})
    arm = ["treated", "control", "treated", "control", "treated", "control"]
    weights = estimand_weights(propensity, arm, "ato").to_numpy()
    treated = np.array(arm) == "treated"
    classic = np.where(treated, 1 - e_treated, e_treated)
    np.testing.assert_allclose(weights, classic, atol=1e-12)


def test_att_needs_a_focal_arm_and_labels_must_match():
    with pytest.raises(WeightingError, match="att"):
        estimand_weights(PROPENSITY, ARM, "att")
    with pytest.raises(WeightingError, match="not propensity columns"):
        estimand_weights(PROPENSITY, ["A", "B", "C", "D"], "ate")
    with pytest.raises(WeightingError, match="estimand"):
        estimand_weights(PROPENSITY, ARM, "atc")
    with pytest.raises(WeightingError, match="sum to 1"):
        estimand_weights(PROPENSITY * 2, ARM, "ate")


def test_zero_own_arm_propensity_is_an_error_not_inf():
    propensity = pd.DataFrame([[1.0, 0.0], [0.5, 0.5]], columns=["a", "b"])
    with pytest.raises(WeightingError, match="positive"):
        estimand_weights(propensity, ["b", "a"], "ate")


@pytest.mark.parametrize("estimand", ["ate", "ato", "att", "matching"])
def test_weight_gradient_matches_finite_differences(estimand):
    rng = np.random.default_rng(7)
    e = rng.dirichlet([2, 3, 4], size=20)
    codes = rng.integers(0, 3, size=20)
    analytic = weight_gradient(e, codes, estimand, focal=2)
    step = 1e-6
    for k in range(3):
        up, down = e.copy(), e.copy()
        up[:, k] += step
        down[:, k] -= step
        numeric = (
            tilting(up, estimand, 2) / up[np.arange(20), codes]
            - tilting(down, estimand, 2) / down[np.arange(20), codes]
        ) / (2 * step)
        np.testing.assert_allclose(analytic[:, k], numeric, rtol=1e-6, atol=1e-6)


# A saturated example: level u has arms (A, A, B, C), level v has (A, B, C, C), level w has
# eight A, one B and one C (arm sizes 11, 3, 4). The unpenalised MLE gives e(u) = (1/2, 1/4, 1/4),
# e(v) = (1/4, 1/4, 1/2), e(w) = (0.8, 0.1, 0.1).
def saturated_example():
    level = ["u"] * 4 + ["v"] * 4 + ["w"] * 10
    arm = ["A", "A", "B", "C", "A", "B", "C", "C"] + ["A"] * 8 + ["B", "C"]
    return pd.DataFrame({"level": level}), pd.Series(arm, name="arm")


SATURATED_PROPENSITY = {"u": [0.5, 0.25, 0.25], "v": [0.25, 0.25, 0.5], "w": [0.8, 0.1, 0.1]}


def test_saturated_model_gives_observed_shares_and_hand_weights():
    X, arm = saturated_example()
    fitted = PropensityWeighting("ato", penalty=0, rare_level_min=1).fit(X, arm)
    expected = np.array([SATURATED_PROPENSITY[v] for v in X["level"]])
    np.testing.assert_allclose(fitted.propensity_.to_numpy(), expected, atol=1e-9)
    # ATO: sum 1/e = 10 in u and v -> h = 0.1; in w: 1.25 + 10 + 10 = 21.25 -> h = 4/85
    h = {"u": 0.1, "v": 0.1, "w": 4 / 85}
    own = expected[np.arange(len(arm)), arm.map({"A": 0, "B": 1, "C": 2})]
    hand = np.array([h[v] for v in X["level"]]) / own
    np.testing.assert_allclose(fitted.weights_.to_numpy(), hand, atol=1e-9)
    # a saturated model balances its level shares exactly for every estimand
    assert fitted.balance()["smd_weighted"].max() < 1e-8


def test_trimming_rule_and_report_by_hand():
    X, arm = saturated_example()
    # alpha = 0.15: level w has min_k e_k = 0.1 < 0.15, so its ten patients (8 A, 1 B, 1 C)
    # are trimmed; u and v (min 0.25) are kept.
    fitted = PropensityWeighting("ate", penalty=0, rare_level_min=1, trim=0.15).fit(X, arm)
    assert fitted.trimmed_.set_index("arm")["n_trimmed"].to_dict() == {"A": 8, "B": 1, "C": 1}
    assert not fitted.included_.iloc[8:].any() and fitted.included_.iloc[:8].all()
    np.testing.assert_array_equal(fitted.weights_.iloc[8:].to_numpy(), 0.0)
    # ATE weights of the kept: 1/e_own -> u: A 2, A 2, B 4, C 4; v: A 4, B 4, C 2, C 2
    np.testing.assert_allclose(fitted.weights_.iloc[:8], [2, 2, 4, 4, 4, 4, 2, 2], atol=1e-8)


def test_trim_mask_and_bounds():
    e = PROPENSITY.to_numpy()
    np.testing.assert_array_equal(trim_mask(e, 0.15), [True, True, False, True])
    np.testing.assert_array_equal(trim_mask(e, None), [True] * 4)
    with pytest.raises(WeightingError, match="trim"):
        trim_mask(e, 0.4)  # not below 1/k = 1/3


def test_truncation_by_hand():
    # 11 weights 0, 1, ..., 10; numpy's linear percentiles: 10th = 1.0, 90th = 9.0.
    weights = np.arange(11.0)
    included = np.ones(11, dtype=bool)
    clipped, raised, lowered = truncate_weights(weights, included, 10)
    np.testing.assert_allclose(clipped, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9])
    assert raised.sum() == 1 and lowered.sum() == 1 and raised[0] and lowered[10]
    assert truncation_bounds((1, 99)) == (1.0, 99.0)
    with pytest.raises(WeightingError, match="percentiles"):
        truncation_bounds((60, 99))


def test_truncation_report_in_estimator():
    X, arm = saturated_example()
    # ATE weights: u: 2 2 4 4, v: 4 4 2 2, w: 1.25 x 8, 10, 10. Sorted, these 18 numbers are
    # 1.25 x 8, 2 x 4, 4 x 4, 10, 10. numpy's linear percentiles sit at position p/100 * 17:
    # the 5th at 0.85 (between 1.25 and 1.25 -> 1.25), the 90th at 15.3 (between 4 and 10 ->
    # 4 + 0.3 * 6 = 5.8). So the two weights of 10 (arms B and C in w) are lowered to 5.8 and
    # none is raised. Truncation breaks the exact balance of the saturated model: warned.
    with pytest.warns(BalanceWarning, match="level=w"):
        fitted = PropensityWeighting("ate", penalty=0, rare_level_min=1, truncate=(5, 90)).fit(
            X, arm
        )
    report = fitted.truncated_.set_index("arm")
    assert report["n_lowered"].to_dict() == {"A": 0, "B": 1, "C": 1}
    assert report["n_raised"].sum() == 0
    np.testing.assert_allclose(fitted.weights_.iloc[16:], 5.8, atol=1e-8)
    np.testing.assert_allclose(report["upper_bound"].iloc[0], 5.8, atol=1e-8)


def test_stabilised_weights_sum_to_arm_size_and_keep_ratios():
    X, arm = saturated_example()
    plain = PropensityWeighting("ate", penalty=0, rare_level_min=1).fit(X, arm)
    stable = PropensityWeighting("ate", penalty=0, rare_level_min=1, stabilize=True).fit(X, arm)
    sums = stable.weights_.groupby(arm.to_numpy()).sum()
    np.testing.assert_allclose(sums.to_numpy(), [11, 3, 4], atol=1e-9)  # arm sizes
    for label in ["A", "B", "C"]:
        rows = (arm == label).to_numpy()
        ratio = stable.weights_[rows] / plain.weights_[rows]
        np.testing.assert_allclose(ratio, ratio.iloc[0], atol=1e-12)
    pd.testing.assert_frame_equal(plain.balance(), stable.balance())


@settings(max_examples=60, deadline=None)
@given(
    concentration=st.lists(st.floats(0.2, 5.0), min_size=2, max_size=5),
    seed=st.integers(0, 2**16),
    estimand=st.sampled_from(["ate", "ato", "att", "matching"]),
)
def test_weights_are_finite_positive_and_bounded(concentration, seed, estimand):
    # any interior propensities: weights finite and positive; ATO and matching weights <= 1
    # (h <= e_k for every k); ATT weights of the focal arm equal 1
    rng = np.random.default_rng(seed)
    k = len(concentration)
    e = np.clip(rng.dirichlet(concentration, size=30), 1e-9, None)
    e /= e.sum(axis=1, keepdims=True)
    codes = rng.integers(0, k, size=30)
    w = tilting_weights(e, codes, estimand, focal=0)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    if estimand in ("ato", "matching"):
        assert np.all(w <= 1 + 1e-12)
    if estimand == "att":
        np.testing.assert_allclose(w[codes == 0], 1.0)
