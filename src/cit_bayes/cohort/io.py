"""Reading and writing patient-level files: read_table, read_cohort and write_table.

:func:`read_table` reads a file by the reader of its extension (:mod:`cit_bayes.cohort.readers`,
which lists the formats); :func:`read_cohort` validates what it read against the cohort schema,
with the counts of a long-format laboratory file when one is given; :func:`write_table` writes
a table in any of the formats in :data:`WRITABLE`. Any file that cannot be read as a table
raises :class:`~cit_bayes.exceptions.CohortError`, like any other bad input.
"""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from cit_bayes.cohort.dataset import Cohort
from cit_bayes.cohort.labs import LabSummary, with_lab_counts
from cit_bayes.cohort.mapping import ColumnMapping, load_mapping
from cit_bayes.cohort.provenance import read_provenance
from cit_bayes.cohort.readers import READERS, RawTable, unreadable
from cit_bayes.cohort.schema import PLT_DAYS
from cit_bayes.cohort.validate import validate_table
from cit_bayes.exceptions import CohortError

__all__ = ["WRITABLE", "read_cohort", "read_table", "write_table"]


def read_table(path: str | Path, *, sheet: str | int | None = None) -> RawTable:
    """Read a patient-level file into a :class:`RawTable` (no validation).

    Raises
    ------
    CohortError
        Unknown extension, missing file, empty file, or a file that is not a table.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "t.csv"
    ...     _ = path.write_text("id;age\\n1;61,5\\n\\n2;70\\n", encoding="utf-8")
    ...     table = read_table(path)
    >>> list(table.frame.columns), table.row_numbers.tolist(), table.decimal_comma
    (['id', 'age'], [1, 3], True)
    """
    path = Path(path)
    source = path.name
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        hint = " (save it as .xlsx)" if path.suffix.lower() == ".xls" else ""
        raise unreadable(source, f"a file ending in one of {known}{hint}")
    kind = _file_kind(path)
    if kind != "file":
        raise unreadable(source, f"an existing regular file, not {kind}")
    return reader(path, source, sheet)


def _file_kind(path: Path) -> str:
    """``"file"`` for a regular file (links followed), otherwise what the path is, in words.

    Examples
    --------
    >>> import tempfile
    >>> _file_kind(Path(tempfile.gettempdir())), _file_kind(Path("/no/such/file.csv"))
    ('a folder', 'found (no such file)')
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "found (no such file)"
    except OSError as error:
        return f"readable ({type(error).__name__})"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device (such as /dev/zero)"
    return "a socket or other special file"


def read_cohort(
    path: str | Path,
    columns: str | Path | Mapping | ColumnMapping | None = None,
    *,
    missing: str = "error",
    response_rule: str = "any",
    covariates: Sequence[str] = (),
    group: str | None = None,
    arms: Sequence[str] | None = None,
    used_covariates: Sequence[str] | None = None,
    labs: str | Path | None = None,
    lab_window: int = 1,
    days: Sequence[int] = PLT_DAYS,
) -> Cohort:
    """Read a patient-level file and validate it against the cohort schema.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``, ``.xlsx``, ``.sav``, ``.dta`` or ``.parquet``.
    columns : path, dict or ColumnMapping, optional
        Column mapping (TOML file or the same structure as a dict); see
        :mod:`cit_bayes.cohort.mapping`.
    missing : {"error", "drop", "impute"}
        See :func:`cit_bayes.cohort.validate_cohort`.
    response_rule : {"any", "day14", "last"}
        See :func:`cit_bayes.cohort.derive.derive_response_by_day`.
    covariates : sequence of str
        Numeric columns beyond the schema to read as covariates (an analysis plan's
        :attr:`~cit_bayes.plan.AnalysisPlan.extra_covariates`); see
        :func:`cit_bayes.cohort.validate_cohort`.
    group : str, optional
        The plan's grouping column (:attr:`~cit_bayes.plan.AnalysisPlan.group`); see
        :func:`cit_bayes.cohort.validate_cohort`.
    arms : sequence of str, optional
        The arm labels (the plan's :attr:`~cit_bayes.plan.AnalysisPlan.arms`); default the CIT
        study's four. See :func:`cit_bayes.cohort.validate_cohort`.
    used_covariates : sequence of str, optional
        The covariates the plan uses; the schema's others are not required. See
        :func:`cit_bayes.cohort.validate_cohort`.
    labs : str or Path, optional
        Laboratory results in long format (any of the readers' formats; one row per count:
        ``patient_id``, ``day`` or ``date``, ``platelets``, renamed by ``[labs]`` of the
        mapping), which then provide the platelet counts and the recovery
        (:mod:`cit_bayes.cohort.labs`).
    lab_window : int
        Days either side of a planned day (the plan's ``[labs] window``); only with ``labs``.
    days : sequence of int
        The planned days of the counts (the plan's ``[plt] planned_days``; default 0, 3, 7,
        14); see :func:`cit_bayes.cohort.validate_cohort`.

    Returns
    -------
    Cohort
        ``source`` is the file name (never the full path).

    Raises
    ------
    CohortError
        With every problem found (file, row, column, value, expectation).

    Examples
    --------
    >>> from cit_bayes._paths import data_dir
    >>> cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv")
    >>> cohort.source, cohort.n, cohort.arms
    ('cohort.csv', 187, ('rhTPO', 'hetrombopag', 'combination', 'rhIL-11'))
    """
    mapping = load_mapping(columns)
    raw = read_table(path, sheet=mapping.sheet)
    frame, summary = _with_lab_file(raw, labs, mapping, lab_window, days)
    cohort = validate_table(
        frame,
        lab_summary=summary,
        value_labels=raw.value_labels,
        source=raw.source,
        mapping=mapping,
        missing=missing,
        response_rule=response_rule,
        decimal_comma=raw.decimal_comma,
        reader_notes=raw.notes,
        row_numbers=raw.row_numbers,
        covariates=covariates,
        group=group,
        arms=arms,
        used_covariates=used_covariates,
        days=days,
    )
    return _with_provenance(cohort, path)


def _with_lab_file(
    raw: RawTable, labs: str | Path | None, mapping: ColumnMapping, lab_window: int, days
) -> tuple[pd.DataFrame, LabSummary | None]:
    """The patient file's table, with the counts of the laboratory file ``labs`` when one is
    given (:func:`~cit_bayes.cohort.labs.with_lab_counts`), and their summary (None without)."""
    frame, summary = raw.frame, None
    if labs is not None:
        lab_table = read_table(labs)
        frame, summary = with_lab_counts(
            frame,
            lab_table.frame,
            mapping,
            source=raw.source,
            lab_source=lab_table.source,
            lab_rows=lab_table.row_numbers,
            cohort_rows=raw.row_numbers,
            window=lab_window,
            decimal_comma=lab_table.decimal_comma,
            days=tuple(days),
        )
    return frame, summary


def _with_provenance(cohort: Cohort, path: str | Path) -> Cohort:
    """The cohort with the provenance sidecar of its file (a synthetic cohort's) and its note."""
    provenance, note = read_provenance(path, cohort.fingerprint)
    if provenance is None and note is None:
        return cohort
    notes = cohort.notes + ((note,) if note else ())
    return dataclasses.replace(cohort, provenance=provenance, notes=notes)


#: Extensions :func:`write_table` can write.
WRITABLE: tuple[str, ...] = (".csv", ".xlsx", ".sav", ".dta", ".parquet")


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integers as floats (NaN = missing) for writers without nullable types."""
    out = frame.copy()
    for name in out.columns:
        dtype = out[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object)
        elif pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            out[name] = out[name].astype("float64")
    return out


def write_table(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    value_labels: Mapping[str, Mapping[int, str]] | None = None,
) -> Path:
    """Write a table in the format given by the extension (``WRITABLE``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table (for example a simulated cohort in the input schema).
    path : str or Path
        Output file; its folder must exist.
    value_labels : dict, optional
        SPSS/Stata only: column -> {code: label}; the column must hold the integer codes.

    Returns
    -------
    Path

    Raises
    ------
    CohortError
        Unknown extension or a folder that does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_table(pd.DataFrame({"id": [1, 2]}), Path(folder) / "t.parquet")
    ...     print(path.name, read_table(path).frame.shape)
    t.parquet (2, 1)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise CohortError(
            f"cannot write {path.name}: expected a file ending in {', '.join(WRITABLE)}"
        )
    if not path.parent.is_dir():
        raise CohortError(f"cannot write {path.name}: the folder {path.parent} does not exist")
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False, engine="pyarrow")
    elif suffix == ".xlsx":
        _plain_numbers(frame).to_excel(path, index=False, engine="openpyxl")
    else:
        import pyreadstat

        plain = _plain_numbers(frame)
        labels = {k: dict(v) for k, v in (value_labels or {}).items()}
        if suffix == ".sav":
            pyreadstat.write_sav(plain, str(path), variable_value_labels=labels or None)
        else:
            pyreadstat.write_dta(plain, str(path), variable_value_labels=labels or None)
    return path
