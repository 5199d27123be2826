"""Validation problems: each names the file, the row as the user sees it, the column and the value
(never a patient identifier's or a date's)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cit_bayes.exceptions import CohortError

__all__ = [
    "MAX_LISTED",
    "MAX_PROBLEMS",
    "NOT_SHOWN",
    "Problem",
    "ProblemLog",
    "group_by_column",
    "show_value",
    "write_problems",
]

#: Problems kept in a CohortError's ``problems``; the message says how many were found.
MAX_PROBLEMS = 200
#: Problems kept in ``all_problems`` (what ``--problems FILE`` writes): memory stays bounded.
MAX_LISTED = 100_000
_VALUE_WIDTH = 40


class _NotShown:
    """The value of a cell whose problem names its row and column only."""

    def __repr__(self) -> str:
        return "NOT_SHOWN"


#: Passed as a problem's value: the cell is not empty, but its value is not shown.
NOT_SHOWN = _NotShown()


def show_value(value: Any) -> str:
    """A cell value as a short, quoted text for a message (empty cells shown as ``''``).

    Examples
    --------
    >>> show_value(3.0), show_value(None), show_value("x" * 50)
    ("'3'", "''", "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'")
    """
    try:
        missing = value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    if missing:
        text = ""
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    text = text.replace("\n", " ").replace("\r", " ")
    if len(text) > _VALUE_WIDTH:
        text = text[: _VALUE_WIDTH - 3] + "..."
    return repr(text)


@dataclass(frozen=True)
class Problem:
    """One reason the input does not meet the cohort schema.

    Attributes
    ----------
    file : str
        File name or a description of the table (``"<data frame>"``).
    row : int or None
        Data row, 1-based, header excluded (the first row below the header is 1); None for a
        problem of the whole file or of a whole column.
    column : str or None
        Column name (as in the file, or the canonical name when the column is missing).
    value : str or None
        The offending value, already quoted for display (``''`` for an empty cell, shown as
        "empty"); None when there is none to show, or it is not shown (a patient identifier,
        a date: the row and the column say where it is).
    expected : str
        What was expected instead.

    Examples
    --------
    >>> print(Problem("cohort.csv", 4, "age", "'abc'", "a number"))
    cohort.csv, row 4, column 'age': value 'abc' - expected a number
    >>> print(Problem("cohort.csv", 5, "arm", "''", "one of the plan's arms"))
    cohort.csv, row 5, column 'arm': empty - expected one of the plan's arms
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where)
        if self.value == "''":
            return f"{text}: empty - expected {self.expected}"
        if self.value is not None:
            return f"{text}: value {self.value} - expected {self.expected}"
        return f"{text}: expected {self.expected}"


@dataclass
class ProblemLog:
    """Collects the problems of one table; :meth:`raise_if_any` raises them together.

    Problems are reported sorted: whole-table and whole-column problems first, then by row (in
    the order found within a row), capped at :data:`MAX_PROBLEMS`. The values of the columns
    in ``private`` (patient identifiers, dates) are never shown: their problems name the row
    and the column only (an empty cell is still shown as empty).

    Examples
    --------
    >>> log = ProblemLog("cohort.csv")
    >>> log.add_at(0, "age", "abc", "a number")
    >>> log.add_general("arm", "a required column")
    >>> [problem.row for problem in log.sorted_problems()]
    [None, 1]
    >>> log.private = {"patient_id"}
    >>> log.add_at(1, "patient_id", "SYN-001", "a patient of cohort.csv")
    >>> print(log.problems[-1])
    cohort.csv, row 2, column 'patient_id': expected a patient of cohort.csv
    """

    file: str
    problems: list[Problem] = field(default_factory=list)
    rows: Any = None  # data row number of each position (default: position + 1)
    private: set = field(default_factory=set)  # columns whose values are never shown

    def row_of(self, position: int) -> int:
        """The user's data row number of a 0-based table position."""
        return int(self.rows[position]) if self.rows is not None else int(position) + 1

    def add_at(self, position: int, column: str | None, value: Any, expected: str) -> None:
        """Record a problem at a 0-based table position (shown as the user's row number)."""
        self.add(self.row_of(position), column, value, expected)

    def add(self, row: int | None, column: str | None, value: Any, expected: str) -> None:
        """Record a problem with the raw cell ``value`` (shown quoted and shortened; not shown
        when it is :data:`NOT_SHOWN`, or for a column in ``private`` unless the cell is
        empty)."""
        shown = None if value is NOT_SHOWN else show_value(value)
        if column in self.private and shown != "''":
            shown = None
        self.problems.append(Problem(self.file, row, column, shown, expected))

    def add_general(self, column: str | None, expected: str) -> None:
        """Record a problem of the whole table or a whole column (no row, no value)."""
        self.problems.append(Problem(self.file, None, column, None, expected))

    def __len__(self) -> int:
        return len(self.problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def sorted_problems(self) -> list[Problem]:
        """All problems, whole-table ones first, then by row."""
        order = sorted(
            range(len(self.problems)),
            key=lambda i: (-1 if self.problems[i].row is None else self.problems[i].row, i),
        )
        return [self.problems[i] for i in order]

    def raise_if_any(self, what: str = "does not meet the cohort schema") -> None:
        """Raise a :class:`CohortError` carrying the problems recorded: the first
        :data:`MAX_PROBLEMS` in ``problems``, up to :data:`MAX_LISTED` in ``all_problems``."""
        if not self.problems:
            return
        total = len(self.problems)
        ordered = self.sorted_problems()
        shown = ordered[:MAX_PROBLEMS]
        noun = "problem" if total == 1 else "problems"
        raise CohortError(
            f"{self.file} {what}: {total} {noun}",
            problems=shown,
            all_problems=ordered[:MAX_LISTED],
        )


def group_by_column(problems: list[Problem]) -> list[tuple[str | None, list[Problem]]]:
    """Problems grouped by (file, column), in the order each group first appears; whole-table
    problems (no column) first, one group each.

    Examples
    --------
    >>> found = [Problem("c.csv", 2, "age", "'x'", "a number"), Problem("c.csv", None, None,
    ...          None, "a header"), Problem("c.csv", 5, "age", "'y'", "a number")]
    >>> [(column, len(group)) for column, group in group_by_column(found)]
    [(None, 1), ('age', 2)]
    """
    general = [(None, [problem]) for problem in problems if problem.column is None]
    groups: dict[tuple, list[Problem]] = {}
    for problem in problems:
        if problem.column is not None:
            groups.setdefault((problem.file, problem.column), []).append(problem)
    return general + [(column, group) for (_, column), group in groups.items()]


def write_problems(problems: list[Problem], path) -> Path:
    """Write every problem to a new CSV file (``file, row, column, value, expected``).

    Raises
    ------
    CohortError
        The file exists (never overwritten) or its folder does not.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_problems([Problem("c.csv", 2, "age", "'x'", "a number")],
    ...                           Path(folder) / "problems.csv")
    ...     print(path.read_text().splitlines()[1])
    c.csv,2,age,'x',a number
    """
    path = Path(path)
    if path.exists():
        raise CohortError(
            f"{path.name} already exists: the list of problems is never written over a file"
        )
    if not path.parent.is_dir():
        raise CohortError(f"cannot write {path.name}: the folder {path.parent} does not exist")
    with path.open("x", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "column", "value", "expected"])
        for problem in problems:
            writer.writerow(
                [problem.file, "" if problem.row is None else problem.row,
                 problem.column or "", problem.value or "", problem.expected]
            )  # fmt: skip
    return path
