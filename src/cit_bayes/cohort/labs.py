"""Laboratory results in long format: one row per platelet count, turned into the cohort's counts.

An electronic record exports blood counts one row per measurement (patient, date or day, count).
:func:`with_lab_counts` turns such a table into the cohort's platelet columns before the
cohort is validated, by a stated rule:

- **Day.** A ``day`` column (whole days from the start of treatment, day 0) is used as it is;
  a ``date`` column is turned into days from the cohort file's ``treatment_start`` date
  (``(date - start)`` in whole days). Dates are date cells (Excel, SPSS, Stata, Parquet) or text
  ``YYYY-MM-DD`` (a time after it is ignored); other text is an error naming the row, never
  guessed (``03/05/2024`` is March or May).
- **Counts of the planned days** (``plt_day0``, ``plt_day3``, ``plt_day7``, ``plt_day14`` by
  default; an analysis plan's ``[plt] planned_days`` names others): the count measured
  nearest to the planned day within ``window`` days either side (a tie: the earlier day); the
  baseline is the last count on days ``-window`` to 0 (before treatment acts). Windows may not
  overlap (with the days 0, 3, 7, 14: ``window`` <= 1). Several counts on one day are averaged
  (the number of such days is reported).
- **Recovery** is read from every count of days 1 to the last planned day (14 by default), not
  only the planned days: the
  recovery day is the first day with PLT >= 100 and ``recovery_after`` the last day with a
  count before it (day 0 when none), so that a recovery first seen on day 9 after a count
  below 100 on day 5 happened in (5, 9]: interval-censored, which the recovery model handles
  (:func:`cit_bayes.bayes.recovery_times.recovery_after`). A patient never at 100 is censored at
  the last day with a count (0 when none after baseline).
- **Qualified counts**: ``<20`` is read as 20 and ``>1000`` as 1000 (the limit; counted per
  qualifier). A qualifier that leaves the recovery threshold open (``<150``, ``>50``) is an
  error naming the row.

The counts of the planned days are taken inside windows, so they are not checked against the
recovery day (which comes from the measurements themselves); everything else is validated as
for a wide file. :class:`LabSummary` carries the rule and how many values each window took;
``cit-bayes validate`` prints it, and the report states it. The table's rows (its columns,
each count's patient, day and value) are read and checked by
:mod:`cit_bayes.cohort.lab_table`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from cit_bayes.cohort.cells import QUALIFIED_NOTE
from cit_bayes.cohort.lab_table import join_column, read_lab_rows
from cit_bayes.cohort.mapping import ColumnMapping
from cit_bayes.cohort.schema import (
    LAB_COLUMNS,
    PLT_COLUMNS,
    PLT_DAYS,
    RECOVERY_THRESHOLD,
    START_COLUMN,
    check_planned_days,
    plt_columns,
)
from cit_bayes.exceptions import CohortError

__all__ = [
    "LAB_COLUMNS",
    "MAX_LAB_WINDOW",
    "START_COLUMN",
    "LabSummary",
    "check_days",
    "check_window",
    "provided_columns",
    "with_lab_counts",
]

#: Largest window a plan may set (days either side of a planned day).
MAX_LAB_WINDOW = 3
#: Columns the laboratory file provides (for the study's planned days); a cohort file given
#: with it may not hold them (:func:`provided_columns` for other planned days).
PROVIDED_COLUMNS: tuple[str, ...] = (*PLT_COLUMNS, "recovery_day", "recovery_after")


def provided_columns(days: tuple[int, ...] = PLT_DAYS) -> tuple[str, ...]:
    """The columns a laboratory file provides for these planned days.

    Examples
    --------
    >>> provided_columns((0, 5, 21))
    ('plt_day0', 'plt_day5', 'plt_day21', 'recovery_day', 'recovery_after')
    """
    return (*plt_columns(days), "recovery_day", "recovery_after")


def check_days(days) -> tuple[int, ...]:
    """:func:`~cit_bayes.cohort.schema.check_planned_days`, as a :class:`CohortError`.

    Examples
    --------
    >>> check_days([0, 7, 14])
    (0, 7, 14)
    >>> check_days([7, 14])
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: planned days must start at 0 (the baseline) and increase, got [7, 14]
    """
    try:
        return check_planned_days(days)
    except ValueError as error:
        raise CohortError(str(error)) from None


@dataclass(frozen=True)
class LabSummary:
    """How a long-format laboratory file became the cohort's counts (no row-level values).

    Attributes
    ----------
    source : str
        The laboratory file's name.
    window : int
        Days either side of a planned day.
    day_from : str
        ``"day"`` (a day column) or ``"date"`` (dates minus the cohort's treatment start).
    measurements : int
        Rows read.
    empty_counts : int
        Rows without a count (a cancelled draw), left out.
    taken : dict
        Planned column -> patients whose count was taken for it.
    off_day : dict
        Planned column -> of those, counts measured on another day of the window.
    not_used : int
        Patient-days with counts on no planned day's window and outside days 1 to 14 (not
        used at all). All counts are over the cohort file's patients, before any row is
        dropped under ``missing="drop"`` (``Cohort.dropped`` counts those).
    averaged_days : int
        Patient-days with several counts (averaged).
    qualified : int
        Qualified counts (``<20``, ``>1000``) read at their limit.
    recovered_exact, recovered_interval, not_recovered : int
        Patients whose recovery day is exact (a count the day before), interval-censored
        (the last count before it earlier), or who were not seen to recover.

    Examples
    --------
    >>> summary = LabSummary("labs.xlsx", 1, "date", 10, {"plt_day0": 2}, {"plt_day0": 1})
    >>> summary.rule().split(" (")[0]
    'a planned day takes the count measured nearest to it within 1 day either side'
    """

    source: str
    window: int
    day_from: str
    measurements: int
    taken: dict = field(default_factory=dict)
    empty_counts: int = 0
    off_day: dict = field(default_factory=dict)
    not_used: int = 0
    averaged_days: int = 0
    qualified: int = 0
    recovered_exact: int = 0
    recovered_interval: int = 0
    not_recovered: int = 0
    days: tuple[int, ...] = PLT_DAYS

    def rule(self) -> str:
        """The window rule, in words."""
        days = "day" if self.window == 1 else "days"
        return (
            f"a planned day takes the count measured nearest to it within {self.window} {days} "
            "either side (a tie: the earlier day); the baseline, the last count on day "
            f"-{self.window} to 0; several counts on one day are averaged; the recovery day is "
            f"the first day (1-{self.days[-1]}) with a count >= 100, interval-censored after "
            "the last count before it"
        )

    def as_dict(self) -> dict:
        """Plain data for ``results.json`` (aggregate counts only)."""
        return asdict(self) | {"rule": self.rule()}

    def note(self) -> str:
        """One line for :attr:`Cohort.notes <cit_bayes.cohort.Cohort.notes>`."""
        taken = ", ".join(
            f"{name} {self.taken.get(name, 0)} ({self.off_day.get(name, 0)} off the day)"
            for name in plt_columns(self.days)
        )
        days = "days as given" if self.day_from == "day" else "days from treatment start"
        return (
            f"counts from {self.source} ({self.measurements} rows, {days}; "
            f"{self.empty_counts} without a count, left out): {self.rule()}. Over the cohort "
            f"file's patients, before any row is dropped: taken {taken}; {self.not_used} "
            f"patient-day(s) on no planned day's window and outside days 1-{self.days[-1]}, "
            f"not used; {self.averaged_days} "
            f"patient-day(s) with several counts averaged; {self.qualified} qualified count(s) read "
            f"at the limit. Recovery: {self.recovered_exact} exact, {self.recovered_interval} "
            f"interval-censored, {self.not_recovered} not seen"
        )


def check_window(window: int, days: tuple[int, ...] = PLT_DAYS) -> int:
    """The window, checked: a whole number of days, 0 to :data:`MAX_LAB_WINDOW`, such that
    no two planned days' windows overlap (a count may serve one planned day only).

    Examples
    --------
    >>> check_window(1)
    1
    >>> check_window(2)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: a window of 2 days makes the windows of days 3 and 7 overlap ...
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer):
        raise CohortError(f"the laboratory window must be a whole number of days, got {window!r}")
    if not 0 <= window <= MAX_LAB_WINDOW:
        raise CohortError(f"the laboratory window must be 0 to {MAX_LAB_WINDOW} days")
    post = [day for day in days if day > 0]
    for early, late in zip(post, post[1:], strict=False):
        if early + window >= late - window:
            raise CohortError(
                f"a window of {window} days makes the windows of days {early} and {late} "
                "overlap (one count would serve two planned days): choose a smaller window"
            )
    if post and post[0] - window <= 0:
        raise CohortError(f"a window of {window} days reaches day 0 from day {post[0]}")
    return int(window)


def with_lab_counts(
    cohort: pd.DataFrame,
    labs: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    source: str,
    lab_source: str,
    lab_rows: np.ndarray | None = None,
    cohort_rows: np.ndarray | None = None,
    window: int = 1,
    decimal_comma: bool = False,
    days: tuple[int, ...] = PLT_DAYS,
) -> tuple[pd.DataFrame, LabSummary]:
    """The cohort table with the platelet columns made from a long-format laboratory table.

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per patient, without platelet counts or recovery columns (the laboratory file
        provides them: an error otherwise), with ``patient_id`` and, when the laboratory file
        gives dates, ``treatment_start``.
    labs : pandas.DataFrame
        One row per count: ``patient_id``, ``day`` or ``date``, ``platelets`` (names via
        ``[labs]`` of the mapping).
    mapping : ColumnMapping
    source, lab_source : str
        How problems name the two files.
    lab_rows, cohort_rows : numpy.ndarray, optional
        The data row number of each row of the two tables (blank rows skipped keep their
        numbers).
    window : int
        Days either side of a planned day (:func:`check_window`).
    decimal_comma : bool
        The laboratory file uses a decimal comma.
    days : tuple of int
        The planned days (an analysis plan's ``[plt] planned_days``; default 0, 3, 7, 14);
        recovery is read from days 1 to the last.

    Returns
    -------
    frame : pandas.DataFrame
        ``cohort`` with ``plt_day0``, ``plt_day3``, ``plt_day7``, ``plt_day14``,
        ``recovery_day`` and ``recovery_after`` added (under the names the mapping expects).
    summary : LabSummary

    Raises
    ------
    CohortError
        Every problem of the laboratory file (row and column named), a count of a patient the
        cohort file does not hold, or a cohort file that already holds the counts.

    Examples
    --------
    >>> cohort = pd.DataFrame({"patient_id": ["a", "b"], "arm": ["rhTPO", "hetrombopag"]})
    >>> labs = pd.DataFrame({"patient_id": ["a", "a", "a", "b", "b"],
    ...                      "day": [0, 4, 6, 0, 14], "platelets": [40, 80, 130, 55, "<20"]})
    >>> frame, summary = with_lab_counts(cohort, labs, ColumnMapping(), source="c.csv",
    ...                                  lab_source="labs.csv")
    >>> frame[["plt_day3", "plt_day7", "recovery_day", "recovery_after"]].to_numpy().tolist()
    [[80.0, 130.0, 6.0, 4.0], [nan, nan, nan, 14.0]]
    >>> summary.recovered_interval, summary.not_recovered, summary.qualified
    (1, 1, 1)
    """
    planned = check_days(days)
    window = check_window(window, planned)
    target = {name: mapping.columns.get(name, name) for name in provided_columns(planned)}
    id_column = join_column(cohort, mapping, target, source, lab_source)
    patients, days, counts, day_from = read_lab_rows(
        cohort,
        labs,
        mapping,
        id_column,
        source=source,
        lab_source=lab_source,
        lab_rows=lab_rows,
        cohort_rows=cohort_rows,
        decimal_comma=decimal_comma,
    )
    # a row without a count (a cancelled draw) says nothing: left out and counted
    empty = counts.missing
    daily, averaged = _daily_means(patients, days, counts, keep=~empty)
    wide, summary = _wide(daily, len(cohort), window, planned)
    out = cohort.copy()
    for name, values in wide.items():
        out[target[name]] = values
    return out, LabSummary(
        source=lab_source,
        window=window,
        day_from=day_from,
        measurements=len(labs),
        empty_counts=int(empty.sum()),
        averaged_days=averaged,
        qualified=int(counts.recodes.get(QUALIFIED_NOTE, 0)),
        days=planned,
        **summary,
    )


def _daily_means(patients: list[int], days, counts, *, keep: np.ndarray):
    """Each patient's mean count per day (``patient``, ``day``, ``mean``, ``below``) and how
    many patient-days averaged more than one count. A day's mean with a "<x" count among its
    counts is itself only an upper bound (``below``)."""
    table = pd.DataFrame(
        {
            "patient": patients,
            "day": np.asarray(days, dtype=float)[keep].astype(int),
            "count": counts.values[keep],
            "below": counts.below[keep],
        }
    )
    daily = table.groupby(["patient", "day"], sort=True).agg(
        mean=("count", "mean"), size=("count", "size"), below=("below", "any")
    )
    return daily[["mean", "below"]].reset_index(), int((daily["size"] > 1).sum())


def _wide(daily: pd.DataFrame, n: int, window: int, days_planned) -> tuple[dict, dict]:
    """The planned days' counts and the recovery interval of each patient (module rules)."""
    columns = plt_columns(days_planned)
    wide = {  # the counts as objects: a "<x" count stays text
        name: np.full(n, np.nan, dtype=object if name in columns else float)
        for name in provided_columns(days_planned)
    }
    taken = dict.fromkeys(columns, 0)
    off_day = dict.fromkeys(columns, 0)
    used = np.zeros(len(daily), dtype=bool)
    exact = interval = censored = 0
    for patient, part in daily.groupby("patient", sort=True):
        days = part["day"].to_numpy()
        values = part["mean"].to_numpy()
        below = part["below"].to_numpy()
        index = part.index.to_numpy()
        for planned, name in zip(days_planned, columns, strict=True):
            if planned == 0:  # the baseline: the last count on day -window..0
                inside = np.flatnonzero((days >= -window) & (days <= 0))
                pick = inside[-1] if inside.size else None
            else:  # nearest within the window; a tie goes to the earlier day (sorted)
                inside = np.flatnonzero(np.abs(days - planned) <= window)
                pick = inside[np.argmin(np.abs(days[inside] - planned))] if inside.size else None
            if pick is not None:  # "<x" stays qualified: the validation checks what it settles
                value = float(values[pick])
                wide[name][patient] = f"<{value:g}" if below[pick] else value
                taken[name] += 1
                off_day[name] += int(days[pick] != planned)
                used[index[pick]] = True
        follow = (days >= 1) & (days <= days_planned[-1])
        used[index[follow]] = True
        high = np.flatnonzero(follow & (values >= RECOVERY_THRESHOLD))
        if high.size:
            first = days[high[0]]
            before = days[follow & (days < first)]
            after = int(before.max()) if before.size else 0
            wide["recovery_day"][patient] = first
            wide["recovery_after"][patient] = after
            exact += int(after == first - 1)
            interval += int(after < first - 1)
        else:
            seen = days[follow]
            wide["recovery_after"][patient] = int(seen.max()) if seen.size else 0
            censored += 1
    summary = {
        "taken": taken,
        "off_day": off_day,
        "not_used": int((~used).sum()),
        "recovered_exact": exact,
        "recovered_interval": interval,
        "not_recovered": censored,
    }
    return wide, summary
