"""The paper's published tables as data, the audit of its statistics, and reconstruction."""

from __future__ import annotations

from cit_bayes.published.audit import AuditRecord, audit_frame, run_audit, write_audit
from cit_bayes.published.recovered_counts import implied_recovered_counts
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
    "audit_frame",
    "count_table",
    "implied_recovered_counts",
    "load_tables",
    "parse_printed_cell",
    "parse_printed_p",
    "run_audit",
    "write_audit",
]
