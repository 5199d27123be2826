"""Shared test configuration.

Warnings are errors (see ``pyproject.toml``) unless a test expects one. Figures render off-screen.
Tests never depend on a warm PyTensor cache: they compile what they need and assert nothing about
time.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import warnings
from pathlib import Path

import pytest

#: The small simulated cohort shared by the patient-level tests: one size, so that every test
#: module of a pytest process re-uses the same compiled models (nutpie compiles once per graph
#: structure and process; the structure depends on the cohort's size and missing-data pattern).
SMALL_COHORT_N = 120
SMALL_COHORT_SEED = 7
#: Short chains for tests that check shapes, files and numbers, not convergence: the gates are
#: expected to fail at this length, which also exercises the failed-fit paths.
SHORT_DRAWS = 150


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
def short_plan():
    """The default plan with short chains (4 x 150 after 150 tuning steps)."""
    from cit_bayes.plan import load_plan

    return load_plan().with_sampler(draws=SHORT_DRAWS, tune=SHORT_DRAWS)


@pytest.fixture(scope="session")
def small_analysis(small_cohort_csv, short_plan):
    """The patient-level analysis of the small cohort under the short plan (fitted once)."""
    from cit_bayes.analysis import run_patient_analysis
    from cit_bayes.cohort import read_cohort
    from cit_bayes.exceptions import ConvergenceWarning

    cohort = read_cohort(small_cohort_csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains: gates may fail
        return run_patient_analysis(cohort, short_plan, seed=11)
