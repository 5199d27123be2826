"""The trajectory model's batched likelihood: the unrolled model's density with a fixed graph.

The batched form (masked blocks of the correlation matrix factored together,
:func:`~cit_bayes.bayes.correlation.masked_mvn_logpdf`) must be the same model as the unrolled
one (one block per set of recorded days): the same log density and gradient to rounding at
random points (hence the same posterior under NUTS), and a short real fit through it recovers
simulated levels. Its graph and the shapes of its data must not depend on the sets of recorded
days, so that a cohort with other missing counts re-uses the built model and its compiled
sampler.
"""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest
from pytensor.graph.traversal import ancestors

from cit_bayes.bayes.backends import _signature
from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.bayes.sampling import SamplerSettings
from cit_bayes.bayes.trajectory import build_trajectory_model, fit_trajectory_model
from cit_bayes.bayes.trajectory_data import (
    BATCHED_ABOVE,
    UNROLLED_DAYS,
    likelihood_form,
    observed_patterns,
    trajectory_values,
)
from cit_bayes.bayes.trajectory_prior import TrajectoryPrior
from cit_bayes.exceptions import ConvergenceWarning, ModelError

ARMS = ("rhTPO", "combination", "rhIL-11")


def cohort(
    seed: int,
    n: int,
    n_days: int,
    sets: int | None = None,
    missing: float = 0.3,
    grouped: bool = True,
):
    """Simulated patients: correlated log counts, counts missing at random (rate ``missing``),
    or exactly ``sets`` distinct sets of recorded days (all days among them); with a grouping
    (``grouped``)."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 3
    data = PatientData(
        arms=ARMS,
        arm_codes=codes,
        design=rng.normal(size=(n, 2)),
        covariates=("age", "ecog_1"),
        weights=rng.uniform(0.5, 2.5, n),
        tilt=rng.uniform(0.3, 1.0, n),
        groups=("lung", "breast", "other") if grouped else (),
        group_codes=rng.integers(0, 3, n) if grouped else None,
    )
    day0 = rng.uniform(20, 70, n)
    level = np.array([[4.0, 4.4, 4.6], [4.3, 4.8, 5.0], [3.9, 4.3, 4.5]])  # (arm, 3 days)
    level = np.repeat(level, -(-n_days // 3), axis=1)[:, :n_days]
    shared = rng.normal(0.0, 0.35, size=(n, 1))  # a patient's counts track each other
    counts = np.exp(level[codes] + shared + rng.normal(0.0, 0.25, size=(n, n_days)))
    if sets is None:
        counts[rng.random((n, n_days)) < missing] = np.nan
    else:
        chosen = [np.ones(n_days, dtype=bool)]
        while len(chosen) < sets:
            row = rng.random(n_days) < 0.6
            if row.any() and not any(np.array_equal(row, c) for c in chosen):
                chosen.append(row)
        counts[~np.array(chosen)[np.arange(n) % sets]] = np.nan
    return data, day0, counts


def days_of(n_days: int) -> tuple[str, ...]:
    return tuple(f"day{d + 1}" for d in range(n_days))


def random_points(model, count: int, seed: int):
    """Points on the unconstrained scale around the initial point (every value variable)."""
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    for _ in range(count):
        yield {k: v + rng.normal(0.0, 0.6, size=np.shape(v)) for k, v in start.items()}


def test_batched_and_unrolled_forms_give_the_same_log_density_and_gradient():
    data, day0, counts = cohort(seed=4, n=90, n_days=4)
    counts[5] = np.nan  # a patient without a follow-up count: contributes nothing
    observed = np.isfinite(counts)
    assert len(observed_patterns(observed)) >= 10  # several sets of days, non-leading among them
    prior = TrajectoryPrior(correlation_eta=1.5)
    functions = {}
    for form in ("unrolled", "batched"):
        values = trajectory_values(day0, counts, data, prior, form=form)
        model = build_trajectory_model(data, days_of(4), observed, form=form)
        pm.set_data(values, model=model)
        # the model log density (with the transforms' Jacobians) and its gradient
        functions[form] = model.compile_fn([model.logp(), model.dlogp()], mode="FAST_COMPILE")
        points = list(random_points(model, 4, seed=8))  # the same variables in both forms
    for point in points:
        (logp, grad), (logp_b, grad_b) = (functions[f](point) for f in ("unrolled", "batched"))
        assert np.isfinite(logp) and logp_b == pytest.approx(logp, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(grad_b, grad, rtol=1e-10, atol=1e-10 * np.max(np.abs(grad)))


def node_count(model) -> int:
    return len(list(ancestors([model.logp()])))


def test_the_batched_graph_does_not_grow_with_the_sets_of_recorded_days():
    few = cohort(seed=1, n=200, n_days=8, sets=5)
    many = cohort(seed=2, n=201, n_days=8, sets=50)
    counts = {}
    for name, (data, _, follow_up) in (("few", few), ("many", many)):
        observed = np.isfinite(follow_up)
        assert len(observed_patterns(observed)) == (5 if name == "few" else 50)
        counts[name] = {
            form: node_count(build_trajectory_model(data, days_of(8), observed, form=form))
            for form in ("unrolled", "batched")
        }
    # two models (n differs, so two cache entries), the same graph size (1,092 nodes); the
    # unrolled graph grows with the sets (2,512 and 17,160 nodes)
    assert counts["few"]["batched"] == counts["many"]["batched"]
    assert counts["many"]["unrolled"] > 5 * counts["few"]["unrolled"]


def test_a_cohort_with_other_missing_counts_reuses_the_batched_model_and_its_data_shapes():
    first = cohort(seed=5, n=150, n_days=6, sets=12)
    second = cohort(seed=6, n=150, n_days=6, sets=30)
    models, signatures = [], []
    for data, day0, counts in (first, second):
        values = trajectory_values(day0, counts, data, TrajectoryPrior())
        model = build_trajectory_model(data, days_of(6), values["observed"])  # form: automatic
        assert "pattern_mask" in model.named_vars and "log_plt_0" not in model.named_vars
        pm.set_data(values, model=model)
        models.append(model)
        signatures.append(_signature(model))  # what the nutpie backend recompiles on
        # the sets (padded to a multiple of 32 rows) and each patient's set
        assert values["pattern_mask"].shape == (32, 6)
        rows = values["pattern_mask"][values["pattern_index"]]
        np.testing.assert_array_equal(rows, values["observed"])
    assert models[0] is models[1]  # the cache key holds no sets of days
    assert signatures[0] == signatures[1]  # same data shapes: the compiled sampler is re-used


def test_the_form_is_chosen_by_the_number_of_sets_of_days():
    # three days make at most 7 non-empty sets: a three-day cohort (the bundled one) is unrolled
    assert 2**UNROLLED_DAYS - 1 == BATCHED_ABOVE
    _, _, counts = cohort(seed=3, n=60, n_days=3, sets=7)
    assert likelihood_form(np.isfinite(counts)) == "unrolled"
    # more days: unrolled only without a missing count (one set)
    for sets, expected in ((1, "unrolled"), (2, "batched"), (9, "batched")):
        _, _, counts = cohort(seed=3, n=60, n_days=5, sets=sets)
        assert likelihood_form(np.isfinite(counts)) == expected
    with pytest.raises(ModelError, match="form"):
        likelihood_form(np.ones((3, 2), dtype=bool), "scalar")


def test_a_short_batched_fit_recovers_the_simulated_levels():
    # The batched and unrolled forms have the same log density and gradient to rounding (above),
    # so NUTS samples the same posterior through either; the g-computed means are taken from
    # the draws outside the sampler, whatever the form. What is left to test is a real fit
    # through the batched form: no divergence, and the arm-by-day levels of the simulation
    # (weights and baselines unrelated to the counts) within the posterior's reach.
    data, day0, counts = cohort(seed=9, n=150, n_days=3, missing=0.25, grouped=False)
    settings = SamplerSettings(draws=400, tune=400, chains=2, cores=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains: gates may fail
        fit = fit_trajectory_model(
            day0, counts, data, seed=21, name="plt/batched", settings=settings, form="batched"
        )
    assert fit.fit.diagnostics.divergences == 0
    effect = fit.fit.idata["posterior"]["arm_day_effect"]  # (arm, day), log scale
    truth = np.array([[4.0, 4.4, 4.6], [4.3, 4.8, 5.0], [3.9, 4.3, 4.5]])
    z = (effect.mean(("chain", "draw")).values - truth) / effect.std(("chain", "draw")).values
    assert np.max(np.abs(z)) < 3.5, z  # 9 levels, posterior SDs 0.06-0.09 (largest |z| here 1.3)
