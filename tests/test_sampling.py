"""Tests of cit_bayes.bayes.sampling (the one sampling entry point) and fits saved as netCDF.

Reference values:
- a normal mean with known SD under a normal prior has the conjugate posterior
  N((sum y / s^2 + m0 / s0^2) / (n / s^2 + 1 / s0^2), (n / s^2 + 1 / s0^2)^-1/2); both samplers
  must recover its mean within 4 Monte Carlo standard errors (posterior SD / sqrt(bulk ESS)) and
  its SD within 10 %;
- the diagnostics gates on hand-made draws: chains with shifted means give R-hat > 1.01, a
  recorded divergence fails the fit, independent draws pass.
MCMC runs are short (one tiny model, a few seconds once compiled).
"""

from __future__ import annotations

import math

import arviz_base as azb
import arviz_stats as azs
import numpy as np
import pymc as pm
import pytest

from cit_bayes.analyses.results import load_idata, save_fit
from cit_bayes.bayes import sampling
from cit_bayes.bayes.sampling import SamplerSettings, compute_diagnostics, sample
from cit_bayes.exceptions import ConvergenceWarning, ModelError

PRIOR_SD = 10.0
NOISE_SD = 1.0


def make_model(values: np.ndarray) -> pm.Model:
    with pm.Model(coords={"arm": ["a", "b"]}) as model:
        observed = pm.Data("observed", values, dims=("obs", "arm"))
        mu = pm.Normal("mu", 0.0, PRIOR_SD, dims="arm")
        pm.Normal("y", mu, NOISE_SD, observed=observed, dims=("obs", "arm"))
    return model


def conjugate(values: np.ndarray) -> tuple[np.ndarray, float]:
    precision = values.shape[0] / NOISE_SD**2 + 1 / PRIOR_SD**2
    return values.sum(axis=0) / NOISE_SD**2 / precision, 1 / math.sqrt(precision)


DATA = np.array([[0.3, -1.0], [1.1, -0.2], [0.8, -0.7], [0.2, -1.3], [1.6, -0.4]])
FAST = SamplerSettings(draws=1000, tune=500)


def check_conjugate(fit, values):
    mean, sd = conjugate(values)
    draws = fit.idata.posterior["mu"].to_numpy().reshape(-1, 2)
    ess = azs.ess(fit.idata["posterior"].to_dataset()[["mu"]])["mu"].to_numpy()
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - mean), 4 * sd / np.sqrt(ess))
    np.testing.assert_allclose(draws.std(axis=0), sd, rtol=0.1)


def test_nutpie_fit_matches_conjugate_posterior_and_records_provenance():
    model = make_model(DATA)
    fit = sample(model, seed=11, settings=FAST, name="tiny", provenance={"prior_set": "test"})
    assert fit.passed and fit.diagnostics.passed
    assert fit.diagnostics.max_rhat <= 1.01 and fit.diagnostics.min_ess_bulk >= 400
    assert fit.diagnostics.divergences == 0
    assert fit.diagnostics.var_names == ("mu",)
    check_conjugate(fit, DATA)
    attrs = fit.idata.posterior.attrs
    assert attrs["fit_name"] == "tiny" and attrs["seed"] == 11 and attrs["sampler"] == "nutpie"
    assert attrs["prior_set"] == "test" and len(attrs["data_fingerprint"]) == 64
    assert '"draws": 1000' in attrs["sampler_settings"]
    assert "observed" in fit.idata.constant_data and "y" in fit.idata.observed_data


def test_nutpie_reuses_the_compiled_model_with_new_data_and_same_seed_same_draws():
    model = make_model(DATA)
    first = sample(model, seed=5, settings=FAST, name="reuse")
    again = sample(model, seed=5, settings=FAST, name="reuse")
    assert again.compile_seconds == 0.0  # exact: set to 0 when the compiled model is reused
    np.testing.assert_array_equal(first.idata.posterior["mu"], again.idata.posterior["mu"])
    other_seed = sample(model, seed=6, settings=FAST, name="reuse")
    assert not np.array_equal(first.idata.posterior["mu"], other_seed.idata.posterior["mu"])
    shifted = DATA + 5.0
    pm.set_data({"observed": shifted}, model=model)
    moved = sample(model, seed=5, settings=FAST, name="reuse")
    assert moved.compile_seconds == 0.0  # exact: set to 0 when the compiled model is reused
    check_conjugate(moved, shifted)
    assert moved.attrs["data_fingerprint"] != first.attrs["data_fingerprint"]


def test_pymc_sampler_matches_conjugate_posterior_and_is_reproducible():
    model = make_model(DATA)
    settings = FAST.replace(sampler="pymc", cores=1)
    fit = sample(model, seed=3, settings=settings, name="tiny-pymc")
    assert fit.passed and fit.compile_seconds is None
    check_conjugate(fit, DATA)
    again = sample(model, seed=3, settings=settings, name="tiny-pymc")
    np.testing.assert_array_equal(fit.idata.posterior["mu"], again.idata.posterior["mu"])


def test_a_fit_that_misses_a_gate_warns_and_is_marked_failed():
    model = make_model(DATA)
    with pytest.warns(
        ConvergenceWarning, match=r"fit 'too-short' missed the diagnostics gates.*ESS"
    ):
        fit = sample(model, seed=1, settings=SamplerSettings(draws=20, tune=20), name="too-short")
    assert not fit.passed
    assert any("ESS" in failure for failure in fit.diagnostics.failures)
    assert '"passed": false' in fit.idata.posterior.attrs["diagnostics"]


def idata_from(values: np.ndarray, diverging: np.ndarray | None = None):
    groups = {"posterior": {"theta": values}}
    if diverging is not None:
        groups["sample_stats"] = {"diverging": diverging}
    return azb.from_dict(groups)


def test_compute_diagnostics_gates_on_hand_made_draws():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 1000))
    assert compute_diagnostics(idata_from(good)).passed
    shifted = good + np.array([0.0, 0.0, 0.0, 1.0])[:, None]
    result = compute_diagnostics(idata_from(shifted))
    assert result.max_rhat > 1.01 and not result.passed
    assert any("R-hat" in f for f in result.failures)
    diverging = np.zeros((4, 1000), dtype=bool)
    diverging[2, 10] = True
    result = compute_diagnostics(idata_from(good, diverging))
    assert result.divergences == 1 and not result.passed
    assert result.failures == ("1 divergent transitions > 0",)
    constant = compute_diagnostics(idata_from(np.ones((4, 1000))))
    assert not constant.passed and math.isnan(constant.max_rhat)
    assert constant.as_dict()["max_rhat"] is None


def test_tail_ess_is_that_of_the_5_and_95_percent_quantiles():
    """Vehtari et al. (2021): not ArviZ 1.x's default 0.89 interval (11 % and 89 %)."""
    rng = np.random.default_rng(3)
    draws = np.zeros((4, 1000))
    for t in range(1, 1000):  # AR(1): the tails mix more slowly than the centre
        draws[:, t] = 0.9 * draws[:, t - 1] + rng.normal(size=4)
    checks = compute_diagnostics(idata_from(draws))
    posterior = idata_from(draws)["posterior"].to_dataset()
    standard = float(azs.ess(posterior, method="tail", prob=0.95)["theta"])
    default = float(azs.ess(posterior, method="tail")["theta"])
    assert checks.min_ess_tail == pytest.approx(standard, rel=1e-12)
    assert standard != pytest.approx(default, rel=1e-3)  # the two rules differ (367 vs 360)


@pytest.mark.parametrize(
    "changes",
    [
        {"sampler": "stan"},
        {"chains": 0},
        {"draws": 1.5},
        {"cores": 0},
        {"target_accept": 1.0},
        {"max_rhat": 0.9},
    ],
)
def test_bad_settings_raise_model_error(changes):
    with pytest.raises(ModelError):
        SamplerSettings(**changes)


def test_settings_cores_default_and_cap():
    assert 1 <= SamplerSettings().resolved_cores <= 4
    assert SamplerSettings(cores=8, chains=2).resolved_cores == 2
    assert SamplerSettings(cores=1).as_dict()["cores"] == 1


def test_sample_rejects_bad_seed_name_and_provenance():
    model = make_model(DATA)
    with pytest.raises(ModelError, match="seed"):
        sample(model, seed=-1, settings=FAST, name="x")
    with pytest.raises(ModelError, match="name"):
        sample(model, seed=1, settings=FAST, name="")
    with pytest.raises(ModelError, match="provenance"):
        sample(model, seed=1, settings=FAST, name="x", provenance={"plan": {"nested": 1}})


def test_derive_seed_and_fingerprint_are_deterministic():
    assert sampling.derive_seed(1, "response/flat") == sampling.derive_seed(1, "response/flat")
    assert sampling.derive_seed(1, "response/flat") != sampling.derive_seed(1, "plt/flat")
    assert sampling.derive_seed(1, "x") != sampling.derive_seed(2, "x")
    assert 0 <= sampling.derive_seed(np.random.default_rng(4), "x") < 2**31
    a = sampling.fingerprint(["a", "b"], np.arange(4.0))
    assert a == sampling.fingerprint(["a", "b"], np.arange(4.0))
    assert a != sampling.fingerprint(["a", "b"], np.arange(4.0) + 1e-9)
    assert a != sampling.fingerprint(["b", "a"], np.arange(4.0))


def test_saved_fit_keeps_draws_and_provenance(tmp_path):
    model = make_model(DATA)
    fit = sample(model, seed=21, settings=FAST, name="saved", provenance={"plan_hash": "abc"})
    path = save_fit(fit, tmp_path / "fits" / "saved.nc")
    loaded = load_idata(path)
    np.testing.assert_array_equal(loaded.posterior["mu"], fit.idata.posterior["mu"])
    for key in ("fit_name", "seed", "sampler", "package_version", "data_fingerprint", "plan_hash"):
        assert loaded.posterior.attrs[key] == fit.idata.posterior.attrs[key]
    assert int(loaded.sample_stats["diverging"].sum()) == 0


def test_a_missed_gate_says_what_helps_for_its_kind():
    """Divergences call for smaller steps or a new geometry, not longer chains; R-hat for draws."""

    def diagnostics(*failures):
        return sampling.Diagnostics(
            max_rhat=1.0, min_ess_bulk=1e3, min_ess_tail=1e3, divergences=0, passed=not failures,
            failures=failures,
        )  # fmt: skip

    assert diagnostics().advice == ()
    (divergent,) = diagnostics("2 divergent transitions > 0").advice
    assert "--target-accept" in divergent and "reparameterise" in divergent
    assert "--draws" not in divergent
    (mixing,) = diagnostics("max R-hat 1.0200 > 1.01").advice
    assert "--draws" in mixing and "target" not in mixing
    both = diagnostics("min bulk ESS 120 < 400", "1 divergent transitions > 0")
    assert len(both.advice) == 2 and both.as_dict()["advice"] == list(both.advice)
