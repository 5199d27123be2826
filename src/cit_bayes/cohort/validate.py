"""Validation of a patient-level table against the cohort schema, and construction of a Cohort.

Every problem is collected (up to a cap) and raised together in one
:class:`~cit_bayes.exceptions.CohortError`, each naming the file, the data row (1-based, header
excluded), the column, the value and what was expected. Nothing is dropped silently: rows are only
dropped for missing values under ``missing="drop"``, and the count per arm and reason travels with
the cohort (``Cohort.dropped``).

Here the columns are found and each cell parsed; :mod:`cit_bayes.cohort.row_checks` checks
across cells and decides the rows dropped, :mod:`cit_bayes.cohort.assemble` assembles the Cohort,
and :mod:`cit_bayes.cohort.plan_columns` checks the columns an analysis plan adds or leaves out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes.cohort.assemble import assemble_cohort, with_extra_columns
from cit_bayes.cohort.cells import ParsedColumn, is_missing, parse_column
from cit_bayes.cohort.dataset import Cohort
from cit_bayes.cohort.labs import LabSummary, check_days, with_lab_counts
from cit_bayes.cohort.mapping import ColumnMapping, load_mapping, normalise_key
from cit_bayes.cohort.plan_columns import (
    check_arm_labels,
    extra_covariate_specs,
    group_column_specs,
    unused_covariates,
)
from cit_bayes.cohort.problems import Problem, ProblemLog
from cit_bayes.cohort.row_checks import check_rows
from cit_bayes.cohort.schema import (
    ARMS,
    COLUMN_SPECS,
    MISSING_POLICIES,
    PLANNED_DAY_COLUMN,
    PLT_DAYS,
    RESPONSE_RULES,
    SAFETY_OUTCOMES,
    ColumnSpec,
    column_specs,
)
from cit_bayes.exceptions import CohortError

__all__ = ["validate_cohort"]

_MAX_NAMES_IN_NOTE = 10


def validate_cohort(
    frame: pd.DataFrame,
    *,
    source: str = "<data frame>",
    columns: str | Path | Mapping | ColumnMapping | None = None,
    missing: str = "error",
    response_rule: str = "any",
    covariates: Sequence[str] = (),
    group: str | None = None,
    arms: Sequence[str] | None = None,
    used_covariates: Sequence[str] | None = None,
    days: Sequence[int] = PLT_DAYS,
    labs: pd.DataFrame | None = None,
    lab_window: int = 1,
) -> Cohort:
    """Validate an in-memory table against the cohort schema and derive the outcome columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient; column names matched case-insensitively, surrounding spaces ignored.
    source : str
        How problems name the table (a file name, or a description).
    columns : path, dict or ColumnMapping, optional
        A column mapping (see :mod:`cit_bayes.cohort.mapping`).
    missing : {"error", "drop", "impute"}
        What a missing baseline covariate, a missing ``plt_day0`` or an undeterminable response
        does: an error listing the rows (default), or the row is dropped and counted per arm.
        ``"impute"`` keeps the rows whose baseline covariates are missing (their cells stay
        missing, for :func:`cit_bayes.cohort.impute.impute_cohort`) and drops, counted, those
        whose ``plt_day0``, grouping label or response is missing: those are never imputed.
    response_rule : {"any", "day14"}
        See :func:`cit_bayes.cohort.derive.derive_response`.
    covariates : sequence of str
        Numeric columns beyond the schema that an analysis plan names as covariates (a
        laboratory value, a score): each is required, read as a finite number (found by its own
        name, case and surrounding spaces ignored), and its missing cells follow ``missing``
        like the baseline covariates'. Schema columns and outcomes cannot be named here.
    group : str, optional
        The column whose values group the patients for a further hierarchical level of the
        outcome models (an analysis plan's ``[covariates] group``): a categorical schema
        column (``tumor_type``, ``stage``, ``sex``) is read as such; any other name is a
        column of labels beyond the schema (a centre), read as text, required, its missing
        cells following ``missing``.
    arms : sequence of str, optional
        The arm labels the cohort may hold (an analysis plan's ``[arms] labels``), in the order
        results list them; default the CIT study's four (:data:`~cit_bayes.cohort.schema.ARMS`).
        Cells match a label with case and spaces ignored.
    used_covariates : sequence of str, optional
        The covariates an analysis plan uses (its ``[covariates] names`` and a schema grouping
        column). The schema's baseline covariates outside it are not required and not read
        (their columns in ``data`` hold missing values; :attr:`Cohort.unused_covariates`), so a
        file need not have them and their cells cannot stop the analysis. Default: all required.
    labs : pandas.DataFrame, optional
        Laboratory results in long format (one row per count: ``patient_id``, ``day`` or
        ``date``, ``platelets``), which then provide the platelet counts and the recovery
        (:func:`cit_bayes.cohort.labs.with_lab_counts`; ``frame`` may not hold them).
    lab_window : int
        Days either side of a planned day within which a laboratory count is taken for it
        (an analysis plan's ``[labs] window``); used only with ``labs``.
    days : sequence of int
        The planned days of the platelet counts (an analysis plan's ``[plt] planned_days``;
        default 0, 3, 7, 14): one count column ``plt_day<d>`` per day, the recovery day from 1
        to the last (:func:`cit_bayes.cohort.schema.check_planned_days`).

    Returns
    -------
    Cohort

    Raises
    ------
    CohortError
        With every problem found in ``problems`` (capped at 200; the message gives the total).

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes._paths import data_dir
    >>> frame = pd.read_csv(data_dir() / "reconstructed" / "cohort.csv")
    >>> cohort = validate_cohort(frame, source="cohort table")
    >>> cohort.source, cohort.n, cohort.response_rule
    ('cohort table', 187, 'any')
    """
    mapping = load_mapping(columns)
    frame, summary = _with_lab_table(frame, labs, mapping, source, lab_window, days)
    return validate_table(
        frame,
        source=source,
        mapping=mapping,
        lab_summary=summary,
        missing=missing,
        response_rule=response_rule,
        covariates=covariates,
        group=group,
        arms=arms,
        used_covariates=used_covariates,
        days=days,
    )


def _with_lab_table(
    frame: pd.DataFrame, labs, mapping: ColumnMapping, source: str, lab_window: int, days
) -> tuple[pd.DataFrame, LabSummary | None]:
    """``frame`` with the counts of the laboratory table ``labs`` when one is given
    (:func:`~cit_bayes.cohort.labs.with_lab_counts`), and their summary (None without)."""
    summary = None
    if labs is not None:
        if not isinstance(labs, pd.DataFrame):
            raise CohortError(f"labs: expected a pandas DataFrame, got {type(labs).__name__}")
        frame, summary = with_lab_counts(
            frame,
            labs,
            mapping,
            source=source,
            lab_source="<laboratory table>",
            window=lab_window,
            days=tuple(days),
        )
    return frame, summary


def validate_table(
    frame: pd.DataFrame,
    *,
    source: str,
    mapping: ColumnMapping,
    missing: str = "error",
    response_rule: str = "any",
    decimal_comma: bool = False,
    reader_notes: tuple[str, ...] = (),
    row_numbers: np.ndarray | None = None,
    covariates: Sequence[str] = (),
    group: str | None = None,
    arms: Sequence[str] | None = None,
    used_covariates: Sequence[str] | None = None,
    lab_summary: LabSummary | None = None,
    value_labels: Mapping | None = None,
    days: Sequence[int] = PLT_DAYS,
) -> Cohort:
    """:func:`validate_cohort` with the options readers need (decimal comma, reader notes);
    ``lab_summary``: the platelet columns were made from a laboratory file (windowed counts,
    not compared with the recovery day; the summary travels with the cohort).
    ``value_labels``: SPSS/Stata value labels, file column -> {code: label}
    (:func:`_label_or_code`)."""
    if missing not in MISSING_POLICIES:
        raise CohortError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    if response_rule not in RESPONSE_RULES:
        raise CohortError(f"response_rule must be one of {RESPONSE_RULES}, got {response_rule!r}")
    if not isinstance(frame, pd.DataFrame):
        raise CohortError(f"{source}: expected a pandas DataFrame, got {type(frame).__name__}")
    days = check_days(days)
    if response_rule == "day14" and 14 not in days:
        raise CohortError(
            f"response_rule 'day14' needs day 14 among the planned days {days}; rule 'last' "
            "looks at the last planned day's count"
        )
    extra = extra_covariate_specs(covariates)
    labels = group_column_specs(group)
    arm_labels = check_arm_labels(ARMS if arms is None else arms)
    unused = unused_covariates(used_covariates)
    specs = tuple(
        dataclasses.replace(spec, allowed=arm_labels) if spec.name == "arm" else spec
        for spec in column_specs(days) + extra + labels
        if spec.name not in unused
    )
    log = ProblemLog(source)
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        what = "no columns" if frame.shape[1] == 0 else "no data rows below the header"
        log.add_general(None, f"a table with a header and one row per patient (found {what})")
        log.raise_if_any("is empty")
    notes: list[str] = list(reader_notes)
    rows = np.arange(1, len(frame) + 1) if row_numbers is None else np.asarray(row_numbers)
    log.rows = rows
    located = _locate_columns(frame, mapping, log, notes, specs)
    log.private = {located[s.name][0] for s in specs if s.kind == "id" and s.name in located}
    absent = [p.column for p in log.problems if "a required column" in p.expected]
    if len(absent) < len(log.problems):  # duplicate names: which column is meant is unknowable
        log.raise_if_any("has duplicate column names")

    parsed = _parse_cells(frame, specs, located, log, notes, value_labels, mapping, decimal_comma)
    if "patient_id" in parsed:
        _hint_long_format(parsed["patient_id"], located["patient_id"][0], log)
    # With a required column absent, the cells of the columns present are still checked (above),
    # so that one run reports every problem; cross-column checks need the whole schema.
    if absent:
        _raise_for_absent_columns(frame, absent, specs, days, log)
    names = {name: where[0] for name, where in located.items()}
    windowed = lab_summary is not None
    drop_reason = check_rows(
        parsed, names, log, missing, response_rule, specs, windowed, days, group=group
    )
    log.raise_if_any()
    if unused:
        notes.append(
            f"not read, as the analysis plan does not use them: {', '.join(unused)} (their "
            "columns hold missing values)"
        )
    if windowed:
        notes.append(lab_summary.note())
    cohort = assemble_cohort(
        parsed, drop_reason, source, missing, response_rule, notes, arm_labels, days
    )
    kept = np.setdiff1d(np.arange(len(rows)), np.fromiter(drop_reason, dtype=int))
    cohort = dataclasses.replace(cohort, rows=tuple(int(row) for row in rows[kept]))
    if windowed:
        cohort = dataclasses.replace(cohort, labs=lab_summary)
    if unused:
        cohort = dataclasses.replace(cohort, unused_covariates=unused)
    if not extra and not labels:
        return cohort
    names = tuple(s.name for s in extra)
    return with_extra_columns(cohort, parsed, drop_reason, names, labels[0].name if labels else "")


def _parse_cells(frame, specs, located, log, notes, value_labels, mapping, decimal_comma):
    """Every located column parsed by its spec: problems go to ``log``, recodes (and how value
    labels were read) to ``notes``. Returns {column name: ParsedColumn}."""
    parsed: dict[str, ParsedColumn] = {}
    read_as: dict[str, list[str]] = {"labels": [], "codes": []}
    for spec in specs:
        if spec.name not in located:
            continue
        file_column = located[spec.name]
        series = frame.iloc[:, file_column[1]]
        codes = (value_labels or {}).get(file_column[0])
        if codes:
            series, by_label = _label_or_code(spec, series, codes, mapping)
            read_as["labels" if by_label else "codes"].append(spec.name)
        result = parse_column(spec, series, mapping, decimal_comma=decimal_comma)
        parsed[spec.name] = result
        for position, raw, expected in result.errors:
            log.add_at(position, file_column[0], raw, expected)
        for description, count in sorted(result.recodes.items()):
            notes.append(f"{spec.name}: {description} ({count} cell{'s' if count > 1 else ''})")
    if read_as["labels"] or read_as["codes"]:
        notes.append(
            "value labels: labels read for "
            + (", ".join(read_as["labels"]) or "no column")
            + "; codes read for "
            + (", ".join(read_as["codes"]) or "no column")
            + " (ordinal scores, whose labels describe the codes, or labels turned off); a "
            "mapping key may name a code or a label"
        )
    return parsed


def _raise_for_absent_columns(frame, absent, specs, days, log: ProblemLog) -> None:
    """Raise for the absent required columns, with every problem found so far, and a hint
    when the file holds counts of other days than the planned ones."""
    other_days = [
        str(column)
        for column in frame.columns
        if PLANNED_DAY_COLUMN.match(str(column).strip().lower())
        and str(column).strip().lower() not in {s.name for s in specs}
    ]
    if other_days and any(name.startswith("plt_day") for name in map(str, absent)):
        log.add_general(
            None,
            f"counts on the planned days {tuple(days)}: the file holds "
            f"{', '.join(other_days[:6])}, counts of other days, which an analysis plan "
            "names in [plt] planned_days (pass it with --plan)",
        )
    log.raise_if_any(f"is missing required column(s) {', '.join(map(str, absent))}")


#: Column kinds whose SPSS/Stata value labels are read: all but the ordinal scores (ECOG),
#: whose labels ("Fully active") describe their codes. A labelled code of a measured number is
#: a sentinel ("999 = not done"): its label is read, and refused (or read as empty).
_LABELLED_KINDS = ("id", "arm", "category", "text", "binary", "number", "plt", "day")


def _label_or_code(
    spec: ColumnSpec, series: pd.Series, labels: Mapping, mapping: ColumnMapping
) -> tuple[pd.Series, bool]:
    """Each cell as its code or its value label: the one a mapping key names (the code first);
    otherwise the label for text columns, the code for numeric ones. With ``[read]
    value_labels = false``, codes only. Returns the cells and whether labels are read by
    default.

    Examples
    --------
    >>> from cit_bayes.cohort.schema import column_spec
    >>> labels = {1.0: "TPO", 2.0: "HET"}
    >>> mapping = ColumnMapping(values={"arm": {"1": "rhTPO", "het": "hetrombopag"}})
    >>> _label_or_code(column_spec("arm"), pd.Series([1.0, 2.0]), labels, mapping)[0].tolist()
    [1.0, 'HET']
    """
    table = mapping.values.get(spec.name, {})
    by_label = mapping.value_labels and spec.kind in _LABELLED_KINDS
    cells = []
    for cell in series.to_numpy(dtype=object):
        label = labels.get(cell) if mapping.value_labels and not is_missing(cell) else None
        if table and normalise_key(cell) in table:
            cells.append(cell)
        elif label is not None and (by_label or (table and normalise_key(label) in table)):
            cells.append(label)
        else:
            cells.append(cell)
    return pd.Series(cells, index=series.index, dtype=object), by_label


def _hint_long_format(identifiers: ParsedColumn, column: str, log: ProblemLog) -> None:
    """A file in which many identifiers repeat (at least two rows, and a fifth of them) is
    likely one row per measurement: say how to read it (a lone repeat is a typing error, named
    on its row as such)."""
    known = [value for value in identifiers.values if value is not None]
    repeated = len(known) - len(set(known))
    if repeated >= max(2, len(known) / 5):  # listed first: it explains the missing columns
        log.problems.insert(
            0,
            Problem(
                log.file,
                None,
                column,
                None,
                f"one row per patient ({repeated} rows repeat an identifier): a file with one "
                "row per measurement is read as laboratory results beside a file with one row "
                "per patient: cit-bayes validate PATIENTS --labs LABS (docs/cohort-schema.md, "
                "'Laboratory results in long format')",
            ),
        )


def _locate_columns(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    log: ProblemLog,
    notes: list[str],
    specs: tuple[ColumnSpec, ...] = COLUMN_SPECS,
) -> dict[str, tuple[str, int]]:
    """Find each schema column in the file: canonical name -> (name in file, position)."""
    by_key: dict[str, list[tuple[str, int]]] = {}
    for position, column in enumerate(frame.columns):
        name = str(column)
        by_key.setdefault(name.strip().lower(), []).append((name, position))
    for found in by_key.values():
        if len(found) > 1:
            shown = " and ".join(repr(name) for name, _ in found)
            log.add_general(found[0][0], f"one column per name (case and spaces ignored): {shown}")
    located: dict[str, tuple[str, int]] = {}
    absent: list[str] = []
    for spec in specs:
        wanted = mapping.columns.get(spec.name, spec.name)
        found = by_key.get(wanted.strip().lower())
        if found:
            located[spec.name] = found[0]
        elif spec.required:
            via = (
                f" (mapped from {spec.name} by {mapping.source})"
                if spec.name in mapping.columns
                else ""
            )
            log.add_general(
                wanted, f"a required column named {wanted!r}{via}: {spec.description} (missing)"
            )
        elif spec.name in SAFETY_OUTCOMES:
            absent.append(spec.name)
    if absent:
        notes.append(
            f"absent optional column(s) recorded as missing for every patient: {', '.join(absent)}"
        )
    used = {position for _, position in located.values()}
    extra = [str(c) for position, c in enumerate(frame.columns) if position not in used]
    if extra:
        listed = ", ".join(repr(name) for name in extra[:_MAX_NAMES_IN_NOTE])
        more = (
            f" and {len(extra) - _MAX_NAMES_IN_NOTE} more"
            if len(extra) > _MAX_NAMES_IN_NOTE
            else ""
        )
        notes.append(f"ignored {len(extra)} column(s) not in the schema: {listed}{more}")
    return located
