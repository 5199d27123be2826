"""The paper's published tables as data, the audit of its statistics, and reconstruction."""

from __future__ import annotations

from cit_bayes.published.tables import (
    ARM_SIZES,
    count_table,
    load_tables,
    parse_printed_cell,
    parse_printed_p,
)

__all__ = ["ARM_SIZES", "count_table", "load_tables", "parse_printed_cell", "parse_printed_p"]
