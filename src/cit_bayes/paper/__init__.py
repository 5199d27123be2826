"""The paper: its published tables as data, the statistics recomputed from them, and the audit."""

from __future__ import annotations

from cit_bayes.paper.audit import AuditRecord, audit_frame, run_audit, write_audit
from cit_bayes.paper.recovery_analysis_sizes import implied_recovery_analysis_sizes
from cit_bayes.paper.tables import (
    ARM_SIZES,
    count_table,
    load_tables,
    parse_printed_cell,
    parse_printed_p,
)

__all__ = [
    "ARM_SIZES",
    "AuditRecord",
    "audit_frame",
    "count_table",
    "implied_recovery_analysis_sizes",
    "load_tables",
    "parse_printed_cell",
    "parse_printed_p",
    "run_audit",
    "write_audit",
]
