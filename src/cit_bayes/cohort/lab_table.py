"""A long-format laboratory table read and checked: each count's patient, day and value.

:func:`read_lab_rows` reads what :func:`cit_bayes.cohort.labs.with_lab_counts` turns into the
cohort's counts by its rules. A count's day is a ``day`` column as it is, or a ``date`` column
minus the cohort file's ``treatment_start`` (whole days); a date is a date cell or text
``YYYY-MM-DD``, never guessed. Every problem names the laboratory file's row and column, and
all are raised together.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from cit_bayes.cohort.cells import ParsedColumn, is_missing, parse_column
from cit_bayes.cohort.mapping import ColumnMapping
from cit_bayes.cohort.problems import NOT_SHOWN, ProblemLog
from cit_bayes.cohort.schema import LAB_COLUMNS, START_COLUMN, ColumnSpec, column_spec
from cit_bayes.exceptions import CohortError

__all__ = ["join_column", "read_lab_rows"]

#: Days a count may lie from day 0 (a count outside is an error: a wrong date or day).
_DAY_LIMIT = 366
_ISO_DATE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:[ T].*)?$")


def _locate(frame: pd.DataFrame, wanted: str) -> int | None:
    keys = [str(column).strip().lower() for column in frame.columns]
    key = wanted.strip().lower()
    return keys.index(key) if key in keys else None


def _as_date(cell) -> pd.Timestamp | None:
    """A date cell or ``YYYY-MM-DD`` text as a Timestamp (day precision); None otherwise."""
    if isinstance(cell, pd.Timestamp | dt.datetime | dt.date | np.datetime64):
        stamp = pd.Timestamp(cell)
        if pd.isna(stamp):
            return None
        # calendar days: a time zone's clock time is kept, its offset dropped (a draw 7
        # calendar days after the start is day 7 across a change of summer time)
        return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()
    if isinstance(cell, str):
        match = _ISO_DATE.match(cell)
        if match:
            try:
                return pd.Timestamp(match.group(1))
            except ValueError:
                return None
    return None


def _dates(series: pd.Series, column: str, log: ProblemLog) -> np.ndarray:
    """Each cell as a Timestamp (NaT for an empty cell); errors logged by row (a date is never
    shown, only its row and column)."""
    out = np.full(len(series), pd.NaT, dtype=object)
    log.private.add(column)
    for position, cell in enumerate(series.to_numpy(dtype=object)):
        if is_missing(cell):
            continue
        stamp = _as_date(cell)
        if stamp is None:
            log.add_at(position, column, NOT_SHOWN, "a date (a date cell, or text as YYYY-MM-DD)")
        else:
            out[position] = stamp
    return out


def _lab_columns(labs: pd.DataFrame, mapping: ColumnMapping, source: str) -> dict[str, int]:
    names = {name: mapping.labs.get(name, name) for name in LAB_COLUMNS}
    found = {name: _locate(labs, wanted) for name, wanted in names.items()}
    missing = [names[n] for n in ("patient_id", "platelets") if found[n] is None]
    if found["day"] is None and found["date"] is None:
        missing.append(f"{names['day']} or {names['date']}")
    if missing:
        raise CohortError(
            f"{source} (laboratory results) lacks column(s) {', '.join(map(repr, missing))}: "
            "one row per count with the patient, the day from the start of treatment (or the "
            "date) and the platelet count; [labs] of the column mapping names other columns"
        )
    if found["day"] is not None and found["date"] is not None:
        raise CohortError(
            f"{source} (laboratory results) has both a day column ({names['day']!r}) and a "
            f"date column ({names['date']!r}): map one of them in [labs] of the column mapping"
        )
    return {name: position for name, position in found.items() if position is not None}


def join_column(cohort, mapping: ColumnMapping, target: dict, source: str, lab_source: str):
    """The position of the cohort's patient_id column; an error if the cohort has none or
    already holds a column the laboratory file provides.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.cohort.lab_table import join_column
    >>> from cit_bayes.cohort.labs import provided_columns
    >>> from cit_bayes.cohort.mapping import ColumnMapping
    >>> target = {name: name for name in provided_columns()}  # plt_day0 ... recovery_after
    >>> cohort = pd.DataFrame({"arm": ["rhTPO", "rhIL-11"], "Patient_ID ": ["p1", "p2"]})
    >>> join_column(cohort, ColumnMapping(), target, "cohort.csv", "labs.csv")
    1
    >>> join_column(cohort.assign(plt_day0=[40, 55]), ColumnMapping(), target, "cohort.csv",
    ...             "labs.csv")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: cohort.csv holds plt_day0, which the laboratory file labs.csv provides: remove them from the cohort file, or read it without the laboratory file
    """
    held = [name for name, wanted in target.items() if _locate(cohort, wanted) is not None]
    if held:
        raise CohortError(
            f"{source} holds {', '.join(held)}, which the laboratory file {lab_source} "
            "provides: remove them from the cohort file, or read it without the laboratory file"
        )
    id_column = _locate(cohort, mapping.columns.get("patient_id", "patient_id"))
    if id_column is None:
        raise CohortError(
            f"{source} lacks the patient_id column that joins it to {lab_source} "
            "([columns] patient_id of the mapping names another)"
        )
    return id_column


def _days_given(labs, columns, names, log: ProblemLog, empty: np.ndarray) -> np.ndarray:
    """Each count's day from the start of treatment, from a day column (problems logged)."""
    day_spec = ColumnSpec(
        "day", "integer", True, "error", "day", None, -_DAY_LIMIT, _DAY_LIMIT, "day"
    )
    parsed = parse_column(day_spec, labs.iloc[:, columns["day"]], None)
    for position, raw, expected in parsed.errors:
        log.add_at(position, names["day"], raw, f"{expected} from the start of treatment")
    for position in np.flatnonzero(parsed.missing & ~empty):
        log.add_at(position, names["day"], None, "a day from the start of treatment")
    return parsed.values


def _days_from_dates(
    cohort, labs, columns, names, lab_ids, position_of, mapping, source, log, *, empty, cohort_rows
):
    """Days of the laboratory dates from each patient's treatment start (errors logged; rows
    without a count are left out and need no date)."""
    start_name = mapping.labs.get("start", START_COLUMN)
    start_column = _locate(cohort, start_name)
    if start_column is None:
        raise CohortError(
            f"{source} lacks the column {start_name!r} (the date treatment started, day 0), "
            "which turns the laboratory file's dates into days ([labs] start of the mapping "
            "names another)"
        )
    start_log = ProblemLog(source)
    start_log.rows = cohort_rows
    starts = _dates(cohort.iloc[:, start_column], str(cohort.columns[start_column]), start_log)
    start_log.raise_if_any("has treatment-start dates that cannot be read")
    unreadable = len(log.problems)
    dates = _dates(labs.iloc[:, columns["date"]], names["date"], log)
    logged = {problem.row for problem in log.problems[unreadable:]}
    days = np.full(len(labs), np.nan)
    for position, (identifier, date) in enumerate(zip(lab_ids, dates, strict=True)):
        if empty[position]:
            continue
        if date is pd.NaT or identifier not in position_of:
            if date is pd.NaT and log.row_of(position) not in logged:
                log.add_at(position, names["date"], None, "the date of the count")
            continue
        start = starts[position_of[identifier]]
        if start is pd.NaT:
            log.add_at(
                position,
                names["date"],
                NOT_SHOWN,
                f"a treatment start for this patient in {source} (column {start_name!r} is empty)",
            )
            continue
        day = (date - start).days
        if abs(day) > _DAY_LIMIT:
            log.add_at(
                position,
                names["date"],
                NOT_SHOWN,
                f"a date within a year ({_DAY_LIMIT} days) of this patient's treatment start",
            )
            continue
        days[position] = day
    return days


def read_lab_rows(
    cohort: pd.DataFrame,
    labs: pd.DataFrame,
    mapping: ColumnMapping,
    id_column: int,
    *,
    source: str,
    lab_source: str,
    lab_rows: np.ndarray | None,
    cohort_rows: np.ndarray | None,
    decimal_comma: bool,
) -> tuple[list[int], np.ndarray, ParsedColumn, str]:
    """Each row of the laboratory table read and checked against the cohort's patients; every
    problem (row and column named) raised together.

    Returns the cohort position of the patient of each row with a count, each row's day from
    the start of treatment, the parsed counts (``counts.missing``: rows without a count, left
    out) and where the days came from (``"day"`` or ``"date"``).

    Examples
    --------
    Four rows of two patients, one without a count (left out) and one qualified count:

    >>> import pandas as pd
    >>> from cit_bayes.cohort.lab_table import read_lab_rows
    >>> from cit_bayes.cohort.mapping import ColumnMapping
    >>> cohort = pd.DataFrame({"arm": ["rhTPO", "rhIL-11"], "patient_id": ["p1", "p2"]})
    >>> labs = pd.DataFrame({"patient_id": ["p2", "p1", "p1", "p2"], "day": [0, 0, 7, 3],
    ...                      "platelets": [50, 40, None, "<20"]})
    >>> patients, days, counts, day_from = read_lab_rows(
    ...     cohort, labs, ColumnMapping(), 1, source="cohort.csv", lab_source="labs.csv",
    ...     lab_rows=None, cohort_rows=None, decimal_comma=False)
    >>> patients, days.tolist(), day_from
    ([1, 0, 1], [0.0, 0.0, 7.0, 3.0], 'day')
    >>> counts.values.tolist(), counts.missing.tolist()  # "<20" is read at its limit
    ([50.0, 40.0, nan, 20.0], [False, False, True, False])

    A count of a patient the cohort does not hold is an error naming its row:

    >>> unknown = pd.DataFrame({"patient_id": ["p1", "p9"], "day": [0, 3], "platelets": [40, 50]})
    >>> read_lab_rows(cohort, unknown, ColumnMapping(), 1, source="cohort.csv",
    ...               lab_source="labs.csv", lab_rows=None, cohort_rows=None, decimal_comma=False)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: labs.csv does not meet the laboratory-file schema: 1 problem
    """
    log = ProblemLog(lab_source)
    log.rows = np.arange(1, len(labs) + 1) if lab_rows is None else np.asarray(lab_rows)
    columns = _lab_columns(labs, mapping, lab_source)
    names = {name: str(labs.columns[position]) for name, position in columns.items()}
    # identifiers and dates are never shown: a problem names the row and the column
    log.private = {names[name] for name in ("patient_id", "date") if name in names}
    spec = column_spec("patient_id")
    lab_ids = parse_column(spec, labs.iloc[:, columns["patient_id"]], None)
    cohort_ids = parse_column(spec, cohort.iloc[:, id_column], None).values
    position_of = {}
    for position, identifier in enumerate(cohort_ids):
        if identifier is not None:
            position_of.setdefault(identifier, position)
    for position in np.flatnonzero(lab_ids.missing):
        log.add_at(position, names["patient_id"], None, "a patient identifier")

    counts = parse_column(
        column_spec("plt_day3"),
        labs.iloc[:, columns["platelets"]],
        None,
        decimal_comma=decimal_comma,
    )
    for position, raw, expected in counts.errors:
        log.add_at(position, names["platelets"], raw, expected)
    # a row without a count (a cancelled draw) says nothing: left out and counted (its day or
    # date is not needed)
    empty = counts.missing

    if "day" in columns:
        days, day_from = _days_given(labs, columns, names, log, empty), "day"
    else:
        days = _days_from_dates(
            cohort, labs, columns, names, lab_ids.values, position_of, mapping, source, log,
            empty=empty, cohort_rows=cohort_rows,
        )  # fmt: skip
        day_from = "date"

    known = np.array([identifier in position_of for identifier in lab_ids.values])
    for position in np.flatnonzero(~known & ~lab_ids.missing):
        log.add_at(position, names["patient_id"], NOT_SHOWN, f"a patient of {source}")
    log.raise_if_any("does not meet the laboratory-file schema")
    return [position_of[i] for i in lab_ids.values[~empty]], days, counts, day_from
