"""Validation of a patient-level table against the cohort schema, and construction of a Cohort.

Every problem is collected (up to a cap) and raised together in one
:class:`~cit_bayes.exceptions.CohortError`, each naming the file, the data row (1-based, header
excluded), the column, the value and what was expected. Nothing is dropped silently: rows are only
dropped for missing values under ``missing="drop"``, and the count per arm and reason travels with
the cohort (``Cohort.dropped``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes.cohort.cells import ParsedColumn, arm_key, is_missing, parse_column
from cit_bayes.cohort.dataset import DROPPED_COLUMNS, Cohort, fingerprint_frame
from cit_bayes.cohort.derive import (
    derive_delta_plt,
    derive_recovery_after,
    derive_response_by_day,
    derive_time_to_recovery_by_day,
    response_determined_by_day,
)
from cit_bayes.cohort.labs import LabSummary, check_days, with_lab_counts
from cit_bayes.cohort.mapping import ColumnMapping, load_mapping, normalise_key
from cit_bayes.cohort.problems import Problem, ProblemLog
from cit_bayes.cohort.schema import (
    ARMS,
    BASELINE_COVARIATES,
    BINARY_COVARIATES,
    CATEGORICAL_COVARIATES,
    COHORT_COLUMNS,
    COLUMN_SPECS,
    DERIVED_COVARIATES,
    INPUT_COLUMNS,
    MISSING_POLICIES,
    PLANNED_DAY_COLUMN,
    PLT_DAYS,
    RECOVERY_THRESHOLD,
    RESPONSE_RULES,
    SAFETY_OUTCOMES,
    ColumnSpec,
    cohort_columns,
    column_specs,
    plt_columns,
)
from cit_bayes.exceptions import CohortError

__all__ = [
    "check_arm_labels",
    "extra_covariate_specs",
    "group_column_specs",
    "unused_covariates",
    "validate_cohort",
]

_MAX_NAMES_IN_NOTE = 10
_DROP_HINT = (
    "missing='drop' (--missing drop) drops such rows and counts them per arm; "
    "missing='impute' (--missing impute) imputes missing baseline covariates"
)
#: Under ``missing="impute"``: what is never imputed, and why (such rows are dropped and counted).
NOT_IMPUTED = {
    "plt_day0": "missing plt_day0 (not imputed: the response is defined relative to it)",
    "group": "missing grouping label (not imputed)",
}


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
    drop_reason = _check_rows(parsed, names, log, missing, response_rule, specs, windowed, days)
    log.raise_if_any()
    if unused:
        notes.append(
            f"not read, as the analysis plan does not use them: {', '.join(unused)} (their "
            "columns hold missing values)"
        )
    if windowed:
        notes.append(lab_summary.note())
    cohort = _build(parsed, drop_reason, source, missing, response_rule, notes, arm_labels, days)
    kept = np.setdiff1d(np.arange(len(rows)), np.fromiter(drop_reason, dtype=int))
    cohort = dataclasses.replace(cohort, rows=tuple(int(row) for row in rows[kept]))
    if windowed:
        cohort = dataclasses.replace(cohort, labs=lab_summary)
    if unused:
        cohort = dataclasses.replace(cohort, unused_covariates=unused)
    if not extra and not labels:
        return cohort
    names = tuple(s.name for s in extra)
    return _with_extra_columns(cohort, parsed, drop_reason, names, labels[0].name if labels else "")


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


def extra_covariate_specs(covariates: Sequence[str]) -> tuple[ColumnSpec, ...]:
    """The column specs of numeric covariates beyond the schema (see :func:`validate_cohort`).

    Examples
    --------
    >>> [spec.kind for spec in extra_covariate_specs(["creatinine"])]
    ['number']
    >>> extra_covariate_specs(["plt_day14"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: covariate 'plt_day14' is a column of the cohort schema ...
    """
    if isinstance(covariates, str):
        covariates = (covariates,)
    names = [str(name) for name in covariates]
    specs = []
    for name in dict.fromkeys(names):
        _check_further_name(name, "covariate")
        if name.lower() in _SCHEMA_NAMES or PLANNED_DAY_COLUMN.match(name.lower()):
            raise CohortError(
                f"covariate {name!r} is a column of the cohort schema (or derived from it), "
                "not a further covariate: a plan names schema covariates directly, and "
                "outcomes and post-baseline counts are never covariates"
            )
        specs.append(
            ColumnSpec(
                name,
                "number",
                True,
                "covariate",
                low=-np.inf,
                high=np.inf,
                description="a numeric covariate the analysis plan names (beyond the schema)",
            )
        )
    return tuple(specs)


def unused_covariates(used: Sequence[str] | None) -> tuple[str, ...]:
    """The schema's baseline covariates outside ``used`` (none when ``used`` is None).

    Examples
    --------
    >>> unused_covariates(["age", "stage", "log_plt_day0"])[:3]
    ('sex', 'bmi', 'ecog')
    >>> unused_covariates(None)
    ()
    """
    if used is None:
        return ()
    used = {str(name) for name in used}
    return tuple(name for name in BASELINE_COVARIATES if name not in used)


def check_arm_labels(arms: Sequence[str]) -> tuple[str, ...]:
    """Arm labels as a checked tuple: two or more, each a non-empty name of at most 64
    characters, distinct even with case and spaces ignored (how cells are matched).

    Examples
    --------
    >>> check_arm_labels(["eltrombopag", "romiplostim"])
    ('eltrombopag', 'romiplostim')
    >>> check_arm_labels(["Arm A", "arma"])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: arm labels must differ with case and spaces ignored: ...
    """
    if isinstance(arms, str):
        arms = (arms,)
    labels = tuple(str(arm).strip() for arm in arms)
    if len(labels) < 2:
        raise CohortError(f"need two or more arm labels, got {list(labels)[:5]}")
    if any(not label or len(label) > 64 for label in labels):
        raise CohortError("each arm label must be 1 to 64 characters")
    reserved = [text for text in _ARM_SEPARATORS if any(text in label for label in labels)]
    if reserved:
        raise CohortError(
            f"arm labels may not contain {reserved}: results name comparisons with them "
            "(A>B, A/B, A vs B @ margin)"
        )
    keys = [arm_key(label) for label in labels]
    if len(set(keys)) != len(keys):
        raise CohortError(
            f"arm labels must differ with case and spaces ignored: {list(labels)[:10]}"
        )
    return labels


#: Text that names comparisons between arms in results keys (``A>B``, ``A/B``, ``A vs B @ m``).
_ARM_SEPARATORS = (">", "<", "/", " vs ", " @ ")


def _arm_spec(specs) -> ColumnSpec:
    return next(spec for spec in specs if spec.name == "arm")


def group_column_specs(group: str | None) -> tuple[ColumnSpec, ...]:
    """The column spec of a grouping column beyond the schema (see :func:`validate_cohort`).

    A categorical schema column needs none (it is read anyway); a numeric or outcome column
    cannot group patients.

    Examples
    --------
    >>> [spec.kind for spec in group_column_specs("centre")], group_column_specs("tumor_type")
    (['text'], ())
    >>> group_column_specs("age")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: grouping column 'age' is a schema column that is not ...
    """
    if not group or group in CATEGORICAL_COVARIATES:
        return ()
    _check_further_name(group, "grouping column")
    if group.lower() in _SCHEMA_NAMES or PLANNED_DAY_COLUMN.match(group.lower()):
        raise CohortError(
            f"grouping column {group!r} is a schema column that is not categorical: a group "
            f"is one of {sorted(CATEGORICAL_COVARIATES)} or a column of labels beyond the "
            "schema (a centre)"
        )
    description = "labels of the groups (a centre) the analysis plan names (beyond the schema)"
    return (ColumnSpec(group, "text", True, "covariate", description=description),)


def _check_further_name(name: str, what: str) -> None:
    if not name.isidentifier() or len(name) > 64:
        raise CohortError(
            f"{what} {name[:64]!r}: a column name of letters, digits and underscores "
            f"(at most 64 characters) is needed for a {what} beyond the schema"
        )


_SCHEMA_NAMES = frozenset(
    name.lower() for name in (*INPUT_COLUMNS, *COHORT_COLUMNS, *DERIVED_COVARIATES)
)


def _with_extra_columns(
    cohort: Cohort, parsed, drop_reason, names: tuple[str, ...], group: str
) -> Cohort:
    """The cohort with the further numeric covariates (float) and the grouping column beyond
    the schema (text) after the schema's columns."""
    keep = np.ones(len(parsed["patient_id"].values), dtype=bool)
    keep[list(drop_reason)] = False
    data = cohort.data.copy()
    for name in names:
        data[name] = parsed[name].values[keep].astype(float)
    if group:
        data[group] = pd.Series(parsed[group].values[keep], index=data.index, dtype=object)
    return dataclasses.replace(
        cohort,
        data=data,
        fingerprint=fingerprint_frame(data, extra=names, labels=(group,) if group else ()),
        extra_covariates=names,
        group_column=group,
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


def _check_rows(
    parsed: dict[str, ParsedColumn],
    names: dict[str, str],
    log: ProblemLog,
    missing: str,
    response_rule: str,
    specs: tuple[ColumnSpec, ...] = COLUMN_SPECS,
    windowed: bool = False,
    days: tuple[int, ...] = PLT_DAYS,
) -> dict[int, str]:
    """Cross-cell checks; return the rows to drop (position -> reason) under ``missing="drop"``."""
    n = len(parsed["patient_id"].values)
    invalid = {name: np.zeros(n, dtype=bool) for name in parsed}
    for name, result in parsed.items():
        for position, _, _ in result.errors:
            invalid[name][position] = True
    _check_identifiers(parsed, names, log, specs)
    _check_baseline(parsed, names, log)
    _check_recovery(parsed, names, invalid, log, windowed, days)
    _check_qualified(parsed, names, log, response_rule, days)
    if "synthetic" in parsed:
        _check_synthetic_flag(parsed, names, log)
    drop_reason = _missing_covariates(parsed, names, log, missing, specs)
    _undetermined_responses(parsed, names, log, missing, response_rule, days, invalid, drop_reason)
    return drop_reason


def _check_identifiers(parsed, names, log: ProblemLog, specs) -> None:
    """Every row has a patient identifier, unique, and an arm."""
    for name in ("patient_id", "arm"):
        what = (
            "a patient identifier"
            if name == "patient_id"
            else "a treatment arm: " + ", ".join(_arm_spec(specs).allowed or ARMS)
        )
        for position in np.flatnonzero(parsed[name].missing):
            log.add_at(position, names[name], None, f"{what} (this column may not be empty)")
    seen: dict[str, int] = {}
    for position, identifier in enumerate(parsed["patient_id"].values):
        if identifier is None:
            continue
        if identifier in seen:
            log.add_at(
                position,
                names["patient_id"],
                identifier,
                f"a unique patient identifier (also on row {log.row_of(seen[identifier])})",
            )
        else:
            seen[identifier] = position


def _check_baseline(parsed, names, log: ProblemLog) -> None:
    """The baseline count is above 0 and below 100 x10^9/L (the definition of CIT)."""
    day0 = parsed["plt_day0"].values
    with np.errstate(invalid="ignore"):
        for position in np.flatnonzero(day0 >= RECOVERY_THRESHOLD):
            log.add_at(
                position,
                names["plt_day0"],
                day0[position],
                "a baseline count below 100 x10^9/L: chemotherapy-induced thrombocytopenia is "
                "defined by a baseline platelet count < 100, so this patient does not belong here",
            )
        for position in np.flatnonzero(day0 <= 0):
            log.add_at(position, names["plt_day0"], day0[position], "a baseline count above 0")


def _check_synthetic_flag(parsed, names, log: ProblemLog) -> None:
    """The synthetic flag is 0 or 1, the same on every row."""
    flags = parsed["synthetic"].values
    for position in np.flatnonzero(parsed["synthetic"].missing):
        log.add_at(position, names["synthetic"], None, "0 or 1 on every row")
    known = flags[np.isfinite(flags)]
    if known.size and known.min() != known.max():
        log.add_general(
            names["synthetic"],
            f"the same flag on every row (found {int((known == 1).sum())} rows with 1 and "
            f"{int((known == 0).sum())} with 0)",
        )


def _missing_covariates(parsed, names, log: ProblemLog, missing: str, specs) -> dict[int, str]:
    """Missing baseline covariates and plt_day0: an error, or the rows to drop (position ->
    reason); under ``missing="impute"`` the imputable cells are kept for the imputation."""
    drop_reason: dict[int, str] = {}
    for spec in specs:
        if spec.when_missing != "covariate" or spec.name not in parsed:
            continue
        reason = "missing plt_day0" if spec.name == "plt_day0" else "missing baseline covariate"
        imputed = missing == "impute" and spec.name != "plt_day0" and spec.kind != "text"
        if missing == "impute" and not imputed:
            reason = NOT_IMPUTED["plt_day0" if spec.name == "plt_day0" else "group"]
        for position in np.flatnonzero(parsed[spec.name].missing):
            if imputed:
                continue  # kept: cit_bayes.cohort.impute fills it, once per imputation
            if missing in ("drop", "impute"):
                drop_reason.setdefault(int(position), reason)
            else:
                log.add_at(position, names[spec.name], None, f"a value ({_DROP_HINT})")
    return drop_reason


def _undetermined_responses(
    parsed, names, log: ProblemLog, missing: str, response_rule: str, days, invalid, drop_reason
) -> None:
    """Rows whose response the rule cannot determine: an error, or dropped (``drop_reason``)."""
    columns = plt_columns(days)
    counts = {day: parsed[name].values for day, name in zip(days, columns, strict=True)}
    determined = response_determined_by_day(
        counts, response_rule, recovery_day=parsed["recovery_day"].values
    )
    looked_at = {"day14": ("plt_day14",), "last": columns[-1:]}.get(response_rule, columns[1:])
    needed = "/".join(looked_at)
    for position in np.flatnonzero(~determined & ~parsed["plt_day0"].missing):
        if any(invalid[name][position] for name in (*columns, "recovery_day")):
            continue  # already reported as an invalid value
        if missing in ("drop", "impute"):
            drop_reason.setdefault(int(position), "response not determinable")
        else:
            post = ", ".join(str(day) for day in days[1:])
            need = {
                "day14": "a day-14 count (rule 'day14')",
                "last": f"a day-{days[-1]} count (rule 'last')",
            }.get(
                response_rule,
                f"at least one post-baseline count (day {post}) or a recovery_day",
            )
            log.add_at(
                position,
                needed,
                None,
                f"{need}: the response cannot be determined otherwise and is never assumed to "
                f"be a non-response ({_DROP_HINT})",
            )


def _check_qualified(
    parsed, names, log: ProblemLog, response_rule: str, days: tuple[int, ...] = PLT_DAYS
) -> None:
    """A count given as ``<x`` is read at x, which settles PLT >= 100 but not the response's
    other rules (a rise of 50, a doubling of the baseline): a patient whose response differs
    between the lowest and the highest values the qualified counts allow is an error."""
    columns = plt_columns(days)
    below = {name: parsed[name].below for name in columns}
    if not any(mask is not None and mask.any() for mask in below.values()):
        return
    counts = {name: parsed[name].values for name in columns}
    low = dict(counts)  # post-baseline counts at their lowest, the baseline at its limit
    high = dict(counts)  # post-baseline counts at their limit, the baseline at its lowest
    for name in columns[1:]:
        low[name] = np.where(below[name], 0.0, counts[name])
    high["plt_day0"] = np.where(below["plt_day0"], 1e-9, counts["plt_day0"])
    recovery = parsed["recovery_day"].values
    lowest, highest = (
        derive_response_by_day(
            {day: c[n] for day, n in zip(days, columns, strict=True)},
            response_rule,
            recovery_day=recovery,
        )
        for c in (low, high)
    )
    for position in np.flatnonzero(lowest != highest):
        column = next(n for n in columns if below[n][position])
        log.add_at(
            position,
            names[column],
            f"<{counts[column][position]:g}",
            "a count, not a qualified value: the response (a rise of 50 or a doubling of the "
            "baseline) depends on where below its limit this count lies",
        )


def _check_recovery(
    parsed,
    names,
    invalid,
    log: ProblemLog,
    windowed: bool = False,
    days: tuple[int, ...] = PLT_DAYS,
) -> None:
    """``recovery_day`` must be the first day with PLT >= 100 as far as the counts show, and
    ``recovery_after`` (when given) earlier than it.

    ``windowed``: the planned days' counts were taken within a window around each day
    (:mod:`cit_bayes.cohort.labs`), so they are not compared with the recovery day, which was
    derived from the measurements themselves.
    """
    recovery = parsed["recovery_day"].values
    column = names["recovery_day"]
    if "recovery_after" in parsed:
        after = parsed["recovery_after"].values
        with np.errstate(invalid="ignore"):
            late = after >= recovery
        for position in np.flatnonzero(late & ~invalid["recovery_after"]):
            log.add_at(
                position,
                names["recovery_after"],
                after[position],
                f"a day before recovery_day ({recovery[position]:g}): the last day known "
                "without recovery",
            )
    if windowed:
        return
    if "recovery_after" in parsed:  # a count below 100 on a planned day before the recovery
        after = parsed["recovery_after"].values  # (or without one) bounds the interval's start
        for day, name in zip(days[1:], plt_columns(days)[1:], strict=True):
            count = parsed[name].values
            with np.errstate(invalid="ignore"):
                early = (count < RECOVERY_THRESHOLD) & ~(recovery <= day) & (after < day)
            for position in np.flatnonzero(early & ~invalid["recovery_after"]):
                log.add_at(
                    position,
                    names["recovery_after"],
                    after[position],
                    f"a day >= {day}: {name} = {count[position]:g} shows no recovery by day "
                    f"{day} (recovery_after is the last day known without it)",
                )
    for day, name in zip(days[1:], plt_columns(days)[1:], strict=True):
        count = parsed[name].values
        with np.errstate(invalid="ignore"):
            high = count >= RECOVERY_THRESHOLD
            late = high & (np.isnan(recovery) | (recovery > day))
            low_on_day = (recovery == day) & (count < RECOVERY_THRESHOLD)
        for position in np.flatnonzero(late & ~invalid["recovery_day"]):
            log.add_at(
                position,
                column,
                recovery[position],
                f"a day <= {day}: {name} = {count[position]:g} is already >= 100 "
                "(recovery_day is the first day with PLT >= 100)",
            )
        for position in np.flatnonzero(low_on_day):
            log.add_at(
                position,
                column,
                recovery[position],
                f"a day with PLT >= 100, but {name} = {count[position]:g} on day {day}",
            )


def _build(
    parsed: dict[str, ParsedColumn],
    drop_reason: dict[int, str],
    source: str,
    missing: str,
    response_rule: str,
    notes: list[str],
    arm_labels: tuple[str, ...] = ARMS,
    days: tuple[int, ...] = PLT_DAYS,
) -> Cohort:
    n_rows = len(parsed["patient_id"].values)
    keep = np.ones(n_rows, dtype=bool)
    keep[list(drop_reason)] = False
    arms_all = parsed["arm"].values
    dropped = _dropped_table(drop_reason, arms_all, arm_labels)
    if drop_reason:
        notes.append(
            f"dropped {len(drop_reason)} of {n_rows} rows for missing values "
            f"(missing={missing!r}); "
            "see Cohort.dropped for the count per arm and reason"
        )
    present = [arm for arm in arm_labels if arm in set(arms_all[keep])]
    if len(present) < 2:
        problem = Problem(
            source,
            None,
            "arm",
            None,
            f"at least two treatment arms with patients (found {len(present)}: "
            f"{', '.join(present) or 'none'}"
            + (f", after dropping {len(drop_reason)} rows" if drop_reason else "")
            + ")",
        )
        raise CohortError(f"{source} cannot be compared: fewer than two arms", problems=[problem])

    n_kept = int(keep.sum())

    def column(name: str) -> np.ndarray:
        return parsed[name].values[keep]

    def text(name: str) -> pd.Series:  # a covariate not read is missing (None)
        values = column(name) if name in parsed else np.full(n_kept, None, dtype=object)
        return pd.Series(values, dtype=object)

    def number(name: str, dtype) -> np.ndarray:  # a covariate not read is missing (NaN)
        if name not in parsed:
            return np.full(n_kept, np.nan)
        values = column(name).astype(float)
        # under missing="impute" an integer covariate may hold NaN until it is imputed
        return values if np.isnan(values).any() else values.astype(dtype)

    data = pd.DataFrame(
        {
            "patient_id": pd.Series(column("patient_id"), dtype=object),
            "arm": pd.Categorical(column("arm"), categories=present),
            "sex": text("sex"),
            "age": number("age", float),
            "bmi": number("bmi", float),
            "ecog": number("ecog", np.int64),
            "tumor_type": text("tumor_type"),
            "stage": text("stage"),
        }
    )
    for name in BINARY_COVARIATES:
        data[name] = number(name, np.int64)
    columns = plt_columns(days)
    for name in columns:
        data[name] = column(name).astype(float)
    data["recovery_day"] = pd.Series(column("recovery_day"), dtype=float).astype("Int64")
    for name in SAFETY_OUTCOMES:
        values = column(name) if name in parsed else np.full(int(keep.sum()), np.nan)
        data[name] = pd.Series(values, dtype=float).astype("Int64")
    synthetic = bool("synthetic" in parsed and np.nanmax(parsed["synthetic"].values) == 1)
    data["synthetic"] = np.full(len(data), int(synthetic), dtype=np.int64)

    given = column("recovery_after") if "recovery_after" in parsed else None
    data = _with_outcomes(data, response_rule, days, given)

    notes.extend(_outcome_notes(data, parsed, keep, response_rule, days))
    return Cohort(
        data=data,
        source=source,
        synthetic=synthetic,
        response_rule=response_rule,
        fingerprint=fingerprint_frame(data),
        dropped=dropped,
        notes=tuple(notes),
        missing=missing,
        days=days,
    )


def _dropped_table(drop_reason: dict[int, str], arms, arm_labels) -> pd.DataFrame:
    """Rows dropped per arm and reason (``Cohort.dropped``), arms in their stated order."""
    counts = Counter((arms[p], reason) for p, reason in drop_reason.items())
    return pd.DataFrame(
        [
            {"arm": arm, "reason": reason, "n_dropped": count}
            for (arm, reason), count in sorted(
                counts.items(), key=lambda item: (arm_labels.index(item[0][0]), item[0][1])
            )
        ],
        columns=list(DROPPED_COLUMNS),
    ).astype({"n_dropped": int})


def _with_outcomes(data: pd.DataFrame, response_rule: str, days, given_after) -> pd.DataFrame:
    """``data`` with the derived outcomes (response, delta_plt, time_to_recovery, recovered,
    recovery_after), its columns in the schema's order."""
    counts = {
        day: data[name].to_numpy(dtype=float)
        for day, name in zip(days, plt_columns(days), strict=True)
    }
    recovery = data["recovery_day"].to_numpy(dtype=float, na_value=np.nan)
    data["response"] = derive_response_by_day(counts, response_rule, recovery_day=recovery)
    data["delta_plt"] = derive_delta_plt(counts[0], counts[days[-1]])
    time, recovered = derive_time_to_recovery_by_day(counts, recovery)
    time, after = derive_recovery_after(time, recovered, given_after)
    data["time_to_recovery"] = time.astype(np.int64)
    data["recovered"] = recovered.astype(np.int64)
    data["recovery_after"] = after.astype(np.int64)
    return data.loc[:, list(cohort_columns(days))]


def _outcome_notes(data, parsed, keep, response_rule: str, days=PLT_DAYS) -> list[str]:
    notes = []
    counts = [data[name].to_numpy(dtype=float) for name in plt_columns(days)]
    if response_rule == "any":
        incomplete = np.isnan(np.column_stack(counts[1:])).any(axis=1)
        partial = int(((data["response"] == 0).to_numpy() & incomplete).sum())
        if partial:
            post = ", ".join(str(day) for day in days[1:])
            notes.append(
                f"{partial} non-response(s) rest on incomplete counts (a count of day {post} "
                "missing): rule 'any' evaluates the counts recorded"
            )
    last = days[-1]
    early = int(((data["recovered"] == 0) & (data["time_to_recovery"] < last)).sum())
    if early:
        notes.append(
            f"{early} patient(s) without recovery and without a day-{last} count: censored at "
            "the last day with a recorded count"
        )
    if "response" in parsed:
        given = parsed["response"].values[keep]
        known = ~np.isnan(given)
        disagree = int((given[known] != data["response"].to_numpy()[known]).sum())
        if disagree:
            notes.append(
                f"input column response disagrees with the derived response (rule "
                f"{response_rule!r}) for {disagree} of {int(known.sum())} patients; the derived "
                "response is used"
            )
        else:
            notes.append(
                f"input column response agrees with the derived response for all "
                f"{int(known.sum())} patients with a value"
            )
    return notes
