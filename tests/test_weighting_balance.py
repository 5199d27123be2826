"""Balance statistics, effective sample sizes and weight summaries against hand calculations, and
the exact mean-balance property of overlap weights.

Reference values:
- the seven-patient, three-arm table below, worked by hand (each number's arithmetic is written
  next to it): SMD with the denominator sqrt((s_a^2 + s_b^2) / 2) of *unweighted* variances
  (sample variance for numeric, p(1-p) for a level), its fallback to the all-patient variance,
  reliability-weighted variances, Kish ESS (sum w)^2 / sum w^2, coefficient of variation and the
  top-1% weight share;
- theory: with two arms, an unpenalised logistic propensity model and ATO weights, the weighted
  means of every model covariate are equal (Li, Morgan & Zaslavsky 2018), checked to
  1e-8 in |SMD|; with three arms the generalized overlap weights do not balance exactly (Li & Li
  2019), checked as a maximum |SMD| above 1e-4, and their weight totals differ (by more than
  0.1, less than 1 %), penalised or not; with two arms and a ridge penalty the arms' weight
  totals stay equal (unpenalised intercept) while the means do not.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cit_bayes.exceptions import WeightingError
from cit_bayes.weighting import (
    PropensityWeighting,
    balance_summary,
    balance_table,
    effective_sample_size,
    propensity_overlap,
    weight_summary,
)

ARM = ["A", "A", "A", "B", "B", "C", "C"]
X = pd.DataFrame({"x": [1, 2, 3, 2, 4, 3, 5], "g": ["u", "v", "u", "v", "v", "w", "w"]})
W = np.array([1, 1, 2, 1, 3, 1, 1], dtype=float)


def row(table, covariate, level, arm_a, arm_b):
    mask = (
        (table["covariate"] == covariate)
        & (table["level"] == level)
        & (table["arm_a"] == arm_a)
        & (table["arm_b"] == arm_b)
    )
    assert mask.sum() == 1
    return table[mask].iloc[0]


def test_numeric_smd_and_variance_ratio_by_hand():
    table = balance_table(X, ARM, W)
    r = row(table, "x", "", "A", "B")
    # A: x = 1, 2, 3 (mean 2, var 1); B: x = 2, 4 (mean 3, var 2); denominator sqrt(1.5)
    assert r["mean_a_unweighted"] == pytest.approx(2.0)
    assert r["smd_denominator"] == pytest.approx(math.sqrt(1.5), abs=1e-12)
    assert r["smd_unweighted"] == pytest.approx(1 / math.sqrt(1.5), abs=1e-12)
    # weighted means: A (1 + 2 + 6) / 4 = 2.25; B (2 + 12) / 4 = 3.5; same denominator
    assert r["mean_a_weighted"] == pytest.approx(2.25)
    assert r["mean_b_weighted"] == pytest.approx(3.5)
    assert r["difference_weighted"] == pytest.approx(-1.25)
    assert r["smd_weighted"] == pytest.approx(1.25 / math.sqrt(1.5), abs=1e-12)
    # weighted variances: A sum w (x - 2.25)^2 = 1.5625 + 0.0625 + 1.125 = 2.75 over
    # V1 - V2/V1 = 4 - 6/4 = 2.5 -> 1.1; B (2.25 + 0.75) / (4 - 10/4) = 2
    assert r["variance_ratio_unweighted"] == pytest.approx(0.5, abs=1e-12)
    assert r["variance_ratio_weighted"] == pytest.approx(0.55, abs=1e-12)


def test_level_smd_by_hand_with_fallback_denominator():
    table = balance_table(X, ARM, W)
    # g = u: A shares 2/3 (var 2/9), B 0 (var 0): denominator sqrt(1/9) = 1/3
    r = row(table, "g", "u", "A", "B")
    assert r["smd_unweighted"] == pytest.approx(2.0, abs=1e-12)
    # weighted share in A: (1 + 2) / 4 = 0.75 -> 0.75 / (1/3) = 2.25
    assert r["smd_weighted"] == pytest.approx(2.25, abs=1e-12)
    assert np.isnan(r["variance_ratio_unweighted"])  # arm B's variance is 0
    # g = w: absent in A and C has it always -> both variances 0 -> all-patient p(1-p) with
    # p = 2/7: sqrt(10/49) = sqrt(10)/7; SMD = 1 / (sqrt(10)/7) = 7/sqrt(10)
    r = row(table, "g", "w", "A", "C")
    assert r["smd_denominator"] == pytest.approx(math.sqrt(10) / 7, abs=1e-12)
    assert r["smd_unweighted"] == pytest.approx(7 / math.sqrt(10), abs=1e-12)
    # the max over pairs of g = w is this pair (B vs C is the same)
    assert r["max_smd_unweighted"] == pytest.approx(7 / math.sqrt(10), abs=1e-12)


def test_balance_summary_takes_the_maximum_over_pairs():
    table = balance_table(X, ARM, W)
    summary = balance_summary(table).set_index(["covariate", "level"])
    x_rows = table[table["covariate"] == "x"]
    assert summary.loc[("x", ""), "max_smd_weighted"] == pytest.approx(x_rows["smd_weighted"].max())
    # x: A-B 1.25/sqrt(1.5) = 1.0206; A-C |2.25 - 4| / sqrt((1 + 2)/2) = 1.4289; B-C 0.5/1.414
    assert summary.loc[("x", ""), "pair_max_weighted"] == "A vs C"
    assert len(table) == 4 * 3  # 4 rows (x, g=u, g=v, g=w) x 3 pairs


def test_effective_sample_size_by_hand():
    ess = effective_sample_size(W, ARM).set_index("arm")
    # A: (1+1+2)^2 / (1+1+4) = 16/6; B: 16/10; C: 4/2
    np.testing.assert_allclose(ess["ess"], [16 / 6, 1.6, 2.0], atol=1e-12)
    np.testing.assert_allclose(ess["ess_share"], [16 / 18, 0.8, 1.0], atol=1e-12)
    assert ess["n"].tolist() == [3, 2, 2]


def test_weight_summary_by_hand():
    summary = weight_summary(W, ARM)
    overall = summary[summary["scope"] == "all"].iloc[0]
    # weights 1,1,2,1,3,1,1: mean 10/7; population variance 18/7 - 100/49 = 26/49;
    # cv = (sqrt(26)/7) / (10/7) = sqrt(26)/10; top 1% = ceil(0.07) = 1 patient: 3 / 10
    assert overall["max"] == 3
    assert overall["mean"] == pytest.approx(10 / 7)
    assert overall["cv"] == pytest.approx(math.sqrt(26) / 10, abs=1e-12)
    assert overall["top1_n"] == 1
    assert overall["top1_share"] == pytest.approx(0.3, abs=1e-12)
    arm_a = summary[summary["arm"] == "A"].iloc[0]
    assert arm_a["top1_share"] == pytest.approx(0.5)  # 2 of 4


def test_overlap_support_by_hand():
    propensity = pd.DataFrame({"A": [0.2, 0.5, 0.9, 0.4], "B": [0.8, 0.5, 0.1, 0.6]})
    overlap = propensity_overlap(propensity, ["A", "A", "B", "B"])
    r = overlap[(overlap["propensity_arm"] == "A") & (overlap["arm"] == "A")].iloc[0]
    # e_A in arm A: 0.2, 0.5; in arm B: 0.9, 0.4 -> support [max(0.2, 0.4), min(0.5, 0.9)]
    assert (r["support_low"], r["support_high"]) == (0.4, 0.5)
    assert r["n_outside_support"] == 1  # 0.2
    assert r["median"] == pytest.approx(0.35)


def test_bad_weights_are_rejected():
    with pytest.raises(WeightingError, match="finite and non-negative"):
        balance_table(X, ARM, np.r_[W[:-1], np.nan])
    with pytest.raises(WeightingError, match="expected 7 weights"):
        effective_sample_size(W[:3], ARM)


def test_arm_with_one_patient_or_one_positive_weight_is_an_error():
    # Before: arm C's sample variance of x is NaN (one patient), and the SMD silently used the SD
    # of all patients. Now a WeightingError names the arm.
    arm = ["A", "A", "A", "B", "B", "B", "C"]
    with pytest.raises(WeightingError, match="arm 'C' has 1 patient"):
        balance_table(X, arm, W)
    with pytest.raises(WeightingError, match="arm 'B' has 1 patient.*positive weight"):
        balance_table(X, ARM, np.r_[W[:3], 0.0, W[4], 1.0, 1.0])
    # two patients with positive weight are enough: x in B (2, 4) and C (3, 5) have sample
    # variance 2 each, so SMD = |3 - 4| / sqrt((2 + 2) / 2) = 1 / sqrt(2)
    table = balance_table(X[["x"]], ARM, W)
    smd = table.set_index(["arm_a", "arm_b"]).loc[("B", "C"), "smd_unweighted"]
    assert smd == pytest.approx(1 / math.sqrt(2), rel=1e-12)


def confounded(n, n_arms, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "bmi": rng.normal(23, 3, n),
            "stage": rng.choice(["II", "III", "IV"], n, p=[0.2, 0.3, 0.5]),
            "metastasis": rng.integers(0, 2, n),
        }
    )
    logits = np.zeros((n, n_arms))
    for k in range(1, n_arms):
        logits[:, k] = (
            0.04 * k * (frame["age"] - 60)
            - 0.3 * (frame["stage"] == "IV")
            + 0.6 * (k % 2) * frame["metastasis"]
        )
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return frame, pd.Series(np.array(["arm0", "arm1", "arm2", "arm3"])[codes])


def test_exact_balance_of_two_arm_overlap_weights_unpenalised():
    X2, arm = confounded(400, 2, seed=11)
    fitted = PropensityWeighting("ato", penalty=0).fit(X2, arm)
    table = fitted.balance()
    assert table["smd_unweighted"].max() > 0.1  # there was imbalance to remove
    assert table["smd_weighted"].max() < 1e-8
    # the same on the raw means of the model columns
    w, a = fitted.weights_.to_numpy(), arm.to_numpy()
    Z = fitted.design_.model_matrix
    means = [np.average(Z[a == label], axis=0, weights=w[a == label]) for label in ["arm0", "arm1"]]
    np.testing.assert_allclose(means[0], means[1], atol=1e-9)


def test_three_arm_overlap_weights_do_not_balance_exactly():
    X3, arm = confounded(600, 3, seed=12)
    fitted = PropensityWeighting("ato", penalty=0).fit(X3, arm)
    assert fitted.balance()["smd_weighted"].max() > 1e-4
    # nor are the arms' weight totals equal, with or without a ridge penalty (unlike two arms):
    # measured 56.43, 56.33, 56.11 unpenalised and 56.47, 56.45, 56.19 with penalty 1
    for penalty in (0.0, 1.0):
        refit = PropensityWeighting("ato", penalty=penalty).fit(X3, arm)
        totals = refit.weights_.groupby(arm.to_numpy()).sum()
        assert totals.max() - totals.min() > 0.1
        assert totals.max() / totals.min() < 1.01


def test_ridge_keeps_equal_weight_totals_but_not_exact_means():
    X2, arm = confounded(400, 2, seed=11)
    fitted = PropensityWeighting("ato", penalty=5.0).fit(X2, arm)
    totals = fitted.weights_.groupby(arm.to_numpy()).sum()
    assert totals.iloc[0] == pytest.approx(totals.iloc[1], abs=1e-9)
    assert fitted.balance()["smd_weighted"].max() > 1e-4
