"""``cit-bayes audit``: the statcheck-style audit of the paper's reported statistics.

Runs :func:`cit_bayes.paper.audit.run_audit`, prints a summary table (rich in a terminal,
plain text otherwise), writes ``audit.json``, ``audit.csv`` and ``audit.md`` into ``--out``
(default ``reports/audit``) and says what it wrote. Exit 0 even when the audit has findings; a
named error (tables missing or malformed, bad arguments, output folder not writable) exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cit_bayes.paper.audit import (
    DEFAULT_MONTE_CARLO_SAMPLES,
    DEFAULT_SEED,
    run_audit,
    write_audit,
)
from cit_bayes.paper.audit_report import print_summary
from cit_bayes.paper.tables import load_tables

__all__ = ["register", "run_audit_command"]


def register(subparsers) -> None:
    """Add the ``audit`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.audit import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["audit", "--seed", "3"])
    >>> args.out, args.seed, args.tables
    ('reports/audit', 3, None)
    """
    parser = subparsers.add_parser(
        "audit",
        help="check the paper's reported statistics against its own numbers",
        description=(
            "Recompute every statistic the paper reports that its printed numbers allow "
            "(chi-square, exact tests, odds ratios, F, p-values from statistics, percentages, "
            "mean differences), identify which test reproduces each, and write audit.json, "
            "audit.csv and audit.md. Exits 0 even when findings exist."
        ),
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="reports/audit",
        help="output folder (default: reports/audit)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed of the Monte Carlo exact p-values (default: {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--monte-carlo-samples",
        type=int,
        default=DEFAULT_MONTE_CARLO_SAMPLES,
        metavar="B",
        help=f"tables drawn per Monte Carlo p-value (default: {DEFAULT_MONTE_CARLO_SAMPLES:,})",
    )
    parser.add_argument(
        "--tables",
        metavar="DIR",
        default=None,
        help="folder of the published tables (default: the bundled data/published)",
    )
    parser.set_defaults(func=run_audit_command)


def run_audit_command(args) -> int:
    """Run the audit, print the summary, write the files; return 0.

    Examples
    --------
    The audit takes seconds; a folder without the paper's tables stops it before any writing:

    >>> import argparse, tempfile
    >>> from cit_bayes.exceptions import PublishedDataError
    >>> with tempfile.TemporaryDirectory() as empty:
    ...     try:
    ...         run_audit_command(argparse.Namespace(out=empty + "/audit", tables=empty))
    ...     except PublishedDataError as error:
    ...         print(str(error).replace(empty, "EMPTY"))
    missing published table EMPTY/table1_baseline.csv
    """
    from cit_bayes.output import check_output_folder, staged_folder

    check_output_folder(args.out)
    tables = load_tables(args.tables)
    records = run_audit(tables, seed=args.seed, monte_carlo_samples=args.monte_carlo_samples)
    print_summary(records)
    with staged_folder(args.out) as staging:
        paths = write_audit(
            records,
            staging,
            metadata={"seed": args.seed, "Monte Carlo samples": f"{args.monte_carlo_samples:,}"},
        )
    print()
    print(f"wrote {len(records)} audit records:")
    for path in paths.values():
        print(f"  {Path(args.out) / path.name}")
    sys.stdout.flush()
    return 0
