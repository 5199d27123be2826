"""Simulation-based calibration: outcomes drawn from the models, the log-likelihood test
quantity against its closed form, and SBC replicates through the calibration engine."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.response import response_inputs
from cit_bayes.bayes.sbc import sbc_replicate, simulate_outcomes
from cit_bayes.bayes.seeds import derive_seed
from cit_bayes.calibration.engine import run_calibration
from cit_bayes.calibration.sbc import sbc_design
from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.exceptions import ConvergenceWarning
from conftest import SHORT_DRAWS


def _data(n: int, rng) -> PatientData:
    design = rng.normal(size=(n, 2))
    arms = np.arange(n) % 2
    return PatientData(("a", "b"), arms, design, ("x1", "x2"), np.ones(n), np.ones(n))


def test_recovery_outcomes_follow_the_discrete_time_hazard():
    """Constant daily cloglog hazard c: P(recovered by day d) = 1 - exp(-d e^c)."""
    n, horizon = 40_000, 14
    rng = np.random.default_rng(1)
    values = {"arm_index": np.arange(n) % 2, "design": np.zeros((n, 0))}
    log_hazard = np.column_stack([np.full(horizon, -2.5), np.full(horizon, -1.5)])
    parameters = {"arm_log_hazard": log_hazard, "coefficient": np.zeros(0)}
    out = simulate_outcomes("recovery", parameters, values, rng, horizon=horizon)
    for arm, c in ((0, -2.5), (1, -1.5)):
        rows = values["arm_index"] == arm
        for day in (3, 7, 14):
            seen = np.mean((out["recovered"][rows] == 1) & (out["time"][rows] <= day))
            assert seen == pytest.approx(1 - np.exp(-day * np.exp(c)), abs=0.01)
    assert set(np.unique(out["time"][out["recovered"] == 0])) == {14.0}


def test_plt_outcomes_have_the_model_mean_sd_and_correlation():
    n = 40_000
    rng = np.random.default_rng(2)
    values = {
        "arm_index": np.zeros(n, dtype=int),
        "design": np.zeros((n, 0)),
        "log_baseline_centred": np.zeros(n),
    }
    parameters = {
        "arm_day_effect": np.log([[50.0, 80.0, 120.0]]),
        "baseline_slope": np.zeros(3),
        "residual_sd": np.array([[0.3, 0.4, 0.5]]),
        "residual_correlation": np.array([0.6, 0.3, 0.5]),  # (1,0), (2,0), (2,1)
        "coefficient": np.zeros(0),
    }
    logs = np.log(simulate_outcomes("plt", parameters, values, rng)["plt"])
    assert logs.mean(axis=0) == pytest.approx(np.log([50.0, 80.0, 120.0]), abs=0.01)
    assert logs.std(axis=0) == pytest.approx([0.3, 0.4, 0.5], abs=0.01)
    corr = np.corrcoef(logs.T)
    assert [corr[1, 0], corr[2, 0], corr[2, 1]] == pytest.approx([0.6, 0.3, 0.5], abs=0.02)


def test_sbc_replicate_ranks_the_prior_draw_and_its_log_likelihood(short_plan):
    """The log-likelihood test quantity at the true parameters equals the Bernoulli
    log-likelihood of the outcomes the replicate drew (recomputed here from its seed)."""
    rng = np.random.default_rng(3)
    data = _data(80, rng)
    settings = short_plan.sampler_for("response").replace(draws=SHORT_DRAWS, tune=SHORT_DRAWS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        result = sbc_replicate("response", data, prior=short_plan.priors["response"], spec={},
                               seed=11, settings=settings, pairs=[("b", "a")])  # fmt: skip
    truth, pit = result["truth"], result["pit"]
    assert set(pit) == set(truth)
    assert {"arm_logit[a]", "coefficient[x2]", "rate[b]", "rate b - a", "log-likelihood"} <= set(
        pit
    )
    assert all(0.0 < p < 1.0 for p in pit.values())
    for name, p in pit.items():  # the randomised PIT lies within one draw of the rank's share
        rank, size = result["rank"][name], result["draws"][name]
        assert rank / (size + 1) < p < (rank + 1) / (size + 1)
    assert result["draws"]["log-likelihood"] == 1000
    assert result["draws"]["arm_logit[a]"] == settings.chains * settings.draws
    parameters = {
        "arm_logit": np.array([truth["arm_logit[a]"], truth["arm_logit[b]"]]),
        "coefficient": np.array([truth["coefficient[x1]"], truth["coefficient[x2]"]]),
    }
    values = response_inputs(np.zeros(80), data).values
    y = simulate_outcomes(
        "response", parameters, values, np.random.default_rng(derive_seed(11, "outcomes"))
    )["response"]
    eta = parameters["arm_logit"][data.arm_codes] + data.design @ parameters["coefficient"]
    expected = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    assert truth["log-likelihood"] == pytest.approx(expected, rel=1e-9)
    # the true rates are the g-computation of the prior draw over the design
    rate_b = np.mean(1 / (1 + np.exp(-(parameters["arm_logit"][1] + data.design @
                                       parameters["coefficient"]))))  # fmt: skip
    assert truth["rate[b]"] == pytest.approx(rate_b, rel=1e-9)
    assert truth["rate b - a"] == pytest.approx(truth["rate[b]"] - truth["rate[a]"], abs=1e-12)


def test_sbc_runs_through_the_calibration_engine(short_plan, tmp_path):
    setup = CalibrationSetup(short_plan, scenarios=("paper-like",), n=60, replicates=0, sbc=3,
                             endpoints=("response",), seed=4)  # fmt: skip
    run = run_calibration(setup, tmp_path / "cal", workers=0)
    assert run.summary["replicates"]["sbc-response"]["done"] == 3
    table = pd.read_csv(tmp_path / "cal" / "sbc.csv")
    data, _ = sbc_design(setup)
    # arm logits, coefficients, rates, the plan's 6 differences, the log-likelihood
    assert len(table) == 4 + len(data.covariates) + 4 + 6 + 1
    assert (table["replicates"] == 3).all()
    assert table["band_prob"].iloc[0] == pytest.approx(1 - 0.05 / len(table))
    assert (tmp_path / "cal" / "figures" / "sbc_response.png").is_file()
    assert run.summary["sbc_verdicts"][0].startswith("SBC of the response model (3 replicates")
    record = json.loads(
        (tmp_path / "cal" / "replicates" / "sbc-response" / "00000.json").read_text()
    )
    assert record["status"] == "done" and set(record["pit"]) == set(table["quantity"])


@pytest.mark.slow
def test_response_model_passes_sbc(tmp_path):
    """200 SBC replicates of the response model (default plan and sampler): no PIT ECDF outside
    its simultaneous band (``make slow``)."""
    from cit_bayes.plan import load_plan

    setup = CalibrationSetup(load_plan(), scenarios=("paper-like",), replicates=0, sbc=200,
                             endpoints=("response",))  # fmt: skip
    run = run_calibration(setup, tmp_path / "cal")
    table = pd.DataFrame(run.summary["sbc"])
    assert table["inside_band"].all(), table.loc[~table["inside_band"], "quantity"].tolist()


def test_sbc_design_is_fixed_by_the_seed(short_plan):
    one = CalibrationSetup(short_plan, n=60, replicates=0, sbc=1, seed=4)
    a, spec_a = sbc_design(one)
    b, spec_b = sbc_design(dataclasses.replace(one))
    assert np.array_equal(a.design, b.design) and np.array_equal(spec_a["plt_day0"],
                                                                  spec_b["plt_day0"])  # fmt: skip
    assert a.weights.tolist() == [1.0] * 60
