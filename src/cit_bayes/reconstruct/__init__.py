"""Synthetic pseudo-cohorts reconstructed to match every published table, with their fidelity."""

from __future__ import annotations

from cit_bayes.reconstruct.cohorts import (
    DEFAULT_SEED,
    ReconstructedCohort,
    reconstruct_cohort,
    reconstruct_cohorts,
    write_reconstruction,
)
from cit_bayes.reconstruct.fidelity import fidelity_report
from cit_bayes.reconstruct.plan import ReconstructionPlan, load_reconstruction_plan
from cit_bayes.reconstruct.targets import published_targets

__all__ = [
    "DEFAULT_SEED",
    "ReconstructedCohort",
    "ReconstructionPlan",
    "fidelity_report",
    "load_reconstruction_plan",
    "published_targets",
    "reconstruct_cohort",
    "reconstruct_cohorts",
    "write_reconstruction",
]
