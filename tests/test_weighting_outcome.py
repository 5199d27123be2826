"""Weighted outcome estimates: Hajek means, the two sandwich variances, the bootstrap.

Reference values:
- Hajek means on the saturated example (propensities known in closed form) computed by hand;
- the fixed-weights sandwich against its closed form sum w^2 (y - mu)^2 / (sum w)^2;
- the M-estimation sandwich against an independent implementation in this file: the stacked
  estimating equations (multinomial logit score in the reference-arm parameterisation, then the
  Hajek equations) with the bread A computed by central finite differences and
  V = A^-1 B A^-T / n (Lunceford & Davidian 2004, Section 3.2); relative tolerance 1e-4;
- the bootstrap standard error against the sandwich on one simulated data set (within 20%);
- slow: coverage of the sandwich 95% interval over 1000 simulated cohorts of 300 patients with a
  homogeneous treatment effect (the true difference is then the same for every estimand),
  expected in [0.93, 0.97] (about 3 binomial SDs around 0.95), and the root-mean-square sandwich
  SE against the Monte Carlo SD of the estimates, expected within 8%.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cit_bayes.exceptions import (
    BalanceWarning,
    NotFittedError,
    PositivityWarning,
    WeightingError,
    WeightingWarning,
)
from cit_bayes.weighting import PropensityWeighting, weighted_outcome
from cit_bayes.weighting.outcome import METHOD_ESTIMATED, METHOD_FIXED
from cit_bayes.weighting.weights import tilting


def saturated_example():
    level = ["u"] * 4 + ["v"] * 4 + ["w"] * 10
    arm = ["A", "A", "B", "C", "A", "B", "C", "C"] + ["A"] * 8 + ["B", "C"]
    y = [1, 0, 1, 1, 0, 1, 0, 1] + [1, 1, 0, 0, 1, 0, 1, 0] + [1, 0]
    return pd.DataFrame({"level": level}), pd.Series(arm), np.array(y, dtype=float)


def test_hajek_means_and_contrasts_by_hand():
    X, arm, y = saturated_example()
    fitted = PropensityWeighting("ate", penalty=0, rare_level_min=1).fit(X, arm)
    with pytest.warns(WeightingWarning, match="'B' \\(100%\\) has the same outcome"):
        result = weighted_outcome(fitted, y)  # B: 3 of 3 respond (score intervals, tested below)
    # ATE weights 1/e_own: u (e = .5, .25, .25): A 2, A 2, B 4, C 4; v (.25, .25, .5):
    # A 4, B 4, C 2, C 2; w (.8, .1, .1): A 1.25 x 8, B 10, C 10.
    # A: (2*1 + 2*0 + 4*0 + 1.25*(1+1+0+0+1+0+1+0)) / (2+2+4+10) = 7 / 18
    # B: (4*1 + 4*1 + 10*1) / 18 = 1;  C: (4*1 + 2*0 + 2*1 + 10*0) / 18 = 6 / 18
    means = result[result["quantity"] == "arm_mean"].set_index("arm")["estimate"]
    np.testing.assert_allclose(means[["A", "B", "C"]], [7 / 18, 1.0, 1 / 3], atol=1e-9)
    # unweighted: A outcomes 1, 0 (u), 0 (v), 1,1,0,0,1,0,1,0 (w) -> 5/11; B 1, 1, 1 -> 1;
    # C 1 (u), 0, 1 (v), 0 (w) -> 2/4
    unweighted = result[result["quantity"] == "arm_mean"].set_index("arm")["unweighted_estimate"]
    np.testing.assert_allclose(unweighted[["A", "B", "C"]], [5 / 11, 1.0, 2 / 4], atol=1e-12)
    differences = result[result["quantity"] == "difference"]
    # default: every pair, later arm minus earlier arm
    assert list(zip(differences["arm"], differences["comparator"], strict=True)) == [
        ("B", "A"),
        ("C", "A"),
        ("C", "B"),
    ]
    np.testing.assert_allclose(differences["estimate"], [1 - 7 / 18, 1 / 3 - 7 / 18, 1 / 3 - 1])
    with pytest.warns(WeightingWarning, match="same outcome"):
        versus_c = weighted_outcome(fitted, y, reference="C")
    pairs = versus_c[versus_c["quantity"] == "difference"][["arm", "comparator"]]
    assert pairs.values.tolist() == [["A", "C"], ["B", "C"]]


def test_fixed_weights_sandwich_closed_form():
    X, arm, y = saturated_example()
    with pytest.warns(BalanceWarning):
        fitted = PropensityWeighting("ate", penalty=0, rare_level_min=1, truncate=(5, 90)).fit(
            X, arm
        )
    with pytest.warns(WeightingWarning, match="'B' \\(100%\\) has the same outcome"):
        result = weighted_outcome(fitted, y, confidence=0.9)
    assert set(result["sandwich_method"]) == {METHOD_FIXED}
    w, a = fitted.weights_.to_numpy(), arm.to_numpy()
    for label in ["A", "B", "C"]:
        wa, ya = w[a == label], y[a == label]
        mu = np.sum(wa * ya) / wa.sum()
        se = np.sqrt(np.sum(wa**2 * (ya - mu) ** 2)) / wa.sum()
        row = result[(result["quantity"] == "arm_mean") & (result["arm"] == label)].iloc[0]
        assert row["estimate"] == pytest.approx(mu, abs=1e-12)
        assert row["se_sandwich"] == pytest.approx(se, abs=1e-12, rel=1e-10)
        if label == "B":  # 3 of 3 respond: Wilson at p = 1 is [n / (n + z^2), 1], n the Kish ESS
            n_eff = wa.sum() ** 2 / np.sum(wa**2)
            assert row["ci_low_sandwich"] == pytest.approx(n_eff / (n_eff + 1.6448536**2))
            assert row["ci_high_sandwich"] == pytest.approx(1.0, abs=1e-12)
            continue
        assert row["ci_high_sandwich"] - row["estimate"] == pytest.approx(1.6448536 * se, rel=1e-6)


def simulated(n, n_arms, seed, effect=None):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "stage": rng.choice(["II", "III", "IV"], n, p=[0.25, 0.25, 0.5]),
            "metastasis": rng.integers(0, 2, n),
        }
    )
    logits = np.zeros((n, n_arms))
    for k in range(1, n_arms):
        logits[:, k] = 0.03 * k * (X["age"] - 60) + 0.5 * (k % 2) * X["metastasis"] - 0.2 * k
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    effect = np.zeros(n_arms) if effect is None else np.asarray(effect)
    y = (
        0.05 * (X["age"] - 60)
        + 1.0 * X["metastasis"]
        + 0.5 * (X["stage"] == "IV")
        + effect[codes]
        + rng.normal(0, 1, n)
    ).to_numpy()
    return X, pd.Series(np.array(["a0", "a1", "a2", "a3"])[codes]), y


def independent_sandwich(fitted, y, estimand, focal=None):
    """Stacked M-estimation in the reference-arm parameterisation; numerical bread."""
    Z1 = np.column_stack([np.ones(len(y)), fitted.design_.model_matrix])
    e_hat = fitted.propensity_.to_numpy()
    codes = fitted._codes
    k, (n, p1) = e_hat.shape[1], Z1.shape
    # recover the reference-parameterised coefficients: log(e_j / e_0) is linear in Z1
    beta = np.vstack(
        [np.linalg.lstsq(Z1, np.log(e_hat[:, j] / e_hat[:, 0]), rcond=None)[0] for j in range(1, k)]
    )
    mu = np.array(
        [np.average(y[codes == j], weights=fitted.weights_[codes == j]) for j in range(k)]
    )
    theta = np.concatenate([beta.ravel(), mu])
    onehot = np.eye(k)[codes]

    def psi(theta):
        b = theta[: (k - 1) * p1].reshape(k - 1, p1)
        m = theta[(k - 1) * p1 :]
        eta = np.column_stack([np.zeros(n), Z1 @ b.T])
        e = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
        w = tilting(e, estimand, focal) / e[np.arange(n), codes]
        score = np.hstack([(onehot[:, j] - e[:, j])[:, None] * Z1 for j in range(1, k)])
        return np.hstack([score, onehot * (w * (y - m[codes]))[:, None]])

    values = psi(theta)
    assert np.abs(values.sum(axis=0)).max() < 1e-6  # theta solves the equations
    step = 1e-6
    A = np.zeros((len(theta), len(theta)))
    for c in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[c] += step
        down[c] -= step
        A[:, c] = -(psi(up).mean(axis=0) - psi(down).mean(axis=0)) / (2 * step)
    B = values.T @ values / n
    A_inv = np.linalg.inv(A)
    V = A_inv @ B @ A_inv.T / n
    return V[-k:, -k:]


@pytest.mark.parametrize(
    ("n_arms", "estimand"),
    [(2, "ate"), (2, "ato"), (3, "ato"), (3, "att"), (3, "matching"), (4, "ate")],
)
def test_m_estimation_sandwich_matches_independent_stacking(n_arms, estimand):
    X, arm, y = simulated(300, n_arms, seed=n_arms * 10 + len(estimand))
    focal = 0 if estimand == "att" else None
    with warnings.catch_warnings():
        # balance and overlap are not under test here
        warnings.simplefilter("ignore", BalanceWarning)
        warnings.simplefilter("ignore", PositivityWarning)
        fitted = PropensityWeighting(estimand, penalty=0, reference="a0").fit(X, arm)
    result = weighted_outcome(fitted, y)
    assert set(result["sandwich_method"]) == {METHOD_ESTIMATED}
    V = independent_sandwich(fitted, y, estimand, focal)
    se_arms = result[result["quantity"] == "arm_mean"]["se_sandwich"].to_numpy()
    np.testing.assert_allclose(se_arms, np.sqrt(np.diag(V)), rtol=1e-4)
    first = result[result["quantity"] == "difference"].iloc[0]  # a1 - a0
    np.testing.assert_allclose(
        first["se_sandwich"], np.sqrt(V[1, 1] + V[0, 0] - 2 * V[0, 1]), rtol=1e-4
    )


def test_penalised_sandwich_uses_the_penalised_equations():
    # with a strong ridge, the estimated-propensity sandwich differs from the unpenalised one but
    # stays finite and positive; the symmetric parameterisation needs the pseudo-inverse
    X, arm, y = simulated(300, 3, seed=5)
    results = []
    for penalty in (0.0, 50.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BalanceWarning)
            fitted = PropensityWeighting("ato", penalty=penalty).fit(X, arm)
        results.append(weighted_outcome(fitted, y)["se_sandwich"].to_numpy())
    assert np.all(np.isfinite(results[1])) and np.all(results[1] > 0)
    assert not np.allclose(results[0], results[1], rtol=1e-3)


def test_bootstrap_is_seeded_and_close_to_the_sandwich():
    X, arm, y = simulated(400, 3, seed=21, effect=[0.0, 0.5, 1.0])
    fitted = PropensityWeighting("ato").fit(X, arm)
    pd.testing.assert_frame_equal(
        weighted_outcome(fitted, y, n_bootstrap=20, random_state=3),
        weighted_outcome(fitted, y, n_bootstrap=20, random_state=3),
    )
    first = weighted_outcome(fitted, y, n_bootstrap=200, random_state=3)
    ratio = first["se_bootstrap"] / first["se_sandwich"]
    assert ratio.between(0.8, 1.2).all(), ratio.tolist()
    assert (first["ci_low_bootstrap"] < first["estimate"]).all()
    assert (first["n_bootstrap_failed"] == 0).all()


def test_failed_bootstrap_resamples_are_counted_and_warned():
    # Level x = 1 has five patients in arm A and one in arm B. A resample that misses that B
    # patient (probability (1 - 1/20)^20 = 0.36) separates x = 1 into arm A: the unpenalised
    # model fails there, and the resample is counted, not hidden.
    rng = np.random.default_rng(0)
    arm = pd.Series(["A"] * 20 + ["B"] * 20)
    X = pd.DataFrame({"x": [1] * 5 + [0] * 15 + [1] + [0] * 19, "z": rng.normal(size=40)})
    y = rng.normal(size=40)
    fitted = PropensityWeighting("ato", penalty=0, rare_level_min=1).fit(X, arm)
    with pytest.warns(WeightingWarning, match="bootstrap resamples could not be weighted"):
        result = weighted_outcome(fitted, y, n_bootstrap=50, random_state=1)
    failed = int(result["n_bootstrap_failed"].iloc[0])
    assert 5 <= failed <= 35  # about 0.36 x 50 = 18
    assert np.isfinite(result["ci_low_bootstrap"]).all()


def test_outcome_input_errors():
    X, arm, y = saturated_example()
    fitted = PropensityWeighting("ate", penalty=0, rare_level_min=1).fit(X, arm)
    with pytest.raises(WeightingError, match="2 missing"):
        weighted_outcome(fitted, np.r_[y[:-2], np.nan, np.nan])
    with pytest.raises(WeightingError, match="numeric"):
        weighted_outcome(fitted, ["yes"] * len(y))
    with pytest.raises(WeightingError, match="outcome values"):
        weighted_outcome(fitted, y[:5])
    with pytest.raises(NotFittedError):
        weighted_outcome(PropensityWeighting(), y)
    with pytest.raises(WeightingError, match="not one of the arms"):
        weighted_outcome(fitted, y, reference="Z")


@pytest.mark.slow
@pytest.mark.parametrize("estimand", ["ate", "ato", "matching"])
def test_sandwich_coverage_with_homogeneous_effect(estimand):
    effect = np.array([0.0, 0.4, -0.3])
    reps = 1000
    estimates, standard_errors, hits = [], [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)
        warnings.simplefilter("ignore", PositivityWarning)  # the odd extreme age; kept in
        for rep in range(reps):
            X, arm, y = simulated(300, 3, seed=20000 + rep, effect=effect)
            result = weighted_outcome(PropensityWeighting(estimand).fit(X, arm), y)
            row = result[(result["arm"] == "a1") & (result["comparator"] == "a0")].iloc[0]
            hits += row["ci_low_sandwich"] <= effect[1] - effect[0] <= row["ci_high_sandwich"]
            estimates.append(row["estimate"])
            standard_errors.append(row["se_sandwich"])
    # binomial SD of the coverage at 0.95 over 1000 replicates: 0.0069
    assert 0.93 <= hits / reps <= 0.97
    # the sandwich SE matches the Monte Carlo SD (relative MC error of an SD: 1/sqrt(2 * 999))
    ratio = np.sqrt(np.mean(np.square(standard_errors))) / np.std(estimates, ddof=1)
    assert 0.92 <= ratio <= 1.08


def _wilson_scipy(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def test_all_responders_arm_gets_wilson_and_newcombe_against_scipy():
    # Each arm holds levels u and v half and half, so the unpenalised propensity is the arm's
    # share for everyone and the ATE weights are constant within an arm: the Kish ESS is the
    # arm size and the score intervals can be checked against scipy's integer Wilson interval
    # (binomtest) and Newcombe's method 10 written out here. Arm C: 10 of 10 respond.
    arm = pd.Series(["A"] * 20 + ["B"] * 20 + ["C"] * 10)
    X = pd.DataFrame({"level": ["u", "v"] * 25})
    y = np.r_[[1, 0, 1, 1, 0] * 4, [0, 0, 1, 0, 1] * 4, [1] * 10].astype(float)  # 12/20, 8/20
    fitted = PropensityWeighting("ate", penalty=0, rare_level_min=1).fit(X, arm)
    with pytest.warns(WeightingWarning, match=r"arm\(s\) 'C' \(100%\) has the same outcome"):
        result = weighted_outcome(fitted, y, n_bootstrap=20, random_state=0)
    rows = result.set_index(["arm", "comparator"])
    wilson = {"A": _wilson_scipy(12, 20), "B": _wilson_scipy(8, 20), "C": _wilson_scipy(10, 10)}
    p = {"A": 0.6, "B": 0.4, "C": 1.0}
    np.testing.assert_allclose(wilson["C"], [10 / (10 + 1.959964**2), 1.0], atol=1e-6)
    for column in ("sandwich", "bootstrap"):
        c = rows.loc[("C", "")]
        np.testing.assert_allclose(
            [c[f"ci_low_{column}"], c[f"ci_high_{column}"]], wilson["C"], atol=1e-9
        )
        for other in ("A", "B"):  # C - A and C - B: Newcombe from the two Wilson intervals
            (l1, u1), (l2, u2) = wilson["C"], wilson[other]
            d = 1.0 - p[other]
            expected = [
                d - np.hypot(1.0 - l1, u2 - p[other]),
                d + np.hypot(u1 - 1.0, p[other] - l2),
            ]
            row = rows.loc[("C", other)]
            np.testing.assert_allclose(
                [row[f"ci_low_{column}"], row[f"ci_high_{column}"]], expected, atol=1e-9
            )
    score = result["interval_method"].str.startswith("score")
    assert score.tolist() == [False, False, True, False, True, True]
    # rows without arm C keep the Wald interval estimate +- z SE
    plain = result[~score]
    np.testing.assert_allclose(
        plain["ci_low_sandwich"], plain["estimate"] - 1.959964 * plain["se_sandwich"], atol=1e-6
    )
    assert rows.loc[("C", ""), "se_sandwich"] == pytest.approx(0.0, abs=1e-12)
    # results.json's cross-check says which arm's rows are score intervals, and they are used
    from cit_bayes.analyses.fragments import frequentist_response_fragment

    fragment = frequentist_response_fragment(result, [("C", "A"), ("A", "B")])
    assert fragment["method"].startswith("weighted mean per arm, bootstrap 95% CI (20 resamples)")
    assert (
        "; arm(s) C with 0 % or 100 % responders (and their differences): score"
        in (fragment["method"])
    )
    assert fragment["rate"]["C"]["ci_low"] == pytest.approx(wilson["C"][0], abs=1e-9)


def test_all_non_responders_arm_with_unequal_weights_uses_the_kish_ess():
    from cit_bayes.weighting import BalancingWeights

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.normal(60, 10, 90)})
    arm = np.repeat(list("ABC"), [35, 35, 20])
    y = np.r_[rng.integers(0, 2, 70), np.zeros(20)].astype(float)
    fitted = BalancingWeights("ato").fit(X, arm)
    with pytest.warns(WeightingWarning, match="score intervals at the arm's Kish"):
        result = weighted_outcome(fitted, y)
    w = fitted.weights_.to_numpy()[arm == "C"]
    n_eff = w.sum() ** 2 / np.sum(w**2)
    assert 1 < n_eff < 20
    row = result[(result["arm"] == "C") & (result["comparator"] == "")].iloc[0]
    z2 = 1.959963984540054**2  # at p = 0 the Wilson interval is [0, z^2 / (n + z^2)]
    assert row["estimate"] == pytest.approx(0.0, abs=1e-12)
    assert row["ci_low_sandwich"] == pytest.approx(0.0, abs=1e-12)
    assert row["ci_high_sandwich"] == pytest.approx(z2 / (n_eff + z2), rel=1e-9)
    # a continuous outcome that is constant in an arm is not a response: no score interval
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        continuous = weighted_outcome(fitted, np.r_[rng.normal(size=70), np.full(20, 2.5)])
    assert (continuous["interval_method"] == continuous["interval_method"].iloc[0]).all()
    assert not continuous["interval_method"].iloc[0].startswith("score")
