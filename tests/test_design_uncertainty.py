"""The weighting step's uncertainty in the posterior (issue 18, item 1): design draws by the
Bayesian bootstrap, one refit per draw, the draws pooled, the design stage's variance share.

Reference values: with base weights 1 a design draw is the fitted weights themselves; the
design share of a mixture is its between-component variance over the total (closed form);
the pooled fit carries every refit's chains and passes only if all did.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from cit_bayes.analyses.design_uncertainty import design_share, design_weight_draws
from cit_bayes.cohort import validate_cohort
from cit_bayes.plan import load_plan
from cit_bayes.simulate import simulate_cohort
from cit_bayes.weighting.cohort_weights import weight_analysis
from conftest import SHORT_DESIGN_DRAWS


@pytest.fixture(scope="module")
def weighted():
    plan = dataclasses.replace(load_plan(), covariates=("age", "bmi", "log_plt_day0"))
    cohort = validate_cohort(simulate_cohort(150, seed=3, scenario="paper-like").data)
    frame = cohort.covariates().reset_index(drop=True)
    return weight_analysis(
        frame, cohort.data["arm"].reset_index(drop=True), analysis="adjusted",
        estimand="ate", plan=plan, arms=plan.arms,
    )  # fmt: skip


def test_design_draws_vary_the_weights_within_arms_reproducibly(weighted):
    draws = design_weight_draws(weighted, replicates=40, seed=9)
    again = design_weight_draws(weighted, replicates=40, seed=9)
    np.testing.assert_array_equal(draws, again)  # exact: same seed, same arithmetic
    assert not np.allclose(draws, design_weight_draws(weighted, replicates=40, seed=10))
    codes = weighted._estimator._codes
    fixed = weighted.weights
    for j in np.unique(codes):
        rows = codes == j
        # each draw keeps the arm's total weight (the target population's size)
        np.testing.assert_allclose(draws[:, rows].sum(axis=1), fixed[rows].sum(), rtol=1e-10)
    # the draws scatter around the fixed weights: relative spread a few tens of per cent,
    # and their average is near the fixed weights (the Bayesian bootstrap is centred there)
    spread = draws.std(axis=0) / fixed
    assert 0.02 < np.median(spread) < 1.0
    relative = np.abs(draws.mean(axis=0) - fixed) / fixed
    assert np.median(relative) < 3 * np.median(spread) / np.sqrt(40)


def test_design_share_of_a_mixture():
    rng = np.random.default_rng(2)
    b, chains, n = 50, 4, 400
    centres = np.repeat(rng.normal(0.0, 2.0, b), chains)  # between-draw SD 2
    values = xr.DataArray(
        centres[:, None] + rng.normal(0.0, 1.0, (b * chains, n)), dims=("chain", "draw")
    )
    share = design_share(values, b)
    between = centres[::chains].var(ddof=1)
    assert share == pytest.approx(between / (between + 1.0), abs=0.05)
    same = xr.DataArray(rng.normal(0.0, 1.0, (b * chains, n)), dims=("chain", "draw"))
    assert design_share(same, b) < 0.02  # no design variance: about 0


def test_the_design_uncertainty_row_pools_every_refit(small_analysis):
    fits, results = small_analysis.fits, small_analysis.results
    for endpoint in ("response", "plt", "recovery"):
        pooled = fits[f"{endpoint}/robustness: design uncertainty"]
        adjusted = fits[f"{endpoint}/adjusted"]
        assert pooled.fit.attrs["design_draws"] == SHORT_DESIGN_DRAWS
        chains = adjusted.diagnostics.chains
        assert pooled.diagnostics.chains == SHORT_DESIGN_DRAWS * chains
        for draws in pooled.draws.values():
            assert draws.sizes["chain"] == SHORT_DESIGN_DRAWS * chains
        # a pooled fit passes only if every refit passed; its failures name the design draw
        assert pooled.passed == (not pooled.diagnostics.failures)
        assert all(f.startswith("design draw ") for f in pooled.diagnostics.failures)
    row = results["robustness"]["rows"]["design uncertainty"]
    for key in ("response_difference", "plt_difference", "recovered_difference"):
        assert 0.0 <= row[key]["design_share"] <= 1.0
    assert results["robustness"]["design_draws"] == SHORT_DESIGN_DRAWS
    assert "design_share" not in results["robustness"]["rows"]["adjusted"]["response_difference"]
