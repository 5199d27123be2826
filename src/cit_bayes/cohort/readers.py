"""One reader per patient-level file format, each turning a file into a :class:`RawTable`.

Supported: CSV (``.csv``, ``.tsv``; delimiter ``,``, ``;`` or tab detected from the header; UTF-8
with or without BOM, or UTF-16 with its BOM (Excel's "Unicode Text"); a ``;``-delimited file may
use a decimal comma), Excel ``.xlsx`` (openpyxl;
the first sheet unless the mapping names one), SPSS ``.sav`` and Stata ``.dta`` (pyreadstat; codes
and value labels both kept: an arm coded 1-4 with labels reads as its labels, or through a
mapping written in either) and Parquet (pyarrow). Any
file that cannot be read as a table (binary, wrong encoding, corrupt) raises
:class:`~cit_bayes.exceptions.CohortError`, like any other bad input.
:func:`cit_bayes.cohort.io.read_table` chooses the reader by extension (:data:`READERS`).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes.cohort.problems import Problem
from cit_bayes.exceptions import CohortError

__all__ = ["READERS", "RawTable", "unreadable"]

_DELIMITERS = (",", ";", "\t")
#: A cell written with a decimal comma (``23,4``).
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def _uses_decimal_commas(rows: list[list[str]], delimiter: str) -> bool:
    """Whether a ';'-delimited file writes decimals with commas: some data cell does.

    A ';' file whose numbers all use points (``22.857``) reads them as decimals; only in a file
    that does use decimal commas is a point followed by three digits ambiguous (a thousands
    separator there, :mod:`cit_bayes.cohort.cells`).

    Examples
    --------
    >>> _uses_decimal_commas([["bmi"], ["22.857"]], ";")
    False
    >>> _uses_decimal_commas([["bmi"], ["23,4"]], ";")
    True
    >>> _uses_decimal_commas([["bmi"], ["23,4"]], ",")  # a comma there separates fields
    False
    """
    return delimiter == ";" and any(
        _DECIMAL_COMMA.match(cell) for row in rows[1:] for cell in row if cell
    )


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file, before validation.

    ``row_numbers[i]`` is the data row (1-based, header excluded) of ``frame.iloc[i]``: blank
    rows of a CSV or a sheet are skipped but keep their numbers, so messages point at the row the
    user sees. ``value_labels`` (SPSS, Stata): column -> {code: label}; the frame holds the
    codes, and the validation reads a label or a code by the column's kind and the mapping.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> table = RawTable(pd.DataFrame({"age": ["61", "70"]}), "t.csv", np.array([1, 3]))
    >>> table.source, table.row_numbers.tolist(), table.decimal_comma
    ('t.csv', [1, 3], False)
    """

    frame: pd.DataFrame
    source: str
    row_numbers: np.ndarray
    decimal_comma: bool = False
    notes: tuple[str, ...] = ()
    value_labels: dict = field(default_factory=dict)


#: Characters of a library's error text echoed in a message (a corrupt file's error may hold
#: its raw bytes).
_DETAIL_WIDTH = 200


def unreadable(
    source: str, what: str, error: Exception | None = None, row: int | None = None
) -> CohortError:
    """The error of a file that cannot be read as a table: what was expected, and the
    library's error text (shortened, unprintable characters replaced) when there is one.

    Examples
    --------
    >>> from cit_bayes.cohort.readers import unreadable
    >>> error = unreadable("cohort.xlsx", "an Excel workbook", ValueError("bad zip\\x00 header"))
    >>> print(error)
    cohort.xlsx cannot be read as a table: an Excel workbook (ValueError: bad zip? header)
    >>> print(unreadable("cohort.csv", "one cell per header name", row=4).problems[0])
    cohort.csv, row 4: expected one cell per header name
    """
    detail = ""
    if error is not None:
        text = "".join(c if c.isprintable() else "?" for c in str(error)[: _DETAIL_WIDTH + 1])
        text = text[:_DETAIL_WIDTH] + ("..." if len(text) > _DETAIL_WIDTH else "")
        detail = f" ({type(error).__name__}: {text})"
    message = f"{source} cannot be read as a table: {what}{detail}"
    return CohortError(message, problems=[Problem(source, row, None, None, what)])


def _empty(source: str) -> CohortError:
    what = "a header row and one row per patient (the file is empty)"
    return CohortError(f"{source} is empty", problems=[Problem(source, None, None, None, what)])


def _blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _from_rows(rows: list[list], source: str) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Header = first non-blank row; blank data rows skipped (numbers kept); ragged rows checked."""
    start = next((i for i, row in enumerate(rows) if not all(_blank(c) for c in row)), None)
    if start is None:
        raise _empty(source)
    header = list(rows[start])
    while header and _blank(header[-1]):
        header.pop()
    width = len(header)
    kept, numbers, ragged = [], [], []
    skipped = 0
    for offset, row in enumerate(rows[start + 1 :], start=1):
        row = list(row)
        if all(_blank(c) for c in row):
            skipped += 1
            continue
        if len(row) > width:
            if not all(_blank(c) for c in row[width:]):
                ragged.append(
                    Problem(
                        source,
                        offset,
                        None,
                        None,
                        f"{width} cells like the header, found {len(row)}",
                    )
                )
                continue
            row = row[:width]
        row = row + [None] * (width - len(row))
        kept.append(row)
        numbers.append(offset)
    if ragged:
        raise CohortError(
            f"{source} has rows longer than its header: {len(ragged)} problem(s)",
            problems=ragged[:200],
        )
    if not kept:
        raise _empty(source)
    columns = ["" if c is None else str(c) for c in header]
    frame = pd.DataFrame(kept, columns=columns, dtype=object)
    return frame, np.asarray(numbers, dtype=int), skipped


def _line_of(text: str, record: int, delimiter: str) -> int:
    """The line (1-based) on which the CSV record ``record`` (0 = header) starts."""
    if record == 0:
        return 1
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    line = 1
    for index, _ in enumerate(reader):
        if index + 1 == record:
            return reader.line_num + 1
        line = reader.line_num + 1
    return line


def _detect_delimiter(text: str, default: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {delimiter: first.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == default))
    return best if counts[best] else default


def _read_csv(path: Path, source: str, sheet=None) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise unreadable(source, "the file cannot be opened", error) from error
    if not data.strip():
        raise _empty(source)
    text, notes = _decoded(data, source)
    delimiter = _detect_delimiter(text, "\t" if path.suffix.lower() == ".tsv" else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    try:
        rows.extend(reader)
    except csv.Error as error:  # the record after the last one read holds the bad quote
        where = f"data row {len(rows)}" if rows else "the header"
        raise unreadable(
            source,
            f"well-formed CSV: a quote in {where} (from line "
            f"{_line_of(text, len(rows), delimiter)} of the file) is not closed or stands "
            "inside a field",
            error,
            row=len(rows) or None,
        ) from error
    frame, numbers, skipped = _from_rows(rows, source)
    notes += (f"skipped {skipped} blank row(s)",) if skipped else ()
    comma = _uses_decimal_commas(rows, delimiter)
    return RawTable(frame, source, numbers, decimal_comma=comma, notes=notes)


#: Byte-order marks of UTF-16 text (Excel's "Unicode Text" export is UTF-16 with one).
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _decoded(data: bytes, source: str) -> tuple[str, tuple[str, ...]]:
    r"""The text of a CSV file's bytes: UTF-8 (with or without BOM), or UTF-16 when it starts
    with a UTF-16 byte-order mark (noted); binary data and undecodable bytes are errors.

    Examples
    --------
    >>> _decoded("arm\tage\nA\t61\n".encode("utf-16"), "c.txt")
    ('arm\tage\nA\t61\n', ('read as UTF-16 text (a byte-order mark at its start)',))
    >>> _decoded(b"arm,age\nA,61\n", "c.csv")
    ('arm,age\nA,61\n', ())
    """
    if data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise unreadable(
                source,
                "UTF-16 text (it starts with a UTF-16 byte-order mark, but does not decode: "
                "save it as CSV UTF-8)",
            ) from error
        if "\x00" in text:
            raise unreadable(source, "a text file, but it holds binary data (NUL characters)")
        return text, ("read as UTF-16 text (a byte-order mark at its start)",)
    if b"\x00" in data:
        raise unreadable(source, "a text file, but it holds binary data (NUL bytes)")
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError as error:
        raise unreadable(
            source, f"UTF-8 text (an undecodable byte at position {error.start})"
        ) from error


def _read_xlsx(path: Path, source: str, sheet=None) -> RawTable:
    """Read one sheet: the cells stored, not the sheet's declared size (a 5 KB file may declare
    a million rows by 16,384 columns); a formula cell without a stored result is an error
    naming the cell (a file written by a tool that does not compute formulas would otherwise
    read as empty cells)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            chosen, rows = _xlsx_rows(path, source, sheet, data_only=True)
            _, formulas = _xlsx_rows(path, source, chosen, data_only=False)
    except CohortError:
        raise
    except Exception as error:  # openpyxl raises many kinds on a corrupt or foreign file
        raise unreadable(source, "an Excel .xlsx workbook", error) from error
    unresolved = [
        (r + 1, c + 1)
        for r, row in enumerate(formulas)
        for c, value in enumerate(row)
        if isinstance(value, str)
        and value.startswith("=")
        and (r >= len(rows) or c >= len(rows[r]) or rows[r][c] is None)
    ]
    if unresolved:
        from openpyxl.utils import get_column_letter

        problems = [
            Problem(source, None, None, f"cell {get_column_letter(c)}{r}", "a value, not a "
                    "formula without a stored result (open and save the file in Excel, or "
                    "export values)")
            for r, c in unresolved[:200]
        ]  # fmt: skip
        raise CohortError(
            f"{source} has {len(unresolved)} formula cell(s) without a stored value",
            problems=problems,
        )
    frame, numbers, skipped = _from_rows(rows, source)
    notes = (f"read sheet {chosen!r}",) + ((f"skipped {skipped} blank row(s)",) if skipped else ())
    return RawTable(frame, source, numbers, notes=notes)


def _xlsx_rows(path: Path, source: str, sheet, *, data_only: bool) -> tuple[str, list[list]]:
    """The chosen sheet's name and its rows as stored, trailing empty cells dropped."""
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    try:
        names = workbook.sheetnames
        if sheet is None:
            chosen = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise unreadable(source, f"a sheet number 0-{len(names) - 1}, got {sheet}")
            chosen = names[sheet]
        elif sheet in names:
            chosen = sheet
        else:
            shown = ", ".join(name[:40] for name in names[:20])
            raise unreadable(source, f"a sheet named {str(sheet)[:40]!r} (sheets: {shown})")
        worksheet = workbook[chosen]
        worksheet.reset_dimensions()  # the cells stored, not the declared range
        rows = []
        for row in worksheet.iter_rows(values_only=True):
            row = list(row)
            while row and row[-1] is None:
                row.pop()
            rows.append(row)
        while rows and not rows[-1]:
            rows.pop()
        return chosen, rows
    finally:
        workbook.close()


def _typed(frame: pd.DataFrame, source: str) -> RawTable:
    frame = frame.copy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(
            frame[name].dtype
        ):
            frame[name] = frame[name].astype(object)
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise _empty(source)
    return RawTable(frame.reset_index(drop=True), source, np.arange(1, len(frame) + 1))


def _read_stat(path: Path, source: str, sheet=None) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if path.suffix.lower() == ".sav" else pyreadstat.read_dta
    kind = "an SPSS .sav file" if reader is pyreadstat.read_sav else "a Stata .dta file"
    try:
        frame, meta = reader(str(path), apply_value_formats=False)
    except Exception as error:  # pyreadstat raises its own and OS errors on foreign files
        raise unreadable(source, kind, error) from error
    table = _typed(frame, source)
    labels = {
        str(column): dict(codes)
        for column, codes in (meta.variable_value_labels or {}).items()
        if codes
    }
    return RawTable(table.frame, source, table.row_numbers, value_labels=labels)


def _read_parquet(path: Path, source: str, sheet=None) -> RawTable:
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError, ... on a foreign file
        raise unreadable(source, "a Parquet file", error) from error
    return _typed(frame, source)


#: Readers by (lower-case) extension.
READERS = {
    ".csv": _read_csv,
    ".tsv": _read_csv,
    ".xlsx": _read_xlsx,
    ".sav": _read_stat,
    ".dta": _read_stat,
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
}
