"""The inputs of ``cit-bayes weights``: a CIT cohort read as the analysis plan reads it, or a
generic table (``--treatment``), turned into covariates, arms, an outcome and notes; and the
options that take a list or percentiles.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cit_bayes.exceptions import WeightingError

__all__: list[str] = []  # helpers of cit_bayes.cli.weights only


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise WeightingError("--covariates lists no column")
    return names


def _truncate_arg(text: str | None):
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise WeightingError(f"--truncate expects P or P,Q (percentiles); got {text!r}") from None
    return values[0] if len(values) == 1 else tuple(values)


def _read_generic(path: Path) -> pd.DataFrame:
    """Any table the cohort reader reads (CSV/TSV, Excel, SPSS, Stata, Parquet), columns typed.

    The file is read by :func:`cit_bayes.cohort.io.read_table` (one reader for the package:
    encoding, delimiter and decimal-comma detection, blank rows skipped with their numbers
    kept). A cell the cohort reader reads as empty (blank, ``NA``, ``N/A``, ``.``,
    ``missing``...: :data:`cit_bayes.cohort.cells.MISSING_TOKENS`) is missing here too, never a
    category; a text column whose every other cell is a number becomes numeric, as a CSV
    reader's type inference would make it.
    """
    from cit_bayes.cohort.cells import is_missing
    from cit_bayes.cohort.io import read_table

    raw = read_table(path)
    frame = raw.frame.copy()
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        text = column.map(lambda v: v.strip() if isinstance(v, str) else v)
        text = text.mask(text.map(is_missing))
        if raw.decimal_comma:
            text = text.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)
        numbers = pd.to_numeric(text, errors="coerce")
        frame[name] = numbers if numbers.notna().sum() == text.notna().sum() else text
    return frame


def _looks_like_identifier(series: pd.Series) -> bool:
    text = not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return text and series.nunique(dropna=True) == len(series) and len(series) > 1


def _generic_inputs(args, path: Path):
    frame = _read_generic(path)
    missing = [c for c in [args.treatment, args.outcome] if c is not None and c not in frame]
    covariates = _split(args.covariates)
    missing += [c for c in covariates or [] if c not in frame]
    if missing:
        raise WeightingError(
            f"{path.name}: no column(s) {missing}; columns are {list(frame.columns)}"
        )
    notes = []
    if covariates is None:
        candidates = [c for c in frame.columns if c not in {args.treatment, args.outcome}]
        identifiers = [c for c in candidates if _looks_like_identifier(frame[c])]
        covariates = [c for c in candidates if c not in identifiers]
        if identifiers:
            notes.append(
                f"left out identifier-like column(s) {identifiers} (a distinct text value on every row)"
            )
    outcome = frame[args.outcome] if args.outcome else None
    return frame[covariates], frame[args.treatment], outcome, notes, None


def _cohort_inputs(args, path: Path):
    from cit_bayes.cohort import read_cohort
    from cit_bayes.plan import load_plan

    # read as the plan reads it: its arms, its covariates (or those --covariates names), and
    # the counts of a long-format laboratory file
    plan = load_plan(args.plan)
    columns = plan.cohort_columns()
    names = _split(args.covariates)
    if names is not None:
        columns["used_covariates"] = tuple(names)
    cohort = read_cohort(
        path,
        getattr(args, "columns", None),
        labs=getattr(args, "labs", None),
        missing=getattr(args, "missing", "error"),
        **columns,
    )
    covariates = cohort.covariates()
    if names is not None:
        unknown = [c for c in names if c not in covariates and c not in cohort.data]
        if unknown:
            raise WeightingError(
                f"unknown covariate(s) {unknown}; baseline covariates are {list(covariates.columns)}"
            )
        covariates = pd.concat(
            [covariates[c] if c in covariates else cohort.data[c] for c in names], axis=1
        )
    outcome = None
    if args.outcome:
        if args.outcome not in cohort.data:
            raise WeightingError(f"no outcome column {args.outcome!r} in the cohort")
        outcome = cohort.data[args.outcome]
    notes = [f"synthetic cohort ({cohort.source})"] if cohort.synthetic else []
    if not cohort.dropped.empty:
        counts = ", ".join(
            f"{row.arm} {row.n_dropped} ({row.reason})" for row in cohort.dropped.itertuples()
        )
        notes.append(
            f"dropped {int(cohort.dropped['n_dropped'].sum())} rows for missing values "
            f"(--missing drop): {counts}; weights.csv's row is the input file's data row"
        )
    return covariates, cohort.data["arm"], outcome, notes, cohort


def _check_generic_options(args) -> None:
    """A generic table (``--treatment``) is read as it is: no laboratory file, column mapping
    or missing-value policy, which read a CIT cohort."""
    if args.treatment and getattr(args, "labs", None):
        raise WeightingError(
            "--labs completes a CIT cohort; a generic table read with --treatment takes "
            "no laboratory file"
        )
    if args.treatment and (
        getattr(args, "columns", None) or getattr(args, "missing", "error") != "error"
    ):
        raise WeightingError(
            "--columns and --missing read a CIT cohort; a generic table read with "
            "--treatment is read as it is"
        )
