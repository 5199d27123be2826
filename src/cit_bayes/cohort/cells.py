"""Cell-level parsing of one input column into its canonical type.

Every reader hands over a table whose cells may be text (CSV), numbers, labels (SPSS/Stata value
labels) or anything a spreadsheet holds. Each column is parsed here against its
:class:`~cit_bayes.cohort.schema.ColumnSpec`: the parsed values, which cells are empty, which cells
are invalid (with what was expected) and which recodes were made (counted, for the notes).
"""

from __future__ import annotations

import decimal
import math
import numbers
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cit_bayes.cohort.mapping import ColumnMapping
from cit_bayes.cohort.problems import NOT_SHOWN
from cit_bayes.cohort.schema import ARMS, RECOVERY_THRESHOLD, STAGES, ColumnSpec

__all__ = [
    "MISSING_TOKENS",
    "QUALIFIED_NOTE",
    "ParsedColumn",
    "is_below",
    "is_missing",
    "parse_column",
    "read_qualified",
]

#: Cell texts read as an empty cell (compared after stripping, case-insensitively).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", ".", "missing"})

_BINARY_WORDS = {"yes": 1, "no": 0, "y": 1, "n": 0, "true": 1, "false": 0}
_SEX_WORDS = {"m": "M", "f": "F", "male": "M", "female": "F"}
_STAGE_NUMBERS = {1: "I", 2: "II", 3: "III", 4: "IV"}


@dataclass
class ParsedColumn:
    """The outcome of parsing one column.

    ``values`` holds floats (NaN = empty) for numeric kinds and Python objects (None = empty) for
    text kinds; ``errors`` lists ``(position, raw value, expectation)``; ``recodes`` counts the
    recodes made, by description.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.cohort.schema import column_spec
    >>> parsed = parse_column(column_spec("age"), pd.Series(["61", "NA", "abc"]))
    >>> parsed.missing.tolist(), parsed.errors
    ([False, True, False], [(2, 'abc', 'a number (years) from 18 to 100')])
    """

    values: np.ndarray
    missing: np.ndarray
    errors: list[tuple[int, object, str]] = field(default_factory=list)
    recodes: Counter = field(default_factory=Counter)
    below: np.ndarray | None = None  # platelet counts given as "<x": only known to be below x


def is_missing(value: object) -> bool:
    """Whether a cell is empty: None, NaN, NA/NaT, or a missing token such as ``""`` or ``NA``.

    Examples
    --------
    >>> [is_missing(value) for value in ("NA", " ", "0", 0, float("nan"), None)]
    [True, True, False, False, True, True]
    >>> is_missing(decimal.Decimal("sNaN")), is_missing(decimal.Decimal("1.5"))
    (True, False)
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in MISSING_TOKENS
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, decimal.Decimal):  # pandas raises on a signalling NaN
        return value.is_nan()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError, ArithmeticError):
        return False


#: Text that a file with decimal commas may mean with a thousands separator (``1.193`` is 1193
#: there, 1.193 elsewhere): refused as ambiguous in such a file.
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:\.\d{3})+$")
_THOUSANDS_NOTE = (
    "a number without a thousands separator: in a ';'-delimited file with decimal commas, a "
    "point followed by three digits may group thousands or mark decimals (write the number "
    "without grouping, with a decimal comma if it has decimals)"
)


def _ambiguous_point(value: object, decimal_comma: bool) -> bool:
    """Whether a cell of a decimal-comma file reads as a number with a thousands separator.

    Examples
    --------
    >>> _ambiguous_point("1.193", True), _ambiguous_point("1.193", False)
    (True, False)
    >>> _ambiguous_point("23.4", True), _ambiguous_point("0.500", True), _ambiguous_point(1.5, True)
    (False, False, False)
    """
    return decimal_comma and isinstance(value, str) and _THOUSANDS.match(value.strip()) is not None


def _to_number(value: object, decimal_comma: bool) -> tuple[float | None, bool]:
    """Return ``(number, used_decimal_comma)``; number None when the cell is not a number (or,
    in a decimal-comma file, may be one with a thousands separator)."""
    if isinstance(value, bool | np.bool_):
        return None, False
    if isinstance(value, numbers.Real | decimal.Decimal):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return None, False
        return (number, False) if math.isfinite(number) else (None, False)
    if isinstance(value, str):
        text = value.strip()
        used_comma = False
        if _ambiguous_point(text, decimal_comma):
            return None, False
        if decimal_comma and text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
            used_comma = True
        if "_" in text:
            return None, False
        try:
            number = float(text)
        except ValueError:
            return None, False
        return (number, used_comma) if math.isfinite(number) else (None, False)
    return None, False


def _range_text(spec: ColumnSpec, integer: bool) -> str:
    kind = "a whole number" if integer else "a number"
    unit = f" ({spec.unit})" if spec.unit and spec.unit != "day" else ""
    if not (np.isfinite(spec.low) or np.isfinite(spec.high)):
        return f"{kind}{unit}"
    low = int(spec.low) if integer else spec.low
    high = int(spec.high) if integer else spec.high
    return f"{kind}{unit} from {low:g} to {high:g}"


def _numeric_fast_path(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)


def _from_numbers(series: pd.Series, expected: str, rejects) -> ParsedColumn:
    """A column that is numeric already: missing where NaN, an error where ``rejects`` holds."""
    values = series.to_numpy(dtype=float, na_value=np.nan)
    raw = series.to_numpy(dtype=object)
    missing = np.isnan(values)
    bad = rejects(values) & ~missing
    parsed = ParsedColumn(values=np.where(bad, np.nan, values), missing=missing)
    parsed.errors.extend((int(p), raw[p], expected) for p in np.flatnonzero(bad))
    return parsed


def _cell_by_cell(series: pd.Series, read, expected: str, *, numeric: bool) -> ParsedColumn:
    """Parse cell by cell: a missing cell is marked; ``read(cell)`` gives ``(value, recode)``,
    and a value of None makes the cell an error that names ``expected``."""
    raw = series.to_numpy(dtype=object)
    values = np.full(len(raw), np.nan) if numeric else np.full(len(raw), None, dtype=object)
    missing = np.zeros(len(raw), dtype=bool)
    parsed = ParsedColumn(values=values, missing=missing)
    for position, cell in enumerate(raw):
        if is_missing(cell):
            missing[position] = True
            continue
        value, recode = read(cell)
        if value is None:
            parsed.errors.append((position, cell, expected))
            continue
        values[position] = value
        if recode:
            parsed.recodes[recode] += 1
    return parsed


#: A code followed by its label (``0 Fully active``, ``1 - Restricted``, ``2: Ambulatory``): the
#: label starts with a letter (``1 - 2`` or ``2 (or 3)`` are not read).
_CODED_LABEL = re.compile(r"^\s*(\d+)\s*(?:[-:=.)]\s*|\s+)(?=[^\W\d_])\S.*$")
#: Integer columns whose cells may carry their label after the code (ordinal scores).
_CODED_COLUMNS = frozenset({"ecog"})
#: A qualified laboratory value (``<20``, ``> 1000``, ``<=20``).
_QUALIFIED = re.compile(r"^\s*([<>])\s*=?\s*([0-9]+(?:[.,][0-9]+)?)\s*$")
#: What a qualified count is read as (a recode note).
QUALIFIED_NOTE = "qualified count read at its limit (<20 as 20, >1000 as 1000)"
_CODED_NOTE = "label text after the code ignored"
_WIDE_DIGITS_NOTE = "digits other than ASCII (full-width, such as ５０) read as digits"


def read_qualified(cell: object) -> float | None:
    """A qualified count read at its limit when the qualifier settles PLT >= 100 (``<20`` is
    20, ``>1000`` is 1000); None when the cell is not qualified or leaves 100 open (``<150``
    may or may not be a recovery, ``>50`` may or may not be one; ``<100`` and ``<=100``, read at
    their limit, would be one, and ``<=x`` may equal x).

    Examples
    --------
    >>> read_qualified("<20"), read_qualified("> 1000"), read_qualified("<150"), read_qualified(5)
    (20.0, 1000.0, None, None)
    >>> read_qualified("<100"), read_qualified(">=100")
    (None, 100.0)
    """
    match = _QUALIFIED.match(cell) if isinstance(cell, str) else None
    if match is None:
        return None
    sign, limit = match.group(1), float(match.group(2).replace(",", "."))
    settles = limit < RECOVERY_THRESHOLD if sign == "<" else limit >= RECOVERY_THRESHOLD
    return limit if settles else None


def is_below(cell: object) -> bool:
    """Whether a cell is a count given as ``<x`` (only known to be below x).

    Examples
    --------
    >>> is_below("<20"), is_below(">1000"), is_below(20)
    (True, False, False)
    """
    return isinstance(cell, str) and cell.strip().startswith("<")


def _parse_numbers(spec: ColumnSpec, series: pd.Series, decimal_comma: bool) -> ParsedColumn:
    integer = spec.kind in ("integer", "day")
    expected = _range_text(spec, integer)
    # a baseline known only as a bound (<20) cannot be a covariate value (log(plt_day0)) nor
    # the reference of the response's rise: only the later counts may be qualified
    qualified = spec.kind == "plt" and spec.name != "plt_day0"
    if qualified:
        expected += ", or a qualified count that settles PLT >= 100 (such as <20 or >1000)"
    elif spec.kind == "plt":
        expected += " (the measured baseline count: a bound such as <20 cannot be a covariate)"
    if _numeric_fast_path(series):
        parsed = _from_numbers(series, expected, lambda values: ~np.isfinite(values))
    else:

        def read(cell):
            number, used_comma = _to_number(cell, decimal_comma)
            if number is None and qualified:
                limit = read_qualified(cell)
                return limit, QUALIFIED_NOTE if limit is not None else None
            if number is None and spec.name in _CODED_COLUMNS and isinstance(cell, str):
                match = _CODED_LABEL.match(cell)
                return (float(match.group(1)), _CODED_NOTE) if match else (None, None)
            if number is not None and isinstance(cell, str) and not cell.isascii():
                return number, _WIDE_DIGITS_NOTE
            return number, "decimal comma read as a decimal point" if used_comma else None

        parsed = _cell_by_cell(series, read, expected, numeric=True)
    values = parsed.values
    with np.errstate(invalid="ignore"):
        out_of_range = (values < spec.low) | (values > spec.high)
        if integer:
            out_of_range |= np.isfinite(values) & (values != np.round(values))
    raw = series.to_numpy(dtype=object)
    for position in np.flatnonzero(out_of_range):
        parsed.errors.append((int(position), raw[position], expected))
        values[position] = np.nan
    parsed.errors = [  # the row and the column say where: the value itself is not shown
        (p, NOT_SHOWN, _THOUSANDS_NOTE) if _ambiguous_point(raw[p], decimal_comma) else (p, r, e)
        for p, r, e in parsed.errors
    ]
    parsed.errors.sort(key=lambda error: error[0])
    if qualified:
        parsed.below = np.array([is_below(cell) for cell in raw], dtype=bool) & np.isfinite(values)
    return parsed


def _read_binary(cell) -> tuple[float | None, str | None]:
    if isinstance(cell, bool | np.bool_):
        return float(bool(cell)), "true/false read as 1/0"
    if isinstance(cell, str) and cell.strip().lower() in _BINARY_WORDS:
        return _BINARY_WORDS[cell.strip().lower()], "yes/no or true/false text read as 1/0"
    number, _ = _to_number(cell, decimal_comma=False)
    return (number, None) if number in (0.0, 1.0) else (None, None)


def _parse_binary(spec: ColumnSpec, series: pd.Series) -> ParsedColumn:
    expected = "0 or 1 (yes/no and true/false are also read)"
    if _numeric_fast_path(series) or pd.api.types.is_bool_dtype(series.dtype):
        parsed = _from_numbers(series, expected, lambda v: (v != 0.0) & (v != 1.0))
        present = int((~parsed.missing).sum())
        if pd.api.types.is_bool_dtype(series.dtype) and present:
            parsed.recodes["true/false read as 1/0"] += present
        return parsed
    return _cell_by_cell(series, _read_binary, expected, numeric=True)


def _category_lookup(spec: ColumnSpec) -> dict[str, str]:
    assert spec.allowed is not None
    lookup = {value.lower(): value for value in spec.allowed}
    return lookup


def _parse_category(spec: ColumnSpec, series: pd.Series) -> ParsedColumn:
    allowed = spec.allowed or ()
    expected = "one of " + ", ".join(allowed) + " (case is ignored)"
    if spec.name == "sex":
        expected = "M or F (male/female are also read)"
    elif spec.name == "stage":
        expected = "I, II, III or IV (1-4 are also read)"
    lookup = _category_lookup(spec)
    return _cell_by_cell(
        series, lambda cell: _match_category(spec, cell, lookup), expected, numeric=False
    )


def _match_category(spec: ColumnSpec, cell: object, lookup: dict[str, str]):
    if isinstance(cell, str):
        key = cell.strip().lower()
        if key in lookup:
            recode = None if cell.strip() == lookup[key] else "case or spacing normalised"
            return lookup[key], recode
        if spec.name == "sex" and key in _SEX_WORDS:
            return _SEX_WORDS[key], "male/female text read as M/F"
        if spec.name == "stage":
            stripped = key.removeprefix("stage").strip()
            if stripped.upper() in STAGES:
                return stripped.upper(), "'stage' prefix removed"
            number, _ = _to_number(stripped, decimal_comma=False)
            if number is not None and number in _STAGE_NUMBERS:
                return _STAGE_NUMBERS[int(number)], "stage 1-4 read as I-IV"
        return None, None
    if spec.name == "stage" and not isinstance(cell, bool | np.bool_):
        number, _ = _to_number(cell, decimal_comma=False)
        if number is not None and number in _STAGE_NUMBERS:
            return _STAGE_NUMBERS[int(number)], "stage 1-4 read as I-IV"
    return None, None


#: The recode note of grouping labels merged (see :func:`_parse_text`).
_GROUP_SPELLING_NOTE = (
    "grouping labels that differ only in case or in surrounding or repeated spaces merged into "
    "one group (the most frequent spelling kept)"
)


def _parse_text(spec: ColumnSpec, series: pd.Series) -> ParsedColumn:
    """Identifiers and grouping labels: any non-empty cell, as text (integral numbers without
    ``.0``). Grouping labels (kind ``"text"``) that differ only in case or in surrounding or
    repeated spaces (``Beijing``, ``beijing``, ``BEIJING ``; not ``Bei Jing``) are one group,
    as such arm labels are one arm: each takes the group's most frequent spelling (a tie: the
    first in the file), counted in the recodes.

    Examples
    --------
    >>> from cit_bayes.cohort.schema import ColumnSpec
    >>> spec = ColumnSpec("centre", "text", True, "covariate")
    >>> cells = ["Beijing", "beijing", "Wu  han", "BEIJING ", "wu han", "Bei Jing"]
    >>> parsed = _parse_text(spec, pd.Series(cells))
    >>> parsed.values.tolist(), sum(parsed.recodes.values())
    (['Beijing', 'Beijing', 'Wu  han', 'Beijing', 'Wu  han', 'Bei Jing'], 3)
    """

    def read(cell):
        if isinstance(cell, float | np.floating) and float(cell).is_integer():
            return str(int(cell)), None
        return str(cell).strip(), None

    parsed = _cell_by_cell(series, read, "", numeric=False)
    if spec.kind == "text":
        spellings: dict[str, Counter] = {}  # in the order first seen (a tie: the first)
        for label in parsed.values:
            if label is not None:
                spellings.setdefault(_group_key(label), Counter())[label] += 1
        chosen = {key: counts.most_common(1)[0][0] for key, counts in spellings.items()}
        for position, label in enumerate(parsed.values):
            if label is not None and chosen[_group_key(label)] != label:
                parsed.values[position] = chosen[_group_key(label)]
                parsed.recodes[_GROUP_SPELLING_NOTE] += 1
    return parsed


def _group_key(label: str) -> str:
    return " ".join(label.split()).casefold()


def arm_key(label: str) -> str:
    """How arm labels are matched: case and every space ignored.

    Examples
    --------
    >>> arm_key(" Hetrombopag + rhTPO ") == arm_key("hetrombopag+rhtpo")
    True
    """
    return "".join(str(label).split()).lower()


def _parse_arm(spec: ColumnSpec, series: pd.Series) -> ParsedColumn:
    arms = spec.allowed or ARMS
    expected = (
        "one of " + ", ".join(arms) + " (case and spaces are ignored; a --columns mapping can "
        "recode, and the analysis plan's [arms] names the arms)"
    )
    lookup = {arm_key(arm): arm for arm in arms}

    def read(cell):
        key = arm_key(cell) if isinstance(cell, str) else None
        if key not in lookup:
            return None, None
        same = cell.strip() == lookup[key]
        return lookup[key], None if same else "arm label case or spacing normalised"

    return _cell_by_cell(series, read, expected, numeric=False)


def parse_column(
    spec: ColumnSpec,
    series: pd.Series,
    mapping: ColumnMapping | None = None,
    *,
    decimal_comma: bool = False,
) -> ParsedColumn:
    """Parse one input column against its spec, after the mapping's value recodes.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.cohort.schema import column_spec
    >>> parsed = parse_column(column_spec("sex"), pd.Series(["male", "F", "x", ""]))
    >>> parsed.values.tolist(), [position for position, _, _ in parsed.errors]
    (['M', 'F', None, None], [2])
    """
    recoded = 0
    if mapping is not None and spec.name in mapping.values:
        cells = []
        for cell in series.to_numpy(dtype=object):
            new, changed = mapping.recode(spec.name, cell)
            cells.append(new)
            recoded += changed
        series = pd.Series(cells, index=series.index, dtype=object)
    if spec.kind in ("number", "integer", "plt", "day"):
        parsed = _parse_numbers(spec, series, decimal_comma)
    elif spec.kind == "binary":
        parsed = _parse_binary(spec, series)
    elif spec.kind == "category":
        parsed = _parse_category(spec, series)
    elif spec.kind == "arm":
        parsed = _parse_arm(spec, series)
    else:
        parsed = _parse_text(spec, series)
    if recoded:
        parsed.recodes["recoded by the column mapping"] += recoded
    return parsed
