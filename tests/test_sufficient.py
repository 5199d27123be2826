"""The likelihood on merged identical patients is the per-patient likelihood, exactly."""

import numpy as np
import pymc as pm
import pytest

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.recovery import RecoveryPrior, build_recovery_model, recovery_values
from cit_bayes.bayes.response import ResponsePrior, build_response_model, response_values
from cit_bayes.bayes.sufficient import merge_identical_rows
from cit_bayes.exceptions import ModelError


def _categorical_data(n: int, seed: int) -> PatientData:
    """Two 0/1 covariates and three groups: at most 4 x 4 x 3 distinct (arm, row, group)."""
    rng = np.random.default_rng(seed)
    design = rng.integers(0, 2, size=(n, 2)).astype(float)
    return PatientData(
        ("a", "b", "c", "d"),
        rng.integers(0, 4, n),
        (design - design.mean(axis=0)) / design.std(axis=0),
        ("x1", "x2"),
        rng.gamma(2.0, 0.5, n),  # weights: rescaled within arm by the model
        np.ones(n),
        groups=("g1", "g2", "g3"),
        group_codes=rng.integers(0, 3, n),
    )


def _per_patient(values: dict, columns) -> dict:
    """The same values with one likelihood row per patient (nothing merged)."""
    rows = {f"row_{name}": values[name] for name in (*columns, "group_index")}
    return values | rows | {"row_weight": values["weight"]}


def _log_densities(model, data_sets: list[dict], seed: int) -> list[np.ndarray]:
    """The model's log density at 5 random points near its initial point, for each data set."""
    pm.set_data(data_sets[0], model=model)
    rng = np.random.default_rng(seed)
    point = model.initial_point()
    shifts = [{k: rng.normal(0.0, 0.5, np.shape(v)) for k, v in point.items()} for _ in range(5)]
    logp = model.compile_logp()  # reads the pm.Data at call time
    densities = []
    for values in data_sets:
        pm.set_data(values, model=model)
        densities.append(np.array([logp({k: point[k] + d[k] for k in point}) for d in shifts]))
    return densities


def test_merge_keeps_first_appearance_and_sums_weights():
    arm = np.array([1, 0, 1, 1, 0])
    outcome = np.array([1, 0, 1, 0, 0])
    merged, summed = merge_identical_rows({"arm": arm, "y": outcome}, [0.5, 1.0, 2.0, 3.0, 0.25])
    assert merged["arm"].tolist() == [1, 0, 1]
    assert merged["y"].tolist() == [1, 0, 0]
    np.testing.assert_allclose(summed, [2.5, 1.25, 3.0], rtol=1e-15)
    merged, summed = merge_identical_rows({"arm": arm}, [0.0, 1.0, 0.0, 0.0, 1.0])
    assert merged["arm"].tolist() == [0] and summed.tolist() == [2.0]  # exact: 1 + 1
    with pytest.raises(ModelError, match="NaN"):
        merge_identical_rows({"x": np.array([np.nan, 1.0])}, [1.0, 1.0])
    with pytest.raises(ModelError, match="rows"):
        merge_identical_rows({"x": np.zeros(3)}, [1.0, 1.0])


def test_response_likelihood_on_merged_rows_is_the_per_patient_one():
    data = _categorical_data(400, seed=3)
    outcome = np.random.default_rng(4).integers(0, 2, data.n)
    values = response_values(outcome, data, ResponsePrior())
    # 4 arms x 4 covariate rows x 3 groups x 2 outcomes at most
    assert len(values["row_weight"]) <= 96 < data.n
    np.testing.assert_allclose(values["row_weight"].sum(), values["weight"].sum(), rtol=1e-12)
    model = build_response_model(data)
    per_patient = _per_patient(values, ("arm_index", "design", "response"))
    merged, unmerged = _log_densities(model, [values, per_patient], seed=5)
    np.testing.assert_allclose(merged, unmerged, rtol=1e-10)


def test_recovery_likelihood_on_merged_rows_is_the_per_patient_one():
    data = _categorical_data(400, seed=6)
    rng = np.random.default_rng(7)
    time = rng.integers(0, 15, data.n)
    recovered = ((rng.random(data.n) < 0.6) & (time >= 1)).astype(float)
    values = recovery_values(time, recovered, data, RecoveryPrior(), 14)
    assert len(values["row_weight"]) < data.n
    assert np.all(values["row_time_to_recovery"] >= 1)  # followed for 0 days: weight 0, left out
    model = build_recovery_model(data, horizon=14, prior=RecoveryPrior())
    columns = ("arm_index", "design", "time_to_recovery", "recovered", "recovery_after")
    merged, unmerged = _log_densities(model, [values, _per_patient(values, columns)], seed=8)
    np.testing.assert_allclose(merged, unmerged, rtol=1e-10)
