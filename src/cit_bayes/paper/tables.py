"""The paper's Tables 1-9 as tidy DataFrames.

The CSV files in ``data/published/`` were transcribed by hand from the paper, one row per printed
cell. Each row keeps the printed text verbatim (``printed``, ``printed_statistic``, ``printed_p``,
``printed_effect``) beside the numbers parsed from it, so that a printed ``<0.001`` or ``0.000``
stays recoverable. ``data/published/README.md`` is the data dictionary and gives the source of
every file.

Two layouts are used:

* **cells** (``table1_baseline``, ``table2_response``, ``table4_plt``, ``table6_recovery_delta``,
  ``table8_transfusion``, ``table9_adverse_events``): one row per (block, level, arm) with
  ``count``/``percent``, ``mean``/``plusminus`` or ``median``/``q1``/``q3``;
* **tests** (``table*_tests``, ``table3_response_pairwise``, ``table5_plt_pairwise``,
  ``table7_pairwise``): one row per reported test, with the statistic, the p-value, its relation
  (``=`` or ``<``), the significance mark and, where printed, an effect with its interval.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from cit_bayes._paths import data_dir
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import PublishedDataError

__all__ = [
    "ARM_SIZES",
    "CELL_COLUMNS",
    "TEST_COLUMNS",
    "TABLE_FILES",
    "count_table",
    "load_tables",
    "parse_printed_cell",
    "parse_printed_p",
    "published_dir",
]

#: Arm sizes as printed in every table header of the paper.
ARM_SIZES: dict[str, int] = {"rhTPO": 64, "hetrombopag": 37, "combination": 36, "rhIL-11": 50}

CELL_COLUMNS: tuple[str, ...] = (
    "table", "block", "level", "label", "arm", "n_arm", "printed",
    "count", "percent", "mean", "plusminus", "median", "q1", "q3",
)  # fmt: skip
TEST_COLUMNS: tuple[str, ...] = (
    "table", "block", "level", "label", "comparison", "arm", "arm_a", "arm_b",
    "statistic_label", "printed_statistic", "statistic", "printed_p", "p", "p_relation", "mark",
    "effect_label", "printed_effect", "effect", "effect_ci_low", "effect_ci_high",
)  # fmt: skip

#: Every bundled file (stem) and its layout.
TABLE_FILES: dict[str, str] = {
    "table1_baseline": "cells",
    "table1_tests": "tests",
    "table2_response": "cells",
    "table2_tests": "tests",
    "table3_response_pairwise": "tests",
    "table4_plt": "cells",
    "table4_tests": "tests",
    "table5_plt_pairwise": "tests",
    "table6_recovery_delta": "cells",
    "table6_tests": "tests",
    "table7_pairwise": "tests",
    "table8_transfusion": "cells",
    "table8_tests": "tests",
    "table9_adverse_events": "cells",
    "table9_tests": "tests",
    "text_statements": "text",
}

_TEXT_COLUMNS = ("section", "quote", "quantity", "arm", "printed", "value", "unit")
_STRING_COLUMNS = {
    "table", "block", "level", "label", "arm", "printed", "comparison", "arm_a", "arm_b",
    "statistic_label", "printed_statistic", "printed_p", "p_relation", "mark", "effect_label",
    "printed_effect", "section", "quote", "quantity", "unit",
}  # fmt: skip
_NUMBER = r"(-?\d+(?:\.\d+)?)"


def published_dir() -> Path:
    """Return the folder of the paper's tables (``data/published``).

    Examples
    --------
    >>> from cit_bayes.paper.tables import published_dir
    >>> published_dir().name
    'published'
    """
    return data_dir() / "published"


def load_tables(directory: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Load every published table as a tidy DataFrame.

    Parameters
    ----------
    directory : str or Path, optional
        Folder holding the CSV files; defaults to the bundled ``data/published``.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keyed by file stem (see ``TABLE_FILES``). Text columns are strings (empty cells are
        ``""``), numeric columns are floats with NaN where the paper prints nothing, ``n_arm``
        and ``count`` are nullable integers.

    Raises
    ------
    PublishedDataError
        If a file is missing, lacks a column of its layout, or names an unknown arm.

    Examples
    --------
    >>> from cit_bayes.paper.tables import load_tables
    >>> tables = load_tables()
    >>> len(tables), list(tables)[:2]
    (16, ['table1_baseline', 'table1_tests'])
    """
    folder = Path(directory) if directory is not None else published_dir()
    tables: dict[str, pd.DataFrame] = {}
    for stem, layout in TABLE_FILES.items():
        path = folder / f"{stem}.csv"
        if not path.is_file():
            raise PublishedDataError(f"missing published table {path}")
        expected = {"cells": CELL_COLUMNS, "tests": TEST_COLUMNS, "text": _TEXT_COLUMNS}[layout]
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        missing = [c for c in expected if c not in frame.columns]
        if missing:
            raise PublishedDataError(f"{path}: missing column(s) {', '.join(missing)}")
        frame = frame.loc[:, list(expected)]
        for column in frame.columns:
            if column in _STRING_COLUMNS:
                continue
            numbers = pd.to_numeric(frame[column].replace("", None), errors="coerce")
            bad = frame[column].ne("") & numbers.isna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0]) + 1
                raise PublishedDataError(
                    f"{path}: row {row}, column {column!r}: {frame[column][bad].iloc[0]!r} "
                    "is not a number"
                )
            frame[column] = numbers.astype("Int64" if column in ("n_arm", "count") else float)
        for column in ("arm", "arm_a", "arm_b"):
            if column in frame.columns:
                unknown = sorted(set(frame[column]) - set(ARMS) - {""})
                if unknown:
                    raise PublishedDataError(
                        f"{path}: unknown arm label(s) {unknown} in {column!r}; expected {ARMS}"
                    )
        tables[stem] = frame
    return tables


def count_table(
    cells: pd.DataFrame, block: str, *, levels: list[str] | None = None
) -> pd.DataFrame:
    """Return the counts of one categorical block as a levels x arms table.

    Parameters
    ----------
    cells : pandas.DataFrame
        A table in the cells layout (for example ``load_tables()["table1_baseline"]``).
    block : str
        The block to extract (``"sex"``, ``"stage"``, ``"response"``, ...).
    levels : list of str, optional
        Levels to keep, in order. By default the printed levels, in printed order. A block that
        prints only the "yes" level of a binary characteristic gets its complement added as
        ``"no"`` (arm size minus count), so that the table is a full contingency table.

    Returns
    -------
    pandas.DataFrame
        Integer counts, index ``level``, columns the arms in canonical order.

    Examples
    --------
    >>> from cit_bayes.paper.tables import count_table, load_tables
    >>> sex = count_table(load_tables()["table1_baseline"], "sex")
    >>> sex.index.tolist(), sex.loc["male"].tolist()
    (['male', 'female'], [36, 22, 20, 22])
    """
    rows = cells[cells["block"] == block]
    if rows.empty:
        raise PublishedDataError(f"no block {block!r} in this table")
    if rows["count"].isna().any():
        raise PublishedDataError(f"block {block!r} is not a table of counts")
    order = list(dict.fromkeys(rows["level"]))
    table = (
        rows.pivot(index="level", columns="arm", values="count")
        .reindex(index=order, columns=list(ARMS))
        .astype(int)
    )
    if order == ["yes"] or order == ["effective"]:
        sizes = rows.drop_duplicates("arm").set_index("arm")["n_arm"].reindex(list(ARMS))
        complement = "no" if order == ["yes"] else "not_effective"
        table.loc[complement] = (sizes.astype(int) - table.loc[order[0]]).to_numpy()
    if levels is not None:
        table = table.reindex(index=levels)
    table.index.name = "level"
    table.columns.name = "arm"
    return table


def parse_printed_cell(text: str) -> dict[str, float]:
    """Parse a printed table cell into numbers.

    Recognises ``"n (p)"`` (count and percent), ``"m ± s"`` (mean and the number after ±) and
    ``"median (q1, q3)"``.

    Examples
    --------
    >>> parse_printed_cell("36 (56.3)")
    {'count': 36.0, 'percent': 56.3}
    >>> parse_printed_cell("57.80 ± 1.67")
    {'mean': 57.8, 'plusminus': 1.67}
    """
    text = text.strip()
    if m := re.fullmatch(_NUMBER + r"\s*\(\s*" + _NUMBER + r"\s*\)", text):
        return {"count": float(m[1]), "percent": float(m[2])}
    if m := re.fullmatch(_NUMBER + r"\s*±\s*" + _NUMBER, text):
        return {"mean": float(m[1]), "plusminus": float(m[2])}
    if m := re.fullmatch(_NUMBER + r"\s*\(\s*" + _NUMBER + r"\s*,\s*" + _NUMBER + r"\s*\)", text):
        return {"median": float(m[1]), "q1": float(m[2]), "q3": float(m[3])}
    raise PublishedDataError(f"cannot parse printed cell {text!r}")


def parse_printed_p(text: str) -> dict[str, object]:
    """Parse a printed p-value such as ``"0.017*"``, ``"<0.001#"`` or ``"P = 0.704"``.

    Returns a dict with ``p`` (float), ``p_relation`` (``"="`` or ``"<"``) and ``mark`` (the
    trailing ``*``/``#`` marks, or ``""``).

    Examples
    --------
    >>> from cit_bayes.paper.tables import parse_printed_p
    >>> parse_printed_p("<0.001#")
    {'p': 0.001, 'p_relation': '<', 'mark': '#'}
    """
    body = text.strip()
    mark = ""
    while body and body[-1] in "*#":
        mark = body[-1] + mark
        body = body[:-1]
    body = re.sub(r"^[Pp]\s*", "", body.strip())
    relation = "="
    body = body.lstrip("=").strip()
    if body.startswith("<"):
        relation = "<"
        body = body[1:].strip()
    try:
        value = float(body)
    except ValueError as error:
        raise PublishedDataError(f"cannot parse printed p-value {text!r}") from error
    return {"p": value, "p_relation": relation, "mark": mark}
