"""The PropensityWeighting estimator: the scikit-learn contract, the covariate encoding rules,
bad input (named errors and warnings, never NaN weights), boosting and the public API.

Reference values: the rules stated in the docstrings of ``cit_bayes.weighting.design`` (pooling,
reference level, dropping constants) applied by hand to small tables; separation constructed so
that a covariate determines the arm; scikit-learn's own unpenalised ``LogisticRegression`` on the
same design as an independent fit (propensities agree to 1e-6).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from cit_bayes.exceptions import (
    BalanceWarning,
    NotFittedError,
    PositivityWarning,
    WeightingError,
    WeightingWarning,
)
from cit_bayes.weighting import PropensityWeighting, encode_covariates


def example(n=240, seed=0, n_arms=3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "sex": rng.choice(["F", "M"], n),
            "stage": pd.Categorical(
                rng.choice(["I", "II", "III", "IV"], n, p=[0.02, 0.18, 0.3, 0.5]),
                categories=["I", "II", "III", "IV"],
            ),
            "radiotherapy": rng.integers(0, 2, n),
            "smoker": rng.random(n) < 0.3,
        }
    )
    labels = np.array(["rhTPO", "hetrombopag", "combination", "rhIL-11"][:n_arms], dtype=object)
    logits = np.column_stack([np.zeros(n)] + [0.02 * k * (X["age"] - 60) for k in range(1, n_arms)])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return X, pd.Series(labels[codes], name="arm")


def test_init_only_stores_parameters_and_unfitted_use_is_named():
    model = PropensityWeighting("nonsense", penalty=-3, trim=7)  # validated in fit, not here
    assert model.get_params()["estimand"] == "nonsense"
    assert not [k for k in vars(model) if k.endswith("_")]
    fresh = PropensityWeighting()
    for method in ("balance", "effective_sample_size", "weight_summary", "overlap", "table_one"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(fresh, method)()
    with pytest.raises(WeightingError, match="estimand"):
        model.fit(*example())


def test_fit_returns_self_with_learned_state_and_clone_works():
    X, arm = example()
    model = PropensityWeighting()
    assert model.fit(X, arm) is model
    assert model.arms_ == ("combination", "hetrombopag", "rhTPO")  # sorted labels
    assert model.propensity_.shape == (240, 3)
    np.testing.assert_allclose(model.propensity_.sum(axis=1), 1.0, atol=1e-12)
    assert model.weights_.index.equals(X.index)
    assert np.all(np.isfinite(model.weights_)) and np.all(model.weights_ > 0)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "weights_")


def test_arm_order_categorical_then_explicit():
    X, arm = example()
    categorical = pd.Categorical(arm, categories=["rhTPO", "hetrombopag", "combination"])
    assert PropensityWeighting().fit(X, categorical).arms_ == (
        "rhTPO",
        "hetrombopag",
        "combination",
    )
    explicit = PropensityWeighting(arms=["hetrombopag", "rhTPO", "combination"]).fit(X, arm)
    assert explicit.arms_ == ("hetrombopag", "rhTPO", "combination")
    assert list(explicit.propensity_.columns) == ["hetrombopag", "rhTPO", "combination"]
    with pytest.raises(WeightingError, match="not among the arms"):
        PropensityWeighting(arms=["rhTPO", "hetrombopag"]).fit(X, arm)


def test_design_rules_by_hand():
    X, _ = example()
    design = encode_covariates(X, rare_level_min=10)
    columns = design.model_columns.set_index("design_column")
    # numeric standardised with the sample mean and SD
    assert columns.loc["age", "center"] == pytest.approx(X["age"].mean())
    assert columns.loc["age", "scale"] == pytest.approx(X["age"].std(ddof=1))
    np.testing.assert_allclose(design.model_matrix[:, 0].std(ddof=1), 1.0)
    # 0/1 numeric stays numeric (kind binary in the balance encoding); bool is categorical
    kinds = design.balance_columns.set_index(["covariate", "level"])["kind"]
    assert kinds[("radiotherapy", "")] == "binary"
    assert kinds[("smoker", "True")] == "level" and kinds[("smoker", "False")] == "level"
    # stage I (fewer than 10 patients) alone is rare -> merged into the most frequent, IV
    stage_i = int((X["stage"] == "I").sum())
    assert 0 < stage_i < 10
    assert design.pooled.to_dict("records") == [
        {"covariate": "stage", "level": "I", "n": stage_i, "pooled_into": "IV+I"}
    ]
    assert design.reference_levels["stage"] == "IV+I"
    assert "stage=II" in columns.index and "stage=IV+I" not in columns.index
    # every level (reference included) is in the balance encoding
    assert ("stage", "IV+I") in kinds.index


def test_two_rare_levels_with_enough_patients_form_their_own_level():
    X = pd.DataFrame({"t": ["a"] * 20 + ["b"] * 20 + ["c"] * 4 + ["d"] * 3})
    design = encode_covariates(X, rare_level_min=5)
    assert set(design.pooled["pooled_into"]) == {"c+d"}  # 7 >= 5: a level of its own
    assert list(design.balance_columns["level"]) == ["a", "b", "c+d"]


def test_constant_covariate_is_dropped_with_a_warning():
    X, arm = example()
    X = X.assign(centre="Shenyang", dose=5.0)
    with pytest.warns(WeightingWarning) as record:
        fitted = PropensityWeighting().fit(X, arm)
    messages = [str(r.message) for r in record]
    assert any("'centre' is constant" in m for m in messages)
    assert any("'dose' is constant" in m for m in messages)
    assert set(fitted.design_.dropped["covariate"]) == {"centre", "dose"}
    assert "centre" not in set(fitted.balance()["covariate"])
    with pytest.raises(WeightingError, match="no usable covariate"), pytest.warns(WeightingWarning):
        PropensityWeighting().fit(X[["centre"]], arm)


def test_missing_values_name_the_column_and_count():
    X, arm = example()
    X.loc[[3, 5, 8], "age"] = np.nan
    X["sex"] = X["sex"].astype(object)
    X.loc[[1], "sex"] = None
    with pytest.raises(WeightingError, match=r"'age': 3 missing.*'sex': 1 missing"):
        PropensityWeighting().fit(X, arm)
    X, arm = example()
    arm = arm.copy()
    arm.iloc[[0, 1]] = None
    with pytest.raises(WeightingError, match="treatment has 2 missing"):
        PropensityWeighting().fit(X, arm)


def test_arm_with_one_patient_is_an_error():
    X, arm = example()
    arm = arm.copy()
    arm.iloc[0] = "rhIL-11"
    with pytest.raises(WeightingError, match=r"'rhIL-11' \(1\)"):
        PropensityWeighting().fit(X, arm)


def separated():
    X, arm = example(n=120, seed=4, n_arms=2)
    # the arm is a deterministic function of a marker: perfect separation
    X = X.assign(marker=(arm == "hetrombopag").astype(float) * 2 + np.linspace(0, 1, 120))
    return X, arm


def test_perfect_separation_is_an_error_without_penalty():
    X, arm = separated()
    with pytest.raises(WeightingError, match="separat"):
        PropensityWeighting(penalty=0).fit(X, arm)


def test_perfect_separation_with_ridge_warns_and_weights_stay_finite():
    X, arm = separated()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fitted = PropensityWeighting("ate", penalty=1.0).fit(X, arm)
    categories = {r.category for r in record}
    assert PositivityWarning in categories
    assert np.all(np.isfinite(fitted.weights_)) and not fitted.weights_.isna().any()


def test_trimming_that_empties_an_arm_is_an_error():
    X, arm = separated()
    with pytest.raises(WeightingError, match="leaves fewer than 2"):
        PropensityWeighting(penalty=1.0, trim=0.4).fit(X, arm)


def test_att_needs_reference_in_arms():
    X, arm = example()
    with pytest.raises(WeightingError, match="reference"):
        PropensityWeighting("att").fit(X, arm)
    with pytest.raises(WeightingError, match="not one of the arms"):
        PropensityWeighting("att", reference="placebo").fit(X, arm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)  # small sample; not under test here
        fitted = PropensityWeighting("att", reference="rhTPO").fit(X, arm)
    np.testing.assert_allclose(fitted.weights_[arm == "rhTPO"], 1.0)


def test_unpenalised_fit_agrees_with_scikit_learn():
    X, arm = example(n=300, seed=2)
    fitted = PropensityWeighting(penalty=0).fit(X, arm)
    Z = fitted.design_.model_matrix
    codes = pd.Categorical(arm, categories=list(fitted.arms_)).codes
    independent = LogisticRegression(C=np.inf, tol=1e-12, max_iter=20000).fit(Z, codes)
    np.testing.assert_allclose(
        fitted.propensity_.to_numpy(), independent.predict_proba(Z), atol=1e-6
    )
    assert fitted.propensity_model_.max_abs_score < 1e-8


def test_balance_warning_when_weighting_cannot_balance():
    X, arm = example()
    # truncating at the 40th/60th percentiles flattens the weights almost to a constant
    with pytest.warns(BalanceWarning, match="imbalanced"):
        PropensityWeighting("ate", truncate=40).fit(
            X.assign(age2=X["age"] + (arm == "rhTPO") * 8), arm
        )


def test_boosting_is_cross_fitted_and_seeded():
    X, arm = example(n=300, seed=3)
    with warnings.catch_warnings():
        # cross-fitted boosting on 300 patients balances loosely; not under test here
        warnings.simplefilter("ignore", BalanceWarning)
        first = PropensityWeighting(model="boosting", random_state=5).fit(X, arm)
        again = PropensityWeighting(model="boosting", random_state=5).fit(X, arm)
        other = PropensityWeighting(model="boosting", random_state=6).fit(X, arm)
    pd.testing.assert_frame_equal(first.propensity_, again.propensity_)
    assert not np.allclose(first.propensity_, other.propensity_)
    assert first.propensity_model_ is None
    np.testing.assert_allclose(first.propensity_.sum(axis=1), 1.0, atol=1e-9)
    with pytest.raises(WeightingError, match="per arm"):
        PropensityWeighting(model="boosting", n_folds=200).fit(X, arm)


def test_table_one_has_n_ess_and_formatted_cells():
    X, arm = example()
    fitted = PropensityWeighting(arms=["rhTPO", "hetrombopag", "combination"]).fit(X, arm)
    table = fitted.table_one()
    first = table.iloc[0]
    assert first["rhTPO: unweighted"] == str(int((arm == "rhTPO").sum()))
    ess = fitted.effective_sample_size().set_index("arm").loc["rhTPO", "ess"]
    assert first["rhTPO: weighted"] == f"{ess:.1f}"
    age = table[table["characteristic"] == "age"].iloc[0]
    mean = X.loc[arm == "rhTPO", "age"].mean()
    sd = X.loc[arm == "rhTPO", "age"].std(ddof=1)
    assert age["rhTPO: unweighted"] == f"{mean:.1f} ({sd:.1f})"
    assert age["statistic"] == "mean (SD)"
