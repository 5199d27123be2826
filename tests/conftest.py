"""Shared test configuration.

Warnings are errors (see ``pyproject.toml``) unless a test expects one. Figures render off-screen.
Tests never depend on a warm PyTensor cache: they compile what they need and assert nothing about
time.
"""

from __future__ import annotations

import json
import os
import re

os.environ.setdefault("MPLBACKEND", "Agg")

import warnings
from pathlib import Path

import numpy as np
import pytest

#: The small simulated cohort shared by the patient-level tests: one size, so that every test
#: module of a pytest process re-uses the same compiled models (nutpie compiles once per graph
#: structure and process; the structure depends on the cohort's size and missing-data pattern).
SMALL_COHORT_N = 120
SMALL_COHORT_SEED = 7
#: Short chains for tests that check shapes, files and numbers, not convergence: the gates are
#: expected to fail at this length, which also exercises the failed-fit paths.
SHORT_DRAWS = 150
#: Bootstrap resamples of the frequentist cross-check in those tests (the plan's 200 refit the
#: entropy weights 400 times per analysis of the small cohort: three quarters of its run time,
#: measured). The bootstrap itself is tested against the sandwich in test_weighting_outcome.
SHORT_BOOTSTRAP = 20
#: Design draws of the "design uncertainty" robustness variant in those tests (each refits the
#: response, PLT and recovery models).
SHORT_DESIGN_DRAWS = 2


@pytest.fixture(scope="session")
def small_cohort_csv(tmp_path_factory) -> Path:
    """A simulated (synthetic) cohort of 120 patients, paper-like scenario, as CSV."""
    from cit_bayes.simulate import simulate_cohort

    path = tmp_path_factory.mktemp("cohort") / "small_cohort.csv"
    simulate_cohort(SMALL_COHORT_N, seed=SMALL_COHORT_SEED, scenario="paper-like").data.to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="session")
def short_plan(short_plan_file):
    """The default plan with a short bootstrap and short chains (4 x 150 after 150 tuning)."""
    from cit_bayes.plan import load_plan

    return load_plan(short_plan_file).with_sampler(draws=SHORT_DRAWS, tune=SHORT_DRAWS)


@pytest.fixture(scope="session")
def short_plan_file(tmp_path_factory) -> Path:
    """``models/default.toml`` with the short bootstrap, four robustness variants (those that
    compile nothing of their own; the design uncertainty with few design draws) and two prior
    sets, for the command line's ``--plan``."""
    from cit_bayes._paths import models_dir

    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    assert text.count("n_bootstrap = 200\n") == 1
    path = tmp_path_factory.mktemp("plan") / "short.toml"
    variants = re.findall(r"^variants = \[[^\]]*\]", text, flags=re.MULTILINE)
    assert len(variants) == 1 and '"pooled arms"' in variants[0]
    # the robustness variants that re-use the analyses' compiled models
    text = text.replace(
        variants[0],
        'variants = ["regression only", "weights only", "no Kish rescaling", "design uncertainty"]',
    )
    assert text.count("design_draws = 20\n") == 1
    text = text.replace("design_draws = 20\n", f"design_draws = {SHORT_DESIGN_DRAWS}\n")
    sets = 'prior_sets = ["wide", "narrow", "sceptical"]'
    assert text.count(sets) == 1  # the sceptical set compiles pooled models: tested on its own
    text = text.replace(sets, 'prior_sets = ["wide", "narrow"]')
    path.write_text(text.replace("n_bootstrap = 200\n", f"n_bootstrap = {SHORT_BOOTSTRAP}\n"))
    return path


@pytest.fixture(scope="session")
def primary_only_plan_text(short_plan_file) -> str:
    """The short plan with the primary analysis only (no ATO, robustness variant or prior
    set): the end-to-end runs of one input form, on the session's compiled models."""
    text = short_plan_file.read_text(encoding="utf-8")
    text, n_estimands = re.subn(r'sensitivity = \["ato"\]', "sensitivity = []", text)
    text, n_variants = re.subn(r"^variants = \[[^\]]*\]", "variants = []", text, flags=re.M)
    text, n_sets = re.subn(r"^prior_sets = \[[^\]]*\]", "prior_sets = []", text, flags=re.M)
    assert n_estimands == n_variants == n_sets == 1
    return text


def _run_short(arguments: list[str], out: Path) -> tuple[int, dict]:
    from cit_bayes.cli import main
    from cit_bayes.exceptions import ConvergenceWarning

    command = ["run", *arguments, "--out", str(out), "--seed", "3", "--no-pdf",
               "--draws", str(SHORT_DRAWS), "--tune", str(SHORT_DRAWS)]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        code = main(command)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert code == (0 if results["meta"]["all_fits_passed"] else 1)
    return code, results


@pytest.fixture(scope="session")
def run_short():
    """``cit-bayes run ARGUMENTS --out OUT`` with short chains (seed 3): its exit code and
    ``results.json``. Short chains may miss the gates (exit 1, the banner's case): the code is
    checked against ``all_fits_passed``."""
    return _run_short


@pytest.fixture(scope="session")
def small_analysis(small_cohort_csv, short_plan):
    """The patient-level analysis of the small cohort under the short plan (fitted once)."""
    from cit_bayes.analyses.patient import run_patient_analysis
    from cit_bayes.cohort import read_cohort
    from cit_bayes.exceptions import ConvergenceWarning

    cohort = read_cohort(small_cohort_csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains: gates may fail
        return run_patient_analysis(cohort, short_plan, seed=11)


def _evaluate_model(model, values: dict, point: dict, outputs=(), targets=None):
    """Set the model's data, then return its log density without Jacobian at ``point``.

    ``point`` gives every free variable on its constrained scale (a standard deviation, not
    its log). Returns ``(log_density, {name: value of each output})``: the log density is the
    sum of the priors' log densities and the model's potentials, the quantity a test writes
    out by hand with scipy. Outputs that are not model variables come from ``targets`` (a
    model's g-computation on the draws, such as ``response_targets(values, arms)``), applied to
    a one-draw posterior of every free variable and deterministic at ``point``.
    """
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    pm.set_data(values, model=model)
    unconstrained = {}
    for rv in model.free_RVs:
        value_var = model.rvs_to_values[rv]
        transform = model.rvs_to_transforms.get(rv)
        x = np.asarray(point[rv.name], dtype=float)
        if transform is not None:
            x = transform.forward(pt.as_tensor(x), *rv.owner.inputs).eval()
        unconstrained[value_var.name] = x
    log_density = model.compile_logp(jacobian=False, mode="FAST_COMPILE")(unconstrained)
    if not outputs:
        return float(log_density), {}
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    names += [name for name in outputs if name in model.named_vars and name not in names]
    graphs = model.replace_rvs_by_values([model[name] for name in names])
    fn = pytensor.function(model.value_vars, graphs, mode="FAST_COMPILE", on_unused_input="ignore")
    results = fn(*(unconstrained[v.name] for v in model.value_vars))
    at_point = dict(zip(names, (np.asarray(r) for r in results), strict=True))
    derived = [name for name in outputs if name not in model.named_vars]
    if derived:
        import xarray as xr

        dims = model.named_vars_to_dims
        posterior = xr.Dataset(
            {
                name: (
                    ("chain", "draw", *(dims.get(name) or [f"{name}_{i}" for i in range(v.ndim)])),
                    v[None, None],
                )
                for name, v in at_point.items()
            }
        )
        found = targets(posterior)
        at_point |= {name: found[name].values[0, 0] for name in derived}
    return float(log_density), {name: at_point[name] for name in outputs}


@pytest.fixture(scope="session")
def evaluate_model():
    """The function :func:`_evaluate_model` (log density and deterministics at a point)."""
    return _evaluate_model


def _kish_by_hand(data, mask):
    """Weights rescaled within arm to the Kish ESS of the patients in ``mask`` (0 elsewhere):
    w_i * sum(w) / sum(w^2) over the arm's patients in the mask, written out for the tests."""
    w = np.zeros(data.n)
    for j in range(data.n_arms):
        rows = (data.arm_codes == j) & mask
        raw = data.weights[rows]
        w[rows] = raw * raw.sum() / (raw**2).sum()
    return w


@pytest.fixture(scope="session")
def kish_by_hand():
    """The function :func:`_kish_by_hand` (the hand calculation of the Kish rescaling)."""
    return _kish_by_hand


def _finite_at_initial_point(model, values: dict) -> tuple[float, np.ndarray]:
    """Set the model's data; return its log density and gradient at the initial point."""
    import pymc as pm

    pm.set_data(values, model=model)
    point = model.initial_point()
    logp = model.compile_logp(mode="FAST_COMPILE")(point)
    grad = model.compile_dlogp(mode="FAST_COMPILE")(point)
    return float(logp), np.asarray(grad)


@pytest.fixture(scope="session")
def at_initial_point():
    """The function :func:`_finite_at_initial_point`."""
    return _finite_at_initial_point
