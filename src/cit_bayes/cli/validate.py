"""``cit-bayes validate``: check a patient-level file against the cohort schema.

Prints a per-arm summary (counts and shares only, never identifiers or row-level values) and
exits 0 when the file is valid; otherwise the dispatcher prints every problem (file, row, column,
value, expectation) and exits 2.
"""

from __future__ import annotations

import pandas as pd

from cit_bayes.cohort import read_cohort
from cit_bayes.cohort.schema import MISSING_POLICIES, RESPONSE_RULES

__all__ = ["register", "run_validate"]


def add_cohort_arguments(parser) -> None:
    """How to read a cohort file: ``--columns``, ``--missing``, ``--response-rule``, ``--labs``.

    Shared by every command that reads a cohort (``validate``, ``fit``, ``run``).
    """
    parser.add_argument(
        "--columns",
        metavar="MAP",
        help="column mapping TOML (other column names or value codes; see the schema doc)",
    )
    parser.add_argument(
        "--missing",
        choices=MISSING_POLICIES,
        default="error",
        help="rows with a missing baseline covariate, baseline count or undeterminable "
        "response: 'error' (default) lists them; 'drop' drops them and counts them per arm; "
        "'impute' keeps the rows with missing covariates and imputes them by chained "
        "equations (the plan's [imputation] m times; baseline count and outcomes are never "
        "imputed: those rows are dropped and counted)",
    )
    parser.add_argument(
        "--response-rule",
        choices=RESPONSE_RULES,
        default="any",
        help="response at any post-baseline count (default), at day 14 only ('day14'), or "
        "at the last planned day only ('last': the plan's [plt] planned_days)",
    )
    parser.add_argument(
        "--problems",
        metavar="FILE",
        help="when the cohort is refused, write every problem (file, row, column, value, "
        "expected) to this new CSV file (never over an existing one)",
    )
    parser.add_argument(
        "--labs",
        metavar="LABS",
        help="laboratory results in long format (one row per platelet count: patient_id, day "
        "or date, platelets), which then provide the counts and the recovery; the cohort file "
        "holds one row per patient (and treatment_start when LABS gives dates)",
    )


def register(subparsers) -> None:
    """Add the ``validate`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.validate import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["validate", "cohort.xlsx", "--missing", "drop"])
    >>> args.file, args.missing, args.response_rule
    ('cohort.xlsx', 'drop', 'any')
    """
    parser = subparsers.add_parser(
        "validate",
        help="check a patient-level cohort file and summarise it per arm",
        description=(
            "Read FILE (.csv, .tsv, .xlsx, .sav, .dta or .parquet), check it against the cohort "
            "schema (docs/cohort-schema.md) and print a per-arm summary: patients, rows dropped, "
            "missing counts, derived response and recovery. Exit 0 when valid; otherwise print "
            "every problem with its row and column and exit 2. With --plan, the plan's "
            "columns beyond the schema (numeric covariates and a grouping column it names) are "
            "checked too."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the cohort file")
    parser.add_argument(
        "--plan",
        metavar="TOML",
        help=(
            "analysis plan whose covariates and grouping column the cohort must hold "
            "(default models/default.toml)"
        ),
    )
    add_cohort_arguments(parser)
    parser.set_defaults(func=run_validate)


def _format_summary(summary: pd.DataFrame) -> str:
    shown = summary.copy()
    for column in ("response_rate", "recovered_share"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{100 * v:.1f}%")
    for column in ("median_recovery_day", "median_delta_plt"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    return shown.set_index("arm").T.to_string()


def run_validate(args) -> int:
    """Validate the file; print the summary; return 0 (errors propagate as CohortError).

    Examples
    --------
    >>> import argparse, contextlib, io
    >>> from cit_bayes._paths import data_dir
    >>> args = argparse.Namespace(columns=None, missing="error", response_rule="any")
    >>> args.file = data_dir() / "reconstructed" / "cohort.csv"  # the bundled synthetic cohort
    >>> with contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     code = run_validate(args)
    >>> code, printed.getvalue().splitlines()[0].split(": ")[1]
    (0, 'valid synthetic (simulated or reconstructed) cohort, 187 patients in 4 arms')
    """
    beyond: dict = {}
    if getattr(args, "plan", None):  # the default plan names no column beyond the schema
        from cit_bayes.plan import load_plan

        beyond = load_plan(args.plan).cohort_columns()
    cohort = read_cohort(
        args.file,
        args.columns,
        missing=args.missing,
        response_rule=args.response_rule,
        labs=getattr(args, "labs", None),
        **beyond,
    )
    kind = "synthetic (simulated or reconstructed) " if cohort.synthetic else ""
    print(f"{cohort.source}: valid {kind}cohort, {cohort.n} patients in {len(cohort.arms)} arms")
    print(f"response rule: {cohort.response_rule}; missing values: {cohort.missing}")
    print(f"fingerprint: sha256:{cohort.fingerprint}")
    print()
    print(_format_summary(cohort.summary()))
    if not cohort.dropped.empty:
        print()
        print("rows dropped (missing values):")
        print(cohort.dropped.to_string(index=False))
    if cohort.missing == "impute":
        from cit_bayes.cohort.impute import imputed_columns

        cells = imputed_columns(cohort)
        print()
        print(
            "missing covariate cells to impute (run and fit impute them, the plan's "
            "[imputation] m times): "
            + (", ".join(f"{name} {count}" for name, count in cells.items()) or "none")
        )
    if cohort.notes:
        print()
        print("notes:")
        for note in cohort.notes:
            print(f"  - {note}")
    return 0
