"""Cohorts with a known truth, for validating estimators (issue 4).

``simulate_cohort(n, seed=..., scenario=...)`` simulates a cohort in the input schema whose arm
assignment depends on baseline characteristics (multinomial logit) and whose outcomes depend on
arm and the same characteristics, with every patient's potential outcomes under every arm;
``write_simulated`` writes the cohort and ``FILE.truth.json``. Scenarios are TOML files in
``models/scenarios/``.
"""

from __future__ import annotations

from cit_bayes.simulate.engine import SimulatedCohort, simulate_cohort, write_simulated
from cit_bayes.simulate.scenarios import (
    FEATURES,
    Scenario,
    design_matrix,
    list_scenarios,
    load_scenario,
    scenarios_dir,
)

__all__ = [
    "FEATURES",
    "Scenario",
    "SimulatedCohort",
    "design_matrix",
    "list_scenarios",
    "load_scenario",
    "scenarios_dir",
    "simulate_cohort",
    "write_simulated",
]
