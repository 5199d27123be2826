"""Closed-form posteriors of the aggregate models: drawn, not sampled, and mixed with sampled ones.

Reference values: Beta(a + y, b + n - y) for a rate under a Beta prior, and the normal posterior
of a mean under an independent normal prior with a known standard error (precision
1/s^2 + 1/se^2; Gelman et al., *Bayesian Data Analysis*, 3rd ed., sections 2.4-2.5), compared
with scipy by Kolmogorov-Smirnov tests on the independent draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cit_bayes.bayes import CountData, MeanData, SamplerSettings, fit_aggregates, load_prior_set

ARMS = ["a", "b"]
SETTINGS = SamplerSettings(chains=2, draws=1000, tune=500)


def _response():
    return CountData("response", pd.Series({"a": 12, "b": 20}), pd.Series({"a": 40, "b": 41}))


def _recovery():
    return MeanData("recovery", pd.Series({"a": 9.5, "b": 7.0}), pd.Series({"a": 1.2, "b": 0.9}))


def test_conjugate_endpoints_are_drawn_from_the_closed_form():
    flat = load_prior_set("flat")
    fits = fit_aggregates(
        [_response(), _recovery()], flat.blocks, arms=ARMS, seed=3, name="x", settings=SETTINGS
    )
    response, recovery = fits["response"], fits["recovery"]
    assert response.sampler == recovery.sampler == "exact"
    assert response.fit.compile_seconds == 0.0  # exact: a constant set by exact_fit, not measured
    assert response.passed and recovery.passed
    alpha = flat["response"].distribution.parameters(ARMS, ["response"])
    for arm, y, n in (("a", 12, 40), ("b", 20, 41)):
        a0, b0 = alpha["alpha"][0][ARMS.index(arm)], alpha["beta"][0][ARMS.index(arm)]
        draws = response.draws.sel(arm=arm).values.ravel()
        assert stats.kstest(draws, stats.beta(a0 + y, b0 + n - y).cdf).pvalue > 1e-4
    prior = flat["recovery"].distribution.parameters(ARMS, ["recovery"])
    for j, (arm, mean, se) in enumerate((("a", 9.5, 1.2), ("b", 7.0, 0.9))):
        m0, s0 = prior["mean"][0][j], prior["sd"][0][j]
        precision = 1 / s0**2 + 1 / se**2
        exact = stats.norm((m0 / s0**2 + mean / se**2) / precision, precision**-0.5)
        draws = recovery.draws.sel(arm=arm).values.ravel()
        assert stats.kstest(draws, exact.cdf).pvalue > 1e-4


def test_a_sampled_endpoint_and_a_drawn_one_share_one_fit():
    priors = {"response": load_prior_set("flat")["response"]}
    priors["recovery"] = load_prior_set("skeptical")["recovery"]  # shared level: sampled
    fits = fit_aggregates(
        [_response(), _recovery()], priors, arms=ARMS, seed=3, name="mixed", settings=SETTINGS
    )
    response, recovery = fits["response"], fits["recovery"]
    assert (response.sampler, recovery.sampler) == ("exact", "nutpie")
    assert response.fit is recovery.fit
    posterior = response.fit.idata["posterior"]
    assert {"response_rate", "recovery_mean", "recovery_level"} <= set(posterior.data_vars)
    assert posterior.attrs["exact_variables"] == "response_rate"
    assert response.fit.diagnostics.var_names  # recomputed over every variable
    assert set(response.fit.diagnostics.var_names) >= {"response_rate", "recovery_mean"}
    again = fit_aggregates(
        [_response(), _recovery()], priors, arms=ARMS, seed=3, name="mixed", settings=SETTINGS
    )
    np.testing.assert_array_equal(again["response"].draws.values, response.draws.values)
    np.testing.assert_array_equal(again["recovery"].draws.values, recovery.draws.values)
