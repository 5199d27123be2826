"""The paper's published tables as data, the audit of its statistics, and reconstruction."""

from __future__ import annotations

from cit_bayes.published.audit import AuditRecord, audit_frame, run_audit, write_audit
from cit_bayes.published.reconstruct import (
    DEFAULT_SEED,
    ReconstructedCohort,
    reconstruct_cohort,
    reconstruct_cohorts,
    write_reconstruction,
)
from cit_bayes.published.reconstruct_fidelity import fidelity_report
from cit_bayes.published.reconstruct_plan import ReconstructionPlan, load_reconstruction_plan
from cit_bayes.published.reconstruct_targets import published_targets
from cit_bayes.published.recovery_analysis_sizes import implied_recovery_analysis_sizes
from cit_bayes.published.tables import (
    ARM_SIZES,
    count_table,
    load_tables,
    parse_printed_cell,
    parse_printed_p,
)

__all__ = [
    "ARM_SIZES",
    "AuditRecord",
    "DEFAULT_SEED",
    "ReconstructedCohort",
    "ReconstructionPlan",
    "audit_frame",
    "count_table",
    "fidelity_report",
    "implied_recovery_analysis_sizes",
    "load_reconstruction_plan",
    "load_tables",
    "parse_printed_cell",
    "parse_printed_p",
    "published_targets",
    "reconstruct_cohort",
    "reconstruct_cohorts",
    "run_audit",
    "write_audit",
    "write_reconstruction",
]
