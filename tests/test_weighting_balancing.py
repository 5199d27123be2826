"""Entropy-balancing weights: the dual, exact balance, classic two-group EB, infeasibility.

Reference values:
- the dual solution against a direct solution of the primal (minimal Kullback-Leibler divergence
  under equality constraints) by ``scipy.optimize.minimize`` (SLSQP) on a small example, weights
  to 1e-7; the dual vector against the slope of log(w/q) on the constraints (w ∝ q exp(λ'c));
- exact balance: every pairwise |SMD| of the balanced moments below 1e-8, and the arms' weighted
  means equal to targets recomputed here by hand (overall mean, focal arm mean, tilted mean
  sum h x / sum h with h = 1/sum_k 1/e_k or min_k e_k from the fitted propensities);
- two arms, ATT: classic entropy balancing (Hainmueller 2012) solved here independently by BFGS on
  its dual with raw (unstandardised) covariates and another reference level: control weights
  equal to 1e-6 (relative), treated weights 1 (normalised 1/n_t);
- infeasible cases confirmed infeasible by a linear program (``scipy.optimize.linprog``: no
  weights on the simplex meet the constraints), the fallback's imbalance against the hand-computed
  best reachable one, and the ridge rule against an independent BFGS solution of the ridge dual;
- base weights: integer base weights equal duplicating rows (weights to 1e-9);
- the bundled synthetic cohort (``data/reconstructed/cohort.csv``): the structural link that
  keeps one arm from exact ATE balance, read off the data; ATT toward rhTPO infeasible for the
  three other arms by the LP above.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog, minimize
from sklearn.base import clone

from cit_bayes._paths import data_dir
from cit_bayes.exceptions import (
    NotFittedError,
    PositivityWarning,
    WeightingError,
    WeightingWarning,
)
from cit_bayes.weighting import BalancingWeights
from cit_bayes.weighting.balancing_dual import RIDGE_GRID, solve_arm

EXACT = 1e-8


def simulated(n=300, n_arms=3, seed=0):
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
        logits[:, k] = 0.04 * k * (X["age"] - 60) + 0.6 * (k % 2) * X["metastasis"] - 0.2 * k
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return X, pd.Series(np.array(["a0", "a1", "a2", "a3"])[codes])


def quiet_fit(estimator, X, a, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        return estimator.fit(X, a, **kwargs)


def in_convex_hull(points: np.ndarray, target: np.ndarray) -> bool:
    """LP: are there weights w >= 0, sum w = 1, with sum w_i x_i = target?"""
    n = len(points)
    result = linprog(
        np.zeros(n),
        A_eq=np.vstack([points.T, np.ones((1, n))]),
        b_eq=np.r_[target, 1.0],
        bounds=[(0, None)] * n,
        method="highs",
    )
    return result.status == 0


def weighted_mean(values, weights):
    return float(np.sum(weights * values) / np.sum(weights))


# ---------------------------------------------------------------- the dual
def test_dual_solution_equals_direct_constrained_optimisation():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(15, 3))
    target = np.array([0.3, -0.2, 0.1])
    q = rng.uniform(0.5, 2.0, 15)
    solution = solve_arm(rows, target, q)
    assert solution.status == "exact"
    q_norm = q / q.sum()
    direct = minimize(
        lambda w: np.sum(w * np.log(w / q_norm)),
        x0=q_norm,
        jac=lambda w: np.log(w / q_norm) + 1.0,
        method="SLSQP",
        bounds=[(1e-12, 1.0)] * 15,
        constraints=[
            {"type": "eq", "fun": lambda w: w.sum() - 1.0},
            {"type": "eq", "fun": lambda w: rows.T @ w - target},
        ],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert direct.success
    np.testing.assert_allclose(solution.weights, direct.x, atol=1e-7)
    np.testing.assert_allclose(rows.T @ solution.weights, target, atol=1e-12)
    # the dual: log(w / q) = const + lambda'c
    slope = np.linalg.lstsq(
        np.column_stack([np.ones(15), rows]), np.log(solution.weights / q_norm), rcond=None
    )[0][1:]
    np.testing.assert_allclose(slope, solution.lam, rtol=1e-8)


def test_lambda_is_the_slope_of_log_weights_on_standardised_covariates():
    X, a = simulated(seed=1)
    fitted = quiet_fit(BalancingWeights("ate"), X, a)
    # the balance functions, standardised here: age and metastasis (SD, ddof 1) and the
    # indicators of the non-reference stages (reference: IV, the most frequent)
    columns = {
        "age": X["age"],
        "stage=II": (X["stage"] == "II").astype(float),
        "stage=III": (X["stage"] == "III").astype(float),
        "metastasis": X["metastasis"].astype(float),
    }
    C = pd.DataFrame({k: (v - v.mean()) / v.std(ddof=1) for k, v in columns.items()})
    assert list(fitted.lambda_.index) == list(C.columns)
    for label in fitted.arms_:
        rows = (a == label).to_numpy()
        slope = np.linalg.lstsq(
            np.column_stack([np.ones(rows.sum()), C[rows]]),
            np.log(fitted.weights_[rows].to_numpy()),
            rcond=None,
        )[0][1:]
        np.testing.assert_allclose(slope, fitted.lambda_[label].to_numpy(), atol=1e-8)


# ---------------------------------------------------------------- exact balance
def hand_target(X, a, fitted, estimand, column):
    x = X[column].to_numpy(dtype=float)
    if estimand == "ate":
        return x.mean()
    if estimand == "att":
        return x[(a == "a0").to_numpy()].mean()
    e = fitted.propensity_.to_numpy()
    h = 1.0 / np.sum(1.0 / e, axis=1) if estimand == "ato" else e.min(axis=1)
    return weighted_mean(x, h)


@pytest.mark.parametrize("moments", [1, 2])
@pytest.mark.parametrize("estimand", ["ate", "att", "ato", "matching"])
def test_exact_balance_for_every_target(estimand, moments):
    X, a = simulated(seed=2)
    fitted = quiet_fit(BalancingWeights(estimand, moments=moments, reference="a0"), X, a)
    assert set(fitted.solver_["status"]) <= {"exact", "focal"}
    balance = fitted.balance()
    assert balance["smd_weighted"].max() < EXACT
    assert balance["smd_unweighted"].max() > 0.1  # there was something to balance
    assert np.abs(fitted.constraints_["imbalance_sd"]).max() < 1e-9
    w = fitted.weights_.to_numpy()
    age = X["age"].to_numpy()
    target_mean = hand_target(X, a, fitted, estimand, "age")
    for label in fitted.arms_:
        rows = (a == label).to_numpy()
        assert weighted_mean(age[rows], w[rows]) == pytest.approx(target_mean, abs=1e-9)
        if moments == 2:
            # second moment about the overall mean: sum h (x - xbar)^2 / sum h, computed by hand
            centred = pd.DataFrame({"d2": (age - age.mean()) ** 2})
            target_m2 = hand_target(centred, a, fitted, estimand, "d2")
            got = weighted_mean((age[rows] - age.mean()) ** 2, w[rows])
            assert got == pytest.approx(target_m2, rel=1e-9)
    # every arm's weights sum to the target population's size
    sizes = fitted.weights_.groupby(a.to_numpy()).sum()
    expected = {"ate": len(a), "att": (a == "a0").sum()}.get(estimand)
    if expected is None:
        e = fitted.propensity_.to_numpy()
        h = 1.0 / np.sum(1.0 / e, axis=1) if estimand == "ato" else e.min(axis=1)
        expected = h.sum()
    np.testing.assert_allclose(sizes, expected, rtol=1e-12)
    if estimand == "att":
        np.testing.assert_allclose(fitted.weights_[(a == "a0").to_numpy()], 1.0)


def classic_entropy_balancing(X_raw: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Hainmueller (2012): control weights by BFGS on the dual, raw covariates, normalised."""
    target = X_raw[treated].mean(axis=0)
    controls = X_raw[~treated] - target

    def dual(lam):
        eta = controls @ lam
        top = eta.max()
        value = top + np.log(np.exp(eta - top).sum())
        weights = np.exp(eta - top) / np.exp(eta - top).sum()
        return value, weights @ controls

    result = minimize(
        dual, np.zeros(X_raw.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-12}
    )
    eta = controls @ result.x
    return np.exp(eta - eta.max()) / np.exp(eta - eta.max()).sum()


def test_two_arms_att_is_classic_entropy_balancing():
    X, a = simulated(n=250, n_arms=2, seed=6)
    treated = (a == "a1").to_numpy()
    fitted = quiet_fit(BalancingWeights("att", reference="a1"), X, a)
    # raw covariates, stage coded with II as the omitted level (the estimator omits IV)
    X_raw = np.column_stack(
        [
            X["age"],
            X["stage"] == "III",
            X["stage"] == "IV",
            X["metastasis"],
        ]
    ).astype(float)
    expected = classic_entropy_balancing(X_raw, treated)
    w = fitted.weights_.to_numpy()
    np.testing.assert_allclose(w[~treated] / w[~treated].sum(), expected, rtol=1e-6)
    np.testing.assert_allclose(w[treated] / w[treated].sum(), 1 / treated.sum(), rtol=1e-12)
    assert fitted.solver_.set_index("arm").loc["a1", "status"] == "focal"
    assert (fitted.lambda_["a1"] == 0).all()


def test_base_weights_equal_duplicated_rows():
    X, a = simulated(n=200, seed=8)
    copies = np.random.default_rng(0).integers(1, 4, len(a))
    long = np.repeat(np.arange(len(a)), copies)
    for estimand in ("ate", "att"):
        settings = {"estimand": estimand, "reference": "a0", "rare_level_min": 1}
        with_base = quiet_fit(BalancingWeights(**settings), X, a, base_weights=copies)
        assert set(with_base.solver_["status"]) <= {"exact", "focal"}
        duplicated = quiet_fit(
            BalancingWeights(**settings), X.iloc[long].reset_index(drop=True), a.iloc[long]
        )
        per_row = pd.Series(duplicated.weights_.to_numpy()).groupby(long).sum().to_numpy()
        scale = copies.sum() / len(a)  # arm totals: sum of base weights rescaled to mean 1
        np.testing.assert_allclose(with_base.weights_.to_numpy() * scale, per_row, rtol=1e-9)


def test_stabilised_weights_sum_to_arm_sizes_and_change_no_mean():
    X, a = simulated(seed=9)
    plain = quiet_fit(BalancingWeights("ato"), X, a)
    stable = quiet_fit(BalancingWeights("ato", stabilize=True), X, a)
    np.testing.assert_allclose(
        stable.weights_.groupby(a.to_numpy()).sum(), a.value_counts().sort_index(), rtol=1e-12
    )
    pd.testing.assert_series_equal(
        plain.balance()["mean_a_weighted"], stable.balance()["mean_a_weighted"], rtol=1e-12
    )


# ---------------------------------------------------------------- infeasibility
def test_level_absent_from_an_arm_is_left_out_as_if_pooled_with_the_reference():
    X, a = simulated(n=300, seed=10)
    # no stage II in arm a2: move them to stage IV (the most frequent level, the reference)
    X.loc[(a == "a2").to_numpy() & (X["stage"] == "II").to_numpy(), "stage"] = "IV"
    with pytest.warns(WeightingWarning, match="does not vary in 1 direction"):
        fitted = quiet_fit(BalancingWeights("ate", balance_threshold=np.inf), X, a)
    solver = fitted.solver_.set_index("arm")
    assert solver.loc["a2", "status"] == "partial"
    assert solver.loc["a2", "n_directions"] == solver.loc["a2", "n_constraints"] - 1
    assert list(solver.loc[["a0", "a1"], "status"]) == ["exact", "exact"]
    table = fitted.constraints_.set_index(["arm", "constraint"])
    # no patient of a2 has stage II, so its achieved share is a weighted sum of zeros; the
    # centring of the design leaves round-off of a few ulp (2.8e-17 seen), hence 1e-12
    assert abs(table.loc[("a2", "stage=II"), "achieved"]) < 1e-12
    assert abs(table.loc[("a2", "stage=II"), "structural_sd"]) > 1e-6
    others = table.loc["a2"].drop(index="stage=II")
    assert np.abs(others["imbalance_sd"]).max() < 1e-9
    # the reference level absorbs the missing share, as if II and IV were one level in a2
    w, stage = fitted.weights_.to_numpy(), X["stage"].to_numpy()
    rows = (a == "a2").to_numpy()
    share_iv = weighted_mean(stage[rows] == "IV", w[rows])
    assert share_iv == pytest.approx(np.mean(np.isin(stage, ["II", "IV"])), abs=1e-9)
    assert np.all(np.isfinite(w)) and np.all(w > 0)


def test_pooling_levels_an_arm_lacks_balances_the_pooled_coding_exactly():
    X, a = simulated(n=400, seed=10)
    rng = np.random.default_rng(0)
    # a five-level covariate: "B" absent from a1, "C" absent from a2, "D" rare everywhere
    grade = rng.choice(["A", "B", "C", "D"], len(a), p=[0.6, 0.15, 0.15, 0.1])
    grade[(a == "a1").to_numpy() & (grade == "B")] = "A"
    grade[(a == "a2").to_numpy() & (grade == "C")] = "A"
    X["grade"] = grade
    with pytest.warns(WeightingWarning, match="does not vary"):
        unpooled = quiet_fit(BalancingWeights("ate", balance_threshold=np.inf), X, a)
    assert set(unpooled.solver_["status"]) == {"exact", "partial"}
    pooled = quiet_fit(BalancingWeights("ate", pool_absent_levels=True), X, a)
    table = pooled.design_.pooled.set_index("level")
    # B and C are each missing from one arm, but B+C is present in every arm
    assert table.loc[["B", "C"], "pooled_into"].tolist() == ["B+C", "B+C"]
    assert set(table.loc[["B", "C"], "rule"]) == {"absent from an arm"}
    assert "D" not in table.index
    assert set(pooled.solver_["status"]) == {"exact"}
    assert pooled.balance()["smd_weighted"].max() < EXACT
    # on the raw levels, B (and C) cannot be balanced by any coding: the arm lacks them
    raw = pooled.balance_summary(X).set_index(["covariate", "level"])
    assert raw.loc[("grade", "B"), "max_smd_weighted"] > 0.1


def test_a_lone_level_an_arm_lacks_is_pooled_into_the_most_frequent_level():
    X, a = simulated(n=300, seed=10)
    X.loc[(a == "a2").to_numpy() & (X["stage"] == "II").to_numpy(), "stage"] = "IV"
    fitted = quiet_fit(BalancingWeights("ate", pool_absent_levels=True), X, a)
    table = fitted.design_.pooled
    assert sorted(table[["level", "pooled_into", "rule"]].values.tolist()) == [
        ["II", "IV+II", "absent from an arm"],
        ["IV", "IV+II", "absent from an arm"],
    ]
    assert set(fitted.solver_["status"]) == {"exact"}
    assert fitted.balance()["smd_weighted"].max() < EXACT


def one_covariate_outside_the_hull():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, 30), rng.normal(3, 0.3, 10)]
    X = pd.DataFrame({"x": x, "z": rng.normal(size=40)})
    return X, pd.Series(["A"] * 30 + ["B"] * 10)


def test_target_outside_the_convex_hull_takes_the_ridge_fallback():
    X, a = one_covariate_outside_the_hull()
    b = (a == "B").to_numpy()
    assert not in_convex_hull(X[b].to_numpy(), X.mean().to_numpy())  # independent check
    with pytest.warns(WeightingWarning, match="outside what reweighting the arm can reach"):
        fitted = quiet_fit(BalancingWeights("ate", balance_threshold=np.inf), X, a)
    solver = fitted.solver_.set_index("arm")
    assert solver.loc["A", "status"] == "exact"
    assert solver.loc["B", "status"] == "approximate"
    w = fitted.weights_.to_numpy()
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    # best reachable imbalance: the point of the convex hull of arm B's standardised rows closest
    # to the target (the ridge path's limit), found here by SLSQP on the simplex
    C = ((X - X.mean()) / X.std(ddof=1)).to_numpy()
    D = C[b]  # the target is 0 on the standardised scale
    closest = minimize(
        lambda v: np.sum((v @ D) ** 2),
        np.full(len(D), 1 / len(D)),
        method="SLSQP",
        bounds=[(0, 1)] * len(D),
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 500},
    ).x
    best = np.max(np.abs(closest @ D))
    assert solver.loc["B", "best_imbalance_sd"] == pytest.approx(best, abs=1e-3)
    table = fitted.constraints_.set_index(["arm", "constraint"])
    imbalance = table.loc["B", "imbalance_sd"]
    assert imbalance.abs().max() <= best + fitted.tolerance + 1e-12
    # the ridge optimality condition: imbalance = -ridge * lambda
    ridge = solver.loc["B", "ridge"]
    np.testing.assert_allclose(imbalance, -ridge * fitted.lambda_["B"], atol=1e-9)
    # the rule: the largest ridge on the grid within tolerance of the best; the next larger one
    # (solved here independently by BFGS on the ridge dual) is not within it
    assert ridge < RIDGE_GRID[0]
    larger = RIDGE_GRID[RIDGE_GRID.index(ridge) - 1]

    def ridge_dual(lam):
        eta = D @ lam
        p = np.exp(eta - eta.max()) / np.exp(eta - eta.max()).sum()
        return eta.max() + np.log(np.exp(eta - eta.max()).sum()) + larger / 2 * lam @ lam, (
            p @ D + larger * lam
        )

    lam = minimize(ridge_dual, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-12}).x
    assert np.max(np.abs(larger * lam)) > best + fitted.tolerance


def test_more_constraints_than_a_small_arm_can_meet():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(46, 5)), columns=[f"x{j}" for j in range(5)])
    a = pd.Series(["big"] * 40 + ["small"] * 6)
    X.loc[40:, "x0"] += 1.0  # the small arm's mean is off target in x0
    small = (a == "small").to_numpy()
    assert not in_convex_hull(X[small].to_numpy(), X.mean().to_numpy())
    with pytest.warns(WeightingWarning, match="approximate balancing weights"):
        fitted = quiet_fit(BalancingWeights("ate", balance_threshold=np.inf), X, a)
    solver = fitted.solver_.set_index("arm")
    assert solver.loc["small", "status"] == "approximate"
    assert solver.loc["small", "max_abs_imbalance_sd"] <= (
        solver.loc["small", "best_imbalance_sd"] + 0.01 + 1e-12
    )
    unweighted = fitted.balance_summary()["max_smd_unweighted"].max()
    assert fitted.balance_summary()["max_smd_weighted"].max() < unweighted
    assert np.all(np.isfinite(fitted.weights_)) and np.all(fitted.weights_ >= 0)


def bundled_cohort():
    from cit_bayes.cohort import read_cohort
    from cit_bayes.weighting.design import encode_covariates

    cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv")
    return cohort, encode_covariates(cohort.covariates())


def test_bundled_cohort_ate_is_exact_up_to_the_sex_tumour_link_of_one_arm():
    cohort, design = bundled_cohort()
    X, a = cohort.covariates(), cohort.data["arm"]
    with pytest.warns(WeightingWarning, match="'rhIL-11' cannot be balanced exactly"):
        fitted = BalancingWeights("ate", arms=cohort.arms).fit(X, a)
    solver = fitted.solver_.set_index("arm")
    assert list(solver["status"]) == ["exact", "exact", "exact", "partial"]
    # in rhIL-11 every woman has a gynecological, breast or other tumour and vice versa (a
    # linear relation among the balance functions of that arm only), checked on the data:
    rows = (a == "rhIL-11").to_numpy()
    female = (X["sex"] == "F").to_numpy()
    tumour = X["tumor_type"].isin(["gynecological", "breast", "other"]).to_numpy()
    assert np.array_equal(female[rows], tumour[rows])
    assert not np.array_equal(female, tumour)
    off = fitted.constraints_[np.abs(fitted.constraints_["imbalance_sd"]) > 1e-8]
    assert set(off["arm"]) == {"rhIL-11"}
    assert set(off["constraint"]) <= {
        "sex=F", "tumor_type=gynecological", "tumor_type=breast", "tumor_type=other"
    }  # fmt: skip
    # everything else is balanced exactly; the compromise stays below the 0.1 goal
    summary = fitted.balance_summary()
    assert summary["max_smd_weighted"].max() < 0.1
    exact = summary[~summary["covariate"].isin(["sex", "tumor_type"])]
    assert exact["max_smd_weighted"].max() < EXACT


def test_bundled_cohort_att_for_rhtpo_is_infeasible_and_takes_the_fallback():
    cohort, design = bundled_cohort()
    X, a = cohort.covariates(), cohort.data["arm"]
    codes = a.astype(str).to_numpy()
    # independent check (LP on the model-matrix columns): rhTPO's means lie outside the convex
    # hull of each other arm
    Z = design.model_matrix
    target = Z[codes == "rhTPO"].mean(axis=0)
    for label in ("hetrombopag", "combination", "rhIL-11"):
        assert not in_convex_hull(Z[codes == label], target)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fitted = BalancingWeights("att", reference="rhTPO", arms=cohort.arms).fit(X, a)
    messages = [str(r.message) for r in record if r.category is WeightingWarning]
    assert sum("outside what reweighting" in m for m in messages) == 3
    solver = fitted.solver_.set_index("arm")
    assert solver.loc["rhTPO", "status"] == "focal"
    assert (solver.drop(index="rhTPO")["status"] == "approximate").all()
    assert (solver["max_abs_imbalance_sd"] <= solver["best_imbalance_sd"] + 0.01 + 1e-12).all()
    summary = fitted.balance_summary()
    assert summary["max_smd_weighted"].max() < 0.5 * summary["max_smd_unweighted"].max()
    assert np.all(np.isfinite(fitted.weights_)) and np.all(fitted.weights_ >= 0)


# ---------------------------------------------------------------- errors and contract
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"estimand": "atx"}, "estimand"),
        ({"moments": 3}, "moments"),
        ({"tolerance": 0}, "tolerance"),
        ({"tolerance": "big"}, "tolerance"),
        ({"estimand": "att"}, "reference"),
        ({"estimand": "att", "reference": "zz"}, "not one of the arms"),
    ],
)
def test_bad_parameters_raise(settings, message):
    X, a = simulated(n=60, seed=0)
    with pytest.raises(WeightingError, match=message):
        BalancingWeights(**settings).fit(X, a)


def test_bad_data_raise():
    X, a = simulated(n=60, seed=0)
    single = a.copy()
    single.iloc[0] = "lonely"
    with pytest.raises(WeightingError, match="at least 2 patients"):
        BalancingWeights().fit(X, single)
    holes = X.copy()
    holes.loc[[1, 2], "age"] = np.nan
    with pytest.raises(WeightingError, match="'age': 2 missing"):
        BalancingWeights().fit(holes, a)
    with pytest.raises(WeightingError, match="base weights must be finite and positive"):
        BalancingWeights().fit(X, a, base_weights=np.r_[-1.0, np.ones(59)])
    with pytest.raises(WeightingError, match="expected 60 base weights"):
        BalancingWeights().fit(X, a, base_weights=np.ones(5))
    with pytest.raises(WeightingError, match="at least 2 arms"):
        BalancingWeights().fit(X, ["a0"] * 60)


def test_estimator_contract():
    X, a = simulated(n=120, seed=3)
    estimator = BalancingWeights("ate", moments=2)
    assert not [name for name in vars(estimator) if name.endswith("_")]
    with pytest.raises(NotFittedError, match="BalancingWeights is not fitted"):
        estimator.balance()
    assert clone(estimator).get_params() == estimator.get_params()
    fitted = quiet_fit(estimator, X, a)
    assert fitted is estimator
    again = quiet_fit(clone(estimator), X, a)
    np.testing.assert_array_equal(fitted.weights_, again.weights_)  # deterministic
    for method in ("balance_summary", "effective_sample_size", "weight_summary", "overlap"):
        assert len(getattr(fitted, method)()) > 0
    table = fitted.table_one()
    assert table.iloc[0]["characteristic"] == "patients"
    assert fitted.included_.all()
