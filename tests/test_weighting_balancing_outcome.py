"""Weighted outcomes under entropy balancing: the stacked sandwich, the bootstrap, the truth.

Reference values:
- the M-estimation sandwich against an independent implementation in this file: the stacked
  estimating equations written in another parameterisation (multinomial logit with a reference
  arm; the full dual vector per arm, unnormalised weights; balance functions standardised here)
  with the bread computed by central finite differences and V = A^-1 B A^-T / n (Stefanski &
  Boos 2002); relative tolerance 1e-4. Cases: ATE, ATE with second moments, ATE with base
  weights, ATT, ATO (2 and 3 arms, unpenalised propensity model), and an arm on the ridge
  fallback (ridge held fixed);
- the simulator's ``strong-confounding`` scenario (truth: ``sim.truth["response_rate"]`` for ATE;
  for ATO the overlap-tilted mean of the potential outcomes with the true propensities, as in
  ``tests/test_weighting_confounding.py``): the weighted difference within 3 sandwich SEs of the
  truth and the unweighted one not, seeds 0-2, 1000 patients. (Over seeds 0-9 the entropy
  balancing estimates were at most 2.2 SE from the truth, the unweighted ones at least 6.3 SE;
  measured when the test was written);
- the bootstrap SE against the sandwich on one simulated data set (within 20%);
- slow: coverage of the sandwich 95% interval over 1000 simulated cohorts of 300 patients with a
  homogeneous effect, expected in [0.93, 0.97], and the RMS sandwich SE against the Monte Carlo
  SD of the estimates, within 8%.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cit_bayes.exceptions import BalanceWarning, PositivityWarning, WeightingWarning
from cit_bayes.weighting import BalancingWeights, weighted_outcome
from cit_bayes.weighting.outcome import METHOD_BALANCING
from cit_bayes.weighting.weights import tilting


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
        + 0.02 * (X["age"] - 60) ** 2 / 10
        + effect[codes]
        + rng.normal(0, 1, n)
    ).to_numpy()
    return X, pd.Series(np.array(["a0", "a1", "a2", "a3"])[codes]), y


def standardised_balance_functions(X, moments):
    """Balance functions standardised over all patients (written here, not imported)."""

    def z(v):
        v = np.asarray(v, dtype=float)
        return (v - v.mean()) / v.std(ddof=1)

    if list(X.columns) != ["age", "stage", "metastasis"]:  # the one-covariate ridge example
        return np.column_stack([z(X[c]) for c in X.columns])
    columns = [z(X["age"])]
    if moments == 2:
        columns.append(z(z(X["age"]) ** 2))
    columns += [z(X["stage"] == "II"), z(X["stage"] == "III"), z(X["metastasis"])]
    return np.column_stack(columns)


def independent_sandwich(fitted, X, y, base=None, focal=None):
    """Stacked M-estimation with a numerical bread; returns the covariance of the arm means."""
    estimand = fitted.estimand
    codes = fitted._codes
    arms = list(fitted.arms_)
    k, n = len(arms), len(y)
    q = np.ones(n) if base is None else base / base.mean()
    C = standardised_balance_functions(X, fitted.moments)
    p = C.shape[1]
    tilted = estimand in ("ato", "matching")
    Z1 = np.column_stack([np.ones(n), fitted.design_.model_matrix])
    p1 = Z1.shape[1]
    e_hat = fitted.propensity_.to_numpy()
    beta = np.vstack(
        [np.linalg.lstsq(Z1, np.log(e_hat[:, j] / e_hat[:, 0]), rcond=None)[0] for j in range(1, k)]
    )
    n_beta = beta.size if tilted else 0
    onehot = np.eye(k)[codes]
    balanced = [j for j in range(k) if j != focal]

    def tilt(b):
        if estimand == "ate":
            return np.ones(n)
        if estimand == "att":
            return onehot[:, focal]
        eta = np.column_stack([np.zeros(n), Z1 @ b.T])
        e = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
        return tilting(e, estimand), e

    h_hat = tilt(beta)[0] if tilted else tilt(beta)
    m_hat = (q * h_hat) @ C / np.sum(q * h_hat)
    lam_hat = {j: fitted.lambda_[arms[j]].to_numpy() for j in balanced}
    shift = {j: np.max((C - m_hat) @ lam_hat[j]) for j in balanced}  # constants (scale only)
    ridge = fitted.solver_["ridge"].to_numpy()
    w_hat = fitted.weights_.to_numpy()
    mu_hat = np.array([np.average(y[codes == j], weights=w_hat[codes == j]) for j in range(k)])
    theta = np.concatenate(
        [beta.ravel() if tilted else [], m_hat, *[lam_hat[j] for j in balanced], mu_hat]
    )

    def psi(theta):
        b = theta[:n_beta].reshape(k - 1, p1) if tilted else beta
        rest = theta[n_beta:]
        m, rest = rest[:p], rest[p:]
        lams = {j: rest[i * p : (i + 1) * p] for i, j in enumerate(balanced)}
        mu = rest[len(balanced) * p :]
        parts = []
        if tilted:
            h, e = tilt(b)
            parts.append(np.hstack([(onehot[:, j] - e[:, j])[:, None] * Z1 for j in range(1, k)]))
        else:
            h = tilt(b)
        parts.append((q * h)[:, None] * (C - m))
        w = q.copy()
        for j in balanced:
            wj = onehot[:, j] * q * np.exp((C - m) @ lams[j] - shift[j])
            parts.append(wj[:, None] * (C - m + ridge[j] * lams[j]))
            w = np.where(codes == j, wj, w)
        parts.append(onehot * (w * (y - mu[codes]))[:, None])
        return np.hstack(parts)

    values = psi(theta)
    assert np.abs(values.mean(axis=0)).max() < 1e-8  # theta solves the equations
    step = 1e-6
    A = np.zeros((len(theta), len(theta)))
    for c in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[c] += step
        down[c] -= step
        A[:, c] = -(psi(up).mean(axis=0) - psi(down).mean(axis=0)) / (2 * step)
    B = values.T @ values / n
    A_inv = np.linalg.inv(A)
    return (A_inv @ B @ A_inv.T / n)[-k:, -k:]


def one_covariate_outside_the_hull():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, 60), rng.normal(1.6, 0.5, 12)]
    X = pd.DataFrame({"x": x, "z": rng.normal(size=72)})
    y = 0.5 * x + X["z"].to_numpy() + rng.normal(size=72)
    return X, pd.Series(["A"] * 60 + ["B"] * 12), y


CASES = {
    "ate": ({"estimand": "ate"}, 3, None),
    "ate-moments2": ({"estimand": "ate", "moments": 2}, 3, None),
    "ate-base-weights": ({"estimand": "ate"}, 3, "base"),
    "att": ({"estimand": "att", "reference": "a1"}, 3, None),
    "ato-2-arms": ({"estimand": "ato", "penalty": 0}, 2, None),
    "ato-3-arms": ({"estimand": "ato", "penalty": 0}, 3, None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stacked_sandwich_matches_independent_stacking(case):
    settings, n_arms, base = CASES[case]
    X, arm, y = simulated(300, n_arms, seed=len(case) + n_arms)
    base_weights = np.random.default_rng(2).uniform(0.5, 2, len(y)) if base else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        fitted = BalancingWeights(**settings).fit(X, arm, base_weights=base_weights)
    assert set(fitted.solver_["status"]) <= {"exact", "focal"}
    result = weighted_outcome(fitted, y)
    assert set(result["sandwich_method"]) == {METHOD_BALANCING}
    focal = 1 if settings["estimand"] == "att" else None
    V = independent_sandwich(fitted, X, y, base=base_weights, focal=focal)
    se_arms = result[result["quantity"] == "arm_mean"]["se_sandwich"].to_numpy()
    np.testing.assert_allclose(se_arms, np.sqrt(np.diag(V)), rtol=1e-4)
    first = result[result["quantity"] == "difference"].iloc[0]  # a1 - a0
    np.testing.assert_allclose(
        first["se_sandwich"], np.sqrt(V[1, 1] + V[0, 0] - 2 * V[0, 1]), rtol=1e-4
    )


def test_sandwich_of_the_ridge_fallback_holds_the_ridge_fixed():
    X, arm, y = one_covariate_outside_the_hull()
    with pytest.warns(WeightingWarning, match="approximate balancing weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PositivityWarning)
            warnings.simplefilter("ignore", BalanceWarning)
            fitted = BalancingWeights("ate").fit(X, arm)
    assert fitted.solver_.set_index("arm").loc["B", "status"] == "approximate"
    # arm B: 12 patients for 2 balanced directions, below 8 per direction
    with pytest.warns(WeightingWarning, match="sandwich SE of entropy-balancing estimates"):
        result = weighted_outcome(fitted, y)
    V = independent_sandwich(fitted, X, y)
    se_arms = result[result["quantity"] == "arm_mean"]["se_sandwich"].to_numpy()
    np.testing.assert_allclose(se_arms, np.sqrt(np.diag(V)), rtol=1e-4)


def overlap_truth(sim, arms):
    potential = sim.potential_outcomes.pivot(index="patient_id", columns="arm", values="response")
    potential = potential.loc[sim.propensity.index, list(arms)].to_numpy(dtype=float)
    h = tilting(sim.propensity[list(arms)].to_numpy(), "ato")
    return dict(zip(arms, (h[:, None] * potential).sum(axis=0) / h.sum(), strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("estimand", ["ate", "ato"])
def test_entropy_balancing_recovers_the_truth_under_strong_confounding(seed, estimand):
    from cit_bayes.cohort import validate_cohort
    from cit_bayes.simulate import simulate_cohort

    sim = simulate_cohort(1000, seed=seed, scenario="strong-confounding")
    cohort = validate_cohort(sim.data)
    truth = sim.truth["response_rate"] if estimand == "ate" else overlap_truth(sim, cohort.arms)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fitted = BalancingWeights(estimand, arms=cohort.arms).fit(
            cohort.covariates(), cohort.data["arm"]
        )
        result = weighted_outcome(fitted, cohort.data["response"])
    # strong confounding gives extreme propensities (diagnostics only here)
    assert {r.category for r in record} <= {PositivityWarning}
    assert set(fitted.solver_["status"]) == {"exact"}
    assert fitted.balance()["smd_weighted"].max() < 1e-8
    table = result.set_index(["arm", "comparator"])
    for arm, comparator in (("combination", "rhTPO"), ("rhIL-11", "combination")):
        row = table.loc[(arm, comparator)]
        true_difference = truth[arm] - truth[comparator]
        margin = 3.0 * row["se_sandwich"]
        assert np.isfinite(margin) and 0 < margin < 0.25
        assert abs(row["estimate"] - true_difference) < margin, (arm, comparator)
        assert abs(row["unweighted_estimate"] - true_difference) > margin, (arm, comparator)


def test_bootstrap_refits_the_balancing_and_is_close_to_the_sandwich():
    X, arm, y = simulated(500, 3, seed=21, effect=[0.0, 0.5, 1.0])
    fitted = BalancingWeights("ato").fit(X, arm)
    pd.testing.assert_frame_equal(
        weighted_outcome(fitted, y, n_bootstrap=10, random_state=3),
        weighted_outcome(fitted, y, n_bootstrap=10, random_state=3),
    )
    result = weighted_outcome(fitted, y, n_bootstrap=200, random_state=3)
    ratio = result["se_bootstrap"] / result["se_sandwich"]
    assert ratio.between(0.8, 1.2).all(), ratio.tolist()
    assert (result["n_bootstrap_failed"] == 0).all()
    assert (result["ci_low_bootstrap"] < result["estimate"]).all()
    assert (result["estimate"] < result["ci_high_bootstrap"]).all()


def test_the_sandwich_alone_is_warned_about_on_paper_sized_arms():
    from cit_bayes._paths import data_dir
    from cit_bayes.cohort import read_cohort

    cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightingWarning)  # the partial arm, tested elsewhere
        fitted = BalancingWeights("ato", arms=cohort.arms).fit(
            cohort.covariates(), cohort.data["arm"]
        )
    # combination: 36 patients for 18 directions (the 11 baseline covariates and log_plt_day0)
    with pytest.warns(WeightingWarning, match="'combination' has 36 patients for 18 balanced"):
        weighted_outcome(fitted, cohort.data["response"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no such warning with the bootstrap
        result = weighted_outcome(fitted, cohort.data["response"], n_bootstrap=20, random_state=0)
    assert result["se_bootstrap"].notna().all()


def test_bootstrap_resamples_carry_the_base_weights():
    X, arm, y = simulated(200, 2, seed=5)
    base = np.random.default_rng(1).uniform(0.5, 2, 200)
    fitted = BalancingWeights("ate").fit(X, arm, base_weights=base)
    rows = np.random.default_rng(0).integers(0, 200, 200)
    refit = fitted._refit_rows(rows)
    direct = BalancingWeights("ate", arms=fitted.arms_)._fit(
        X.iloc[rows], arm.iloc[rows], diagnose=False, base_weights=base[rows]
    )
    np.testing.assert_allclose(refit.weights_, direct.weights_, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("estimand", ["ate", "ato"])
def test_sandwich_coverage_with_homogeneous_effect(estimand):
    effect = np.array([0.0, 0.4, -0.3])
    reps = 1000
    estimates, standard_errors, hits = [], [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        for rep in range(reps):
            X, arm, y = simulated(300, 3, seed=30000 + rep, effect=effect)
            result = weighted_outcome(BalancingWeights(estimand).fit(X, arm), y)
            row = result[(result["arm"] == "a1") & (result["comparator"] == "a0")].iloc[0]
            hits += row["ci_low_sandwich"] <= effect[1] - effect[0] <= row["ci_high_sandwich"]
            estimates.append(row["estimate"])
            standard_errors.append(row["se_sandwich"])
    # binomial SD of the coverage at 0.95 over 1000 replicates: 0.0069
    assert 0.93 <= hits / reps <= 0.97
    ratio = np.sqrt(np.mean(np.square(standard_errors))) / np.std(estimates, ddof=1)
    assert 0.92 <= ratio <= 1.08
