"""Reconstruction as imputation (issue 19, item 1): drawn assumptions within their priors and
reproducible, failed draws reported and replaced, the between-cohort share of a pooled
posterior against a case with a known answer, and ``cit-bayes run --reconstructions`` end to
end (pooled fits, every cohort's assumptions traceable, the report's tables)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from cit_bayes.analyses.reconstructions import reconstruction_summary
from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct import load_reconstruction_plan
from cit_bayes.reconstruct import uncertainty as module
from cit_bayes.reconstruct.uncertainty import (
    assumption_seed,
    draw_assumptions,
    load_reconstruction_uncertainty,
    reconstruct_drawn_cohorts,
)


def test_drawn_assumptions_stay_within_their_priors_and_repeat_with_the_seed():
    plan, priors = load_reconstruction_plan(), load_reconstruction_uncertainty()
    responders = {arm: plan.recovered[arm] + 2 for arm in plan.recovered}
    draws = [
        draw_assumptions(plan, priors, np.random.default_rng(assumption_seed(5, k)), responders)
        for k in range(1, 201)
    ]
    for drawn in draws:
        for arm, value in plan.recovered.items():
            assert value - priors.recovered_half_width <= drawn.recovered[arm] <= responders[arm]
        for name, value in plan.loadings.items():
            assert abs(drawn.loadings[name] - value) <= priors.loading_half_width + 1e-12
        assert 0.5 <= drawn.order_noise <= 2.0
    stage = np.array([d.prognosis["stage_iv"] for d in draws])
    assert stage.mean() == pytest.approx(plan.prognosis["stage_iv"], abs=4 * 0.35 / np.sqrt(200))
    assert stage.std() == pytest.approx(0.35, rel=0.15)
    again = draw_assumptions(plan, priors, np.random.default_rng(assumption_seed(5, 1)), responders)
    assert again == draws[0]


def test_a_failed_draw_is_reported_and_replaced(monkeypatch):
    real = module.reconstruct_cohort

    def failing(seed, *, draw, plan, targets):
        if draw == 2:
            raise ReconstructionError("combination: no attempt met the platelet targets")
        return real(seed, draw=draw, plan=plan, targets=targets)

    monkeypatch.setattr(module, "reconstruct_cohort", failing)
    cohorts, failures = reconstruct_drawn_cohorts(2, 11)
    assert [c.draw for c in cohorts] == [1, 3]
    assert failures == [{"draw": 2, "error": "combination: no attempt met the platelet targets"}]
    assert cohorts[1].drawn["file"] == "reconstruction-uncertainty.toml"
    assert cohorts[1].provenance()["drawn"] == cohorts[1].drawn
    with pytest.raises(ReconstructionError, match="more than 0"):
        reconstruct_drawn_cohorts(2, 11, max_failures=0)


def test_the_reconstruction_share_of_a_known_mixture():
    """Three cohorts whose differences are N(mu_k, 1) with mu = -1, 0, 1: the between-cohort
    variance (of the cohorts' means, ddof 1, as an estimate of the spread of cohorts the priors
    could draw) is 1, the pooled variance 1 + 2/3, so the share is 1 / (5/3) = 0.6."""
    rng = np.random.default_rng(3)
    m, chains, draws = 3, 4, 4000
    means = np.array([-1.0, 0.0, 1.0])
    focus = np.repeat(means, chains)[:, None] + rng.normal(0, 1, (m * chains, draws))
    rate = xr.DataArray(
        np.stack([focus, np.zeros_like(focus)], axis=-1),
        dims=("chain", "draw", "arm"),
        coords={"arm": ["combination", "rhTPO"]},
    )
    fits = {"response/adjusted": SimpleNamespace(draws={"rate": rate})}
    cohort = SimpleNamespace(fingerprint="f")
    results = [
        SimpleNamespace(draw=k, assumptions={}, passed=True, cohort=cohort, seed=1,
                        plan_name="default", plan_hash="h", plan_file="reconstruction.toml")
        for k in (1, 2, 3)
    ]  # fmt: skip
    plan = SimpleNamespace(
        spec=SimpleNamespace(focus_arm="combination"), recovery_reference="rhTPO", days=("day14",)
    )
    priors = SimpleNamespace(as_dict=lambda: {"file": "u.toml"})
    block = reconstruction_summary(results, [], priors, fits, plan, "adjusted")
    answer = block["key_answers"]["response_difference"]
    np.testing.assert_allclose(answer["per_cohort_mean"], means, atol=0.05)
    assert answer["reconstruction_share"] == pytest.approx(0.6, abs=0.03)
    assert answer["range_of_means"][0] == pytest.approx(-1.0, abs=0.05)
    assert block["m"] == 3 and [c["draw"] for c in block["cohorts"]] == [1, 2, 3]


def test_run_with_reconstructions_pools_them_and_traces_every_cohort(
    tmp_path, primary_only_plan_text, run_short
):
    plan = tmp_path / "plan.toml"
    plan.write_text(primary_only_plan_text, encoding="utf-8")
    out = tmp_path / "report"
    _, results = run_short(["--reconstructions", "2", "--plan", str(plan)], out)
    block = results["meta"]["data"]["reconstructions"]
    assert block["m"] == 2 and block["failed_draws"] == []
    assert "provenance" not in results["meta"]["data"]
    fingerprints = {c["data_fingerprint"] for c in block["cohorts"]}
    assert len(fingerprints) == 2
    stage = [c["assumptions"]["prognosis"]["stage_iv"] for c in block["cohorts"]]
    assert stage[0] != stage[1] and -0.5 not in stage  # drawn, not the plan's
    diagnostics = results["diagnostics"]["response/adjusted"]
    assert diagnostics["chains"] == 2 * 4  # both cohorts' chains
    assert all(f.startswith("reconstruction ") for f in diagnostics.get("failures", []))
    answer = block["key_answers"]["response_difference"]
    rate = results["response"]["adjusted"]["risk_difference"]["combination-rhTPO"]["mean"]
    assert answer["pooled_mean"] == pytest.approx(rate, abs=1e-9)
    assert answer["pooled_mean"] == pytest.approx(np.mean(answer["per_cohort_mean"]), abs=1e-9)
    assert any("reconstructed from the paper's tables" in a for a in results["meta"]["assumptions"])
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "How much the reconstruction" in page and "What each pooled cohort rested on" in page
    json.dumps(results)  # plain data throughout


def test_reconstructions_apply_to_the_bundled_data_only(tmp_path, small_cohort_csv):
    from cit_bayes.exceptions import ModelError
    from cit_bayes.pipeline import run_pipeline

    with pytest.raises(ModelError, match="does not apply to a cohort file"):
        run_pipeline(data=small_cohort_csv, out_dir=tmp_path / "out", reconstructions=2)
    with pytest.raises(ModelError, match="whole number >= 1"):
        run_pipeline(out_dir=tmp_path / "out", reconstructions=0)
    assert not (tmp_path / "out").exists()  # nothing written


def test_the_command_line_default_is_the_measured_one():
    from cit_bayes.analyses import reconstructions
    from cit_bayes.cli import run

    assert run.DEFAULT_RECONSTRUCTIONS == reconstructions.DEFAULT_RECONSTRUCTIONS


@pytest.mark.slow  # two worker processes compiling the models afresh: about a minute on 2 cores
@pytest.mark.filterwarnings("ignore::cit_bayes.exceptions.ConvergenceWarning")  # short chains
def test_cohorts_fitted_on_a_dask_cluster_equal_those_fitted_here(tmp_path, primary_only_plan_text):
    """Large M runs on the calibration's Dask engine: one task per cohort on a local cluster of
    two worker processes (each compiling in its own directory) gives the same draws as this
    process, since each cohort's seeds do not depend on where it is fitted."""
    from cit_bayes.analyses.imputed import fit_imputations, weight_imputations
    from cit_bayes.analyses.reconstructions import as_imputation
    from cit_bayes.plan import load_plan

    path = tmp_path / "plan.toml"
    path.write_text(primary_only_plan_text, encoding="utf-8")
    plan = load_plan(path).with_sampler(draws=100, tune=100)
    results, _ = reconstruct_drawn_cohorts(2, 20250101)
    imputation = as_imputation(results, 20250101)
    weightings = weight_imputations(imputation, plan)
    here, _ = fit_imputations(imputation, plan, weightings, seed=5, unit="reconstruction")
    there, timings = fit_imputations(
        imputation, plan, weightings, seed=5, unit="reconstruction", workers=2
    )
    assert sorted(here) == sorted(there) and "reconstruction 2" in timings
    for name, fit in here.items():
        for key, values in fit.draws.items():
            np.testing.assert_array_equal(
                values.values, there[name].draws[key].values, err_msg=name
            )
        assert fit.diagnostics.chains == there[name].diagnostics.chains == 2 * 4
