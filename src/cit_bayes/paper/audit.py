"""A statcheck-style audit of every statistic the paper reports that its own numbers allow to
recompute.

:func:`run_audit` returns a list of :class:`AuditRecord` (frozen dataclasses); :func:`audit_frame`
turns them into a tidy DataFrame and :func:`write_audit` writes ``audit.json``, ``audit.csv`` and
``audit.md``. The verdict rules are in :mod:`cit_bayes.paper.audit_rules` (and at the top of
``audit.md``).

What is checked
---------------
* Count tables (Tables 1, 2, 8, 9): Pearson χ² (asymptotic and exact p), G², the
  Fisher-Freeman-Halton test with the statistic SPSS prints (exact p by enumeration, or Monte
  Carlo with a stated seed and standard error); the test that reproduces the printed values is
  identified (:mod:`~cit_bayes.paper.audit_counts`).
* Table 3: pairwise χ² with and without Yates' correction, Fisher's test, and odds ratios with
  Woolf CIs in the orientation that reproduces the printed one.
* Continuous outcomes (Table 1 age/BMI, Tables 4-7): ANOVA F from mean ± SD, the Wald χ² that
  reproduces Tables 4-5, p-values of printed statistics on their df, mean differences and CIs of
  Table 7 and the recovery-analysis sizes they imply (:mod:`~cit_bayes.paper.audit_continuous`,
  :mod:`~cit_bayes.paper.audit_recovery`, :mod:`~cit_bayes.paper.recovery_analysis_sizes`).
* Percentages from n/N (GRIM-style) and the prose against the tables
  (:mod:`~cit_bayes.paper.audit_text`), then reporting notes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.audit_continuous import (
    baseline_anova_checks,
    platelet_checks,
    platelet_pairwise_checks,
    within_arm_checks,
)
from cit_bayes.paper.audit_counts import (
    count_table_checks,
    odds_ratio_checks,
    pairwise_response_checks,
    percentage_checks,
)
from cit_bayes.paper.audit_findings import assign_findings
from cit_bayes.paper.audit_notes import reporting_notes
from cit_bayes.paper.audit_recovery import (
    day14_recovery_checks,
    recovery_checks,
    recovery_pairwise_checks,
)
from cit_bayes.paper.audit_report import records_frame, write_audit
from cit_bayes.paper.audit_rules import AuditRecord
from cit_bayes.paper.audit_text import text_checks
from cit_bayes.paper.recovery_analysis_sizes import implied_recovery_analysis_sizes
from cit_bayes.paper.tables import load_tables

__all__ = [
    "DEFAULT_MONTE_CARLO_SAMPLES",
    "DEFAULT_SEED",
    "AuditRecord",
    "audit_frame",
    "run_audit",
    "write_audit",
]

#: Seed of the Monte Carlo exact p-values when none is given (also the Makefile's SEED).
DEFAULT_SEED = 20250101
DEFAULT_MONTE_CARLO_SAMPLES = 100_000
_TABLE_ORDER = [f"table{i}" for i in range(1, 10)] + ["text"]


def run_audit(
    tables: dict[str, pd.DataFrame] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    monte_carlo_samples: int = DEFAULT_MONTE_CARLO_SAMPLES,
) -> list[AuditRecord]:
    """Audit every recomputable statistic of the paper.

    Parameters
    ----------
    tables : dict of DataFrame, optional
        As returned by :func:`~cit_bayes.paper.load_tables`; default the bundled tables.
    seed : int
        Seeds the Monte Carlo p-values of tables too large to enumerate (each such table gets
        its own stream, derived from ``seed`` and its position; the seed used is in the
        record's ``p_method``). Same seed, same records.
    monte_carlo_samples : int
        Tables drawn per Monte Carlo p-value.

    Returns
    -------
    list of AuditRecord
        Checks first, in table order (Tables 1-9, then the text), then reporting notes; each
        flagged record names its finding (:mod:`cit_bayes.paper.audit_findings`).

    Raises
    ------
    PublishedDataError
        If the tables are missing or malformed, or the arguments are invalid.

    Examples
    --------
    >>> from cit_bayes.paper.audit import run_audit
    >>> run_audit(seed=-1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PublishedDataError: seed must be a non-negative integer, got -1
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise PublishedDataError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(monte_carlo_samples, bool) or not isinstance(
        monte_carlo_samples, int | np.integer
    ):
        raise PublishedDataError("monte_carlo_samples must be an integer")
    if monte_carlo_samples < 100:
        raise PublishedDataError(
            f"monte_carlo_samples must be at least 100, got {monte_carlo_samples}"
        )
    tables = load_tables() if tables is None else tables
    checks: list[AuditRecord] = []
    checks += count_table_checks(
        tables, seed=int(seed), monte_carlo_samples=int(monte_carlo_samples)
    )
    checks += baseline_anova_checks(tables)
    checks += pairwise_response_checks(tables)
    checks += odds_ratio_checks(tables)
    checks += platelet_checks(tables)
    checks += within_arm_checks(tables)
    checks += platelet_pairwise_checks(tables)
    checks += recovery_checks(tables)
    checks += recovery_pairwise_checks(tables)
    checks += day14_recovery_checks(tables)
    checks += percentage_checks(tables)
    checks += text_checks(tables)
    checks.sort(key=lambda record: _TABLE_ORDER.index(record.table))
    try:
        recovered = implied_recovery_analysis_sizes(tables)
    except PublishedDataError:
        recovered = None
    return assign_findings(checks + reporting_notes(tables, checks, recovered))


def audit_frame(records: list[AuditRecord] | None = None, **audit_options) -> pd.DataFrame:
    """The audit as a tidy DataFrame, one row per record.

    Parameters
    ----------
    records : list of AuditRecord, optional
        Default: ``run_audit(**audit_options)``.

    Returns
    -------
    pandas.DataFrame
        The record fields as columns (``candidates`` joined with `` | ``); ``verdict`` and
        ``kind`` are ordered categoricals.

    Examples
    --------
    >>> from cit_bayes.paper.audit import AuditRecord, audit_frame
    >>> record = AuditRecord("table1", "Sex", "all four arms", "Pearson χ²", "0.745", "0.863",
    ...                      0.7449, 0.8626, "consistent", "")
    >>> audit_frame([record])["verdict"].tolist()
    ['consistent']
    """
    records = run_audit(**audit_options) if records is None else records
    return records_frame(records)
