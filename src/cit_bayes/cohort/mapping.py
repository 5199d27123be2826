"""Column mappings: let a file with other column names or value codes be read without editing it.

A mapping is a small TOML file (``cit-bayes validate FILE --columns map.toml``)::

    [columns]            # canonical name = the column's name in your file
    patient_id = "Study ID"
    arm = "Group"
    plt_day0 = "PLT baseline"

    [values.arm]         # value in your file = canonical value
    "TPO" = "rhTPO"
    "HET" = "hetrombopag"
    "HET+TPO" = "combination"
    "IL-11" = "rhIL-11"

    [values.sex]
    "1" = "M"
    "2" = "F"

    [read]
    sheet = "Cohort"     # Excel only: the sheet to read (default: the first)
    value_labels = true  # SPSS/Stata: labels of text columns read (false: codes everywhere)

    [labs]               # a long-format laboratory file (--labs): canonical = name in it
    patient_id = "MRN"
    date = "Collected"   # or day = "Day"
    platelets = "PLT"
    start = "Cycle start"  # the cohort file's treatment-start date (day 0)

Keys of ``[values.*]`` are matched with case, spaces (inner ones too) and, in a key that holds a
letter, punctuation ignored (``"HET + TPO"`` matches ``HET+TPO``); two keys that read alike but map
to different values are an error. A number in the file matches its plain text (``1.0`` matches
``"1"``). In an SPSS or Stata file a key may name the code or its value label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cit_bayes.cohort.schema import INPUT_COLUMNS, LAB_COLUMNS, PLANNED_DAY_COLUMN
from cit_bayes.config import read_toml
from cit_bayes.exceptions import CohortError, PlanError

__all__ = ["ColumnMapping", "load_mapping", "normalise_key"]

_SECTIONS = {"columns", "values", "read", "labs"}
_LAB_KEYS = (*LAB_COLUMNS, "start")


#: Punctuation ignored in a key that holds a letter (``HET+TPO`` is ``het tpo``); a key of
#: digits keeps it (``1.5`` is not ``15``).
_PUNCTUATION = str.maketrans("", "", "-_+/.,;:()[]'\"&")


def normalise_key(value: Any) -> str:
    """The text a cell is matched by: lower-case, without spaces (inner ones too) and, when it
    holds a letter, without punctuation; integral numbers without ``.0``.

    Examples
    --------
    >>> normalise_key(" Yes "), normalise_key(2.0), normalise_key(True)
    ('yes', '2', '1')
    >>> normalise_key("Hetrombopag + rhTPO"), normalise_key("IL-11"), normalise_key("1.5")
    ('hetrombopagrhtpo', 'il11', '1.5')
    """
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    text = "".join(str(value).split()).lower()
    if any(character.isalpha() for character in text):
        text = text.translate(_PUNCTUATION)
    return text


@dataclass(frozen=True)
class ColumnMapping:
    """A loaded column mapping.

    Attributes
    ----------
    columns : dict
        Canonical column name -> the column's name in the file.
    values : dict
        Canonical column name -> {normalised value in the file -> canonical value}.
    sheet : str or int or None
        Excel sheet to read (name or 0-based position); None = the first.
    labs : dict
        A long-format laboratory file's columns (``patient_id``, ``day``, ``date``,
        ``platelets``) and the cohort's treatment-start column (``start``) -> the names in the
        files (:mod:`cit_bayes.cohort.labs`).
    value_labels : bool
        SPSS/Stata value labels read for text columns (``[read] value_labels``, default true);
        false: the codes everywhere.
    source : str
        Where the mapping came from (file name or ``"<mapping>"``).

    Examples
    --------
    >>> mapping = ColumnMapping(values={"sex": {"1": "M", "2": "F"}})
    >>> mapping.recode("sex", 1.0), mapping.recode("sex", "X")
    (('M', True), ('X', False))
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    sheet: str | int | None = None
    source: str = "<mapping>"
    labs: dict[str, str] = field(default_factory=dict)
    value_labels: bool = True

    def recode(self, column: str, value: Any) -> tuple[Any, bool]:
        """Return ``(value, recoded)`` after applying the value map of ``column``."""
        table = self.values.get(column)
        if not table or value is None or (isinstance(value, float) and math.isnan(value)):
            return value, False
        key = normalise_key(value)
        if key in table:
            return table[key], True
        return value, False


def _fail(source: str, message: str) -> CohortError:
    return CohortError(f"column mapping {source}: {message}")


def _is_schema_column(name) -> bool:
    """A column of the schema, or the count column of a planned day (``plt_day21``)."""
    return name in INPUT_COLUMNS or bool(PLANNED_DAY_COLUMN.match(str(name)))


def load_mapping(columns: str | Path | Mapping | ColumnMapping | None) -> ColumnMapping:
    """Load a column mapping from a TOML path, a dict of the same shape, or pass one through.

    A flat dict of strings (``{"arm": "Group"}``) is read as the ``[columns]`` table.

    Raises
    ------
    CohortError
        If the file cannot be read or parsed, names a column that is not in the schema, or has
        values of the wrong type.

    Examples
    --------
    >>> mapping = load_mapping({"arm": "Group", "plt_day0": "PLT baseline"})
    >>> mapping.columns["arm"], mapping.sheet, mapping.source
    ('Group', None, '<mapping>')
    >>> load_mapping({"values": {"site": {"1": "A"}}})
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.CohortError: column mapping <mapping>: [values.site] is not a schema column
    """
    if columns is None:
        return ColumnMapping()
    if isinstance(columns, ColumnMapping):
        return columns
    if isinstance(columns, str | Path):
        path = Path(columns)
        source = path.name
        try:
            raw = read_toml(path, "file").data  # the package's one TOML loader
        except PlanError as error:
            raise _fail(source, str(error).replace(str(path), path.name)) from None
    elif isinstance(columns, Mapping):
        source = "<mapping>"
        raw = dict(columns)
        if raw and not (set(raw) & _SECTIONS) and all(isinstance(v, str) for v in raw.values()):
            raw = {"columns": raw}
    else:
        raise _fail("<mapping>", f"expected a path or a dict, got {type(columns).__name__}")
    return _parse(raw, source)


def _parse(raw: Mapping, source: str) -> ColumnMapping:
    unknown_sections = sorted(set(raw) - _SECTIONS)
    if unknown_sections:
        raise _fail(source, f"unknown section(s) {unknown_sections}; expected {sorted(_SECTIONS)}")
    column_table = raw.get("columns", {})
    if not isinstance(column_table, Mapping):
        raise _fail(source, "[columns] must be a table of canonical name = file column name")
    columns: dict[str, str] = {}
    seen: dict[str, str] = {}
    for canonical, in_file in column_table.items():
        if not _is_schema_column(canonical):
            raise _fail(
                source,
                f"[columns] names {canonical!r}, which is not a schema column; expected one of "
                f"{', '.join(INPUT_COLUMNS)}, or plt_day<d> for a plan's other planned days",
            )
        if not isinstance(in_file, str) or not in_file.strip():
            raise _fail(source, f"[columns] {canonical} must be a non-empty column name")
        key = in_file.strip().lower()
        if key in seen:
            raise _fail(
                source, f"file column {in_file!r} is mapped to both {seen[key]} and {canonical}"
            )
        seen[key] = canonical
        columns[canonical] = in_file
    value_table = raw.get("values", {})
    if not isinstance(value_table, Mapping):
        raise _fail(source, "[values] must hold one table per column, e.g. [values.arm]")
    values: dict[str, dict[str, str]] = {}
    for canonical, table in value_table.items():
        if not _is_schema_column(canonical):
            raise _fail(source, f"[values.{canonical}] is not a schema column")
        if not isinstance(table, Mapping):
            raise _fail(
                source, f"[values.{canonical}] must be a table of file value = canonical value"
            )
        recode: dict[str, str] = {}
        written: dict[str, str] = {}
        for in_file, canonical_value in table.items():
            if isinstance(canonical_value, bool) or not isinstance(
                canonical_value, str | int | float
            ):
                raise _fail(
                    source, f"[values.{canonical}] {in_file!r} must map to text or a number"
                )
            key = normalise_key(in_file)
            if key in recode and recode[key] != canonical_value:
                raise _fail(
                    source,
                    f"[values.{canonical}] keys {written[key]!r} and {in_file!r} read alike "
                    "(case, spaces and punctuation are ignored), yet both map one file value: "
                    f"to {recode[key]!r} and to {canonical_value!r}",
                )
            recode[key], written[key] = canonical_value, in_file
        values[canonical] = recode
    read = raw.get("read", {})
    if not isinstance(read, Mapping) or set(read) - {"sheet", "value_labels"}:
        raise _fail(
            source,
            "[read] may only hold sheet = NAME or a 0-based number, and value_labels = true/false",
        )
    sheet = read.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        raise _fail(source, "[read] sheet must be a sheet name or a 0-based number")
    value_labels = read.get("value_labels", True)
    if not isinstance(value_labels, bool):
        raise _fail(source, "[read] value_labels must be true or false")
    labs = raw.get("labs", {})
    if not isinstance(labs, Mapping) or set(labs) - set(_LAB_KEYS):
        raise _fail(source, f"[labs] may only name the columns {', '.join(_LAB_KEYS)}")
    if any(not isinstance(name, str) or not name.strip() for name in labs.values()):
        raise _fail(source, "[labs] column names must be non-empty text")
    return ColumnMapping(
        columns=columns,
        values=values,
        sheet=sheet,
        source=source,
        labs=dict(labs),
        value_labels=value_labels,
    )
