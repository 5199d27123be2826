"""The validated cohort: data with derived columns, provenance, and what was dropped or recoded."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cit_bayes.cohort.derive import derive_time_to_recovery_by_day
from cit_bayes.cohort.labs import LabSummary
from cit_bayes.cohort.schema import (
    BASELINE_COVARIATES,
    BINARY_COVARIATES,
    CATEGORICAL_COVARIATES,
    COHORT_COLUMNS,
    PLANNED_DAY_COLUMN,
    PLT_DAYS,
    SAFETY_OUTCOMES,
    STAGES,
    plt_columns,
)
from cit_bayes.exceptions import CohortError

__all__ = [
    "DROPPED_COLUMNS",
    "FINGERPRINT_COLUMNS",
    "Cohort",
    "fingerprint_frame",
    "planned_days_of",
]

#: Columns of ``Cohort.dropped``.
DROPPED_COLUMNS: tuple[str, ...] = ("arm", "reason", "n_dropped")

#: Columns hashed by :func:`fingerprint_frame`: the validated input schema (not the derived
#: columns, which depend on the response rule recorded beside the fingerprint).
FINGERPRINT_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in COHORT_COLUMNS
    if name not in ("response", "delta_plt", "time_to_recovery", "recovered")
)
_FINGERPRINT_VERSION = "cit_bayes.cohort/1"


def planned_days_of(data: pd.DataFrame) -> tuple[int, ...]:
    """The planned days whose count columns ``data`` holds (``plt_day<d>``), in order.

    Examples
    --------
    >>> planned_days_of(pd.DataFrame(columns=["arm", "plt_day21", "plt_day0", "plt_day5"]))
    (0, 5, 21)
    """
    found = (PLANNED_DAY_COLUMN.match(str(name)) for name in data.columns)
    return tuple(sorted(int(match.group(1)) for match in found if match))


def _column_text(series: pd.Series, as_float: bool) -> list[str]:
    """Each cell as hashed text: floats by ``repr``, integers as integers, empty cells as ''."""
    if as_float:
        values = series.to_numpy(dtype=float, na_value=np.nan).tolist()
        return ["" if math.isnan(v) else repr(v) for v in values]
    out = []
    for value in series.astype(object).tolist():
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            out.append("")
        elif isinstance(value, float | np.floating):
            out.append(repr(float(value)))
        else:
            out.append(str(int(value)) if isinstance(value, int | np.integer) else str(value))
    return out


def fingerprint_frame(
    data: pd.DataFrame, extra: Sequence[str] = (), labels: Sequence[str] = ()
) -> str:
    """SHA-256 (hex) of the canonical cohort columns, row by row in order.

    ``extra`` names further numeric covariate columns (:attr:`Cohort.extra_covariates`), hashed
    after the canonical ones as floats, and ``labels`` a grouping column beyond the schema
    (:attr:`Cohort.group_column`), hashed as text; without them the fingerprint is the
    schema's alone.

    Numbers are hashed by value (``repr`` of the float; integers as integers), text as text, empty
    cells as empty, so a CSV, an Excel sheet, an SPSS file and a Parquet file holding the same
    data give the same fingerprint.

    Examples
    --------
    >>> import pandas as pd
    >>> as_int = fingerprint_frame(pd.DataFrame({"arm": ["rhTPO"], "age": [61]}))
    >>> as_float = fingerprint_frame(pd.DataFrame({"arm": ["rhTPO"], "age": [61.0]}))
    >>> as_int == as_float, len(as_int)
    (True, 64)
    """
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode())
    columns = [name for name in FINGERPRINT_COLUMNS if name in data.columns]
    # counts of other planned days (an analysis plan's [plt] planned_days), after the schema's
    columns += [
        name for name in data.columns if PLANNED_DAY_COLUMN.match(str(name)) and name not in columns
    ]
    columns += [*extra, *labels, *_interval_columns(data)]
    digest.update(("\x1f".join(columns) + "\n").encode())
    floats = {"age", "bmi", *(name for name in columns if PLANNED_DAY_COLUMN.match(str(name)))}
    texts = [_column_text(data[name], name in floats or name in extra) for name in columns]
    body = "".join("\x1f".join(row) + "\n" for row in zip(*texts, strict=True))
    digest.update(body.encode())
    return digest.hexdigest()


def _interval_columns(data: pd.DataFrame) -> list[str]:
    """``["recovery_after"]`` when it says more than the recovery day (an interval-censored
    recovery, or a censoring day other than the planned counts'), else nothing: a cohort with
    exact recovery days has the fingerprint it had before the column existed."""
    days = planned_days_of(data)
    if not {"recovery_after", "recovery_day"} <= set(data.columns) or not days or days[0] != 0:
        return []
    after = data["recovery_after"].to_numpy(dtype=float, na_value=np.nan)
    counts = {day: data[f"plt_day{day}"].to_numpy(dtype=float, na_value=np.nan) for day in days}
    recovery = data["recovery_day"].to_numpy(dtype=float, na_value=np.nan)
    time, recovered = derive_time_to_recovery_by_day(counts, recovery)
    return [] if np.array_equal(after, time - recovered) else ["recovery_after"]


@dataclass(frozen=True)
class Cohort:
    """A validated patient-level cohort.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per patient in input order (after any documented dropping), with the canonical
        columns ``cit_bayes.cohort.schema.COHORT_COLUMNS``: input columns in canonical types, the
        ``synthetic`` flag (0/1), and the derived ``response``, ``delta_plt``,
        ``time_to_recovery``, ``recovered`` and ``recovery_after`` (the last day known
        without recovery).
    source : str
        File name (never a full path) or a description of the table.
    synthetic : bool
        True when the data are simulated or reconstructed (``synthetic`` column = 1).
    response_rule : str
        ``"any"`` or ``"day14"``: how ``response`` was derived.
    fingerprint : str
        SHA-256 of the canonical data (see :func:`fingerprint_frame`).
    dropped : pandas.DataFrame
        Rows dropped under ``missing="drop"`` or ``"impute"``, per arm and reason (columns
        ``arm``, ``reason``, ``n_dropped``); empty when none.
    notes : tuple of str
        Recodes made, columns ignored or absent, disagreements with an input ``response`` column
        (counts only, never identifiers).
    missing : str
        The missing-data policy the cohort was validated with. Under ``"impute"`` the baseline
        covariates may hold missing values (0/1 and ECOG columns are then float) until
        :func:`cit_bayes.cohort.impute.impute_cohort` fills them; :meth:`covariates` needs a
        complete cohort.
    extra_covariates : tuple of str
        Numeric columns beyond the schema read as covariates because the analysis plan names
        them (float columns of ``data`` after the canonical ones; see
        :func:`cit_bayes.cohort.validate_cohort`).
    group_column : str
        A column of labels beyond the schema read because the analysis plan groups patients by
        it (a centre; a text column of ``data``), or "" (none, or a schema column).
    unused_covariates : tuple of str
        Baseline covariates of the schema not read because the analysis plan does not use them
        (their columns in ``data`` hold missing values; :meth:`covariates` leaves them out).
    labs : LabSummary or None
        How a long-format laboratory file became the platelet counts and the recovery (the
        window rule and the counts each window took), or None for a wide file.
    days : tuple of int
        The planned days of the counts (columns ``plt_day<d>``; 0, 3, 7, 14 unless an analysis
        plan's ``[plt] planned_days`` names others); the recovery day runs from 1 to the last.
    rows : tuple of int
        The data row number (1-based, header excluded, as problems name rows) of each row of
        ``data`` in the file read, so that rows kept after dropping can be matched to the input
        (``cit-bayes weights`` writes them); empty when the cohort was not read from a table.
    provenance : dict or None
        How a synthetic cohort was made, from the sidecar ``<stem>.provenance.json`` beside the
        file (:mod:`cit_bayes.cohort.provenance`): the reconstruction plan's name and hash,
        the seed and draw, and every assumption the cohort rests on. None for a file without one.

    Examples
    --------
    >>> from cit_bayes._paths import data_dir
    >>> from cit_bayes.cohort import read_cohort
    >>> cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv")
    >>> cohort.n, cohort.synthetic, cohort.n_by_arm().tolist()
    (187, True, [64, 37, 36, 50])
    """

    data: pd.DataFrame
    source: str
    synthetic: bool
    response_rule: str
    fingerprint: str
    dropped: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: [] for c in DROPPED_COLUMNS})
    )
    notes: tuple[str, ...] = ()
    missing: str = "error"
    extra_covariates: tuple[str, ...] = ()
    group_column: str = ""
    unused_covariates: tuple[str, ...] = ()
    labs: LabSummary | None = None
    days: tuple[int, ...] = PLT_DAYS
    rows: tuple[int, ...] = ()
    provenance: dict | None = None

    @property
    def arms(self) -> tuple[str, ...]:
        """Arms present, in the order of the labels the cohort was read with (the plan's)."""
        return tuple(self.data["arm"].cat.categories)

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.data)

    def n_by_arm(self) -> pd.Series:
        """Patients per arm (a Series indexed by arm, canonical order, named ``n``)."""
        counts = self.data["arm"].value_counts(sort=False).reindex(self.arms, fill_value=0)
        counts.index = pd.Index(self.arms, name="arm")
        return counts.astype(int).rename("n")

    def n_dropped_by_arm(self) -> pd.Series:
        """Rows dropped per arm (zero for every arm when none were dropped)."""
        emptied = [arm for arm in dict.fromkeys(self.dropped["arm"]) if arm not in self.arms]
        arms = [*self.arms, *emptied]
        if self.dropped.empty:
            return pd.Series(0, index=pd.Index(arms, name="arm"), name="n_dropped", dtype=int)
        totals = self.dropped.groupby("arm", sort=False)["n_dropped"].sum()
        return totals.reindex(arms, fill_value=0).astype(int).rename("n_dropped")

    @property
    def covariate_columns(self) -> tuple[str, ...]:
        """The covariate columns of ``data`` the cohort was read with: the schema's baseline
        covariates the plan uses, then the further numeric ones.

        Examples
        --------
        >>> from cit_bayes._paths import data_dir
        >>> from cit_bayes.cohort import read_cohort
        >>> cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv")
        >>> cohort.covariate_columns[:3]
        ('sex', 'age', 'bmi')
        """
        read = (name for name in BASELINE_COVARIATES if name not in self.unused_covariates)
        return (*read, *self.extra_covariates)

    def covariates(self) -> pd.DataFrame:
        """Baseline covariates ready for a propensity model.

        Returns
        -------
        pandas.DataFrame
            Columns ``PLAN_COVARIATES`` (same index as ``data``): ``sex``, ``tumor_type``
            and ``stage`` as pandas Categorical with the categories of
            ``cit_bayes.cohort.schema.CATEGORICAL_COVARIATES`` (first = reference; ``stage``
            ordered I < II < III < IV), ``age`` and ``bmi`` float, ``ecog`` and the binary
            columns int, ``log_plt_day0`` (the natural log of the baseline count), then any
            :attr:`extra_covariates` as float.
        """
        read = [name for name in BASELINE_COVARIATES if name not in self.unused_covariates]
        frame = self.data.loc[:, read].copy()
        gaps = [name for name in self.covariate_columns if self.data[name].isna().any()]
        if gaps:
            raise CohortError(
                f"{self.source}: covariates with missing values ({', '.join(gaps)}), read "
                "with missing='impute': impute them first (cit_bayes.cohort.impute."
                "impute_cohort; cit-bayes run and fit do), or read with missing='drop'"
            )
        for name, categories in CATEGORICAL_COVARIATES.items():
            if name in read:
                frame[name] = pd.Categorical(
                    frame[name], categories=list(categories), ordered=categories == STAGES
                )
        for name in ("ecog", *BINARY_COVARIATES):
            if name in read:
                frame[name] = frame[name].astype(int)
        for name in ("age", "bmi"):
            if name in read:
                frame[name] = frame[name].astype(float)
        frame["log_plt_day0"] = np.log(self.data["plt_day0"].astype(float))
        for name in self.extra_covariates:
            frame[name] = self.data[name].astype(float)
        return frame

    def summary(self) -> pd.DataFrame:
        """Tidy per-arm summary (what ``cit-bayes validate`` prints): counts and shares only.

        Columns: ``arm``, ``n``, ``n_dropped``, ``missing_plt_day3``, ``missing_plt_day7``,
        ``missing_plt_day14``, ``missing_safety`` (patients with at least one safety outcome
        missing), ``responders``, ``response_rate``, ``recovered``, ``recovered_share``,
        ``median_recovery_day`` (among patients who recovered) and ``median_delta_plt``; a last
        row ``arm = "all"`` totals the arms.
        """
        dropped = self.n_dropped_by_arm()
        rows = []
        groups = [(arm, self.data[self.data["arm"] == arm]) for arm in self.arms]
        groups.append(("all", self.data))
        for arm, part in groups:
            n = len(part)
            recovered = part["recovered"] == 1
            row = {
                "arm": arm,
                "n": n,
                "n_dropped": int(dropped.sum() if arm == "all" else dropped.get(arm, 0)),
            }
            for column in plt_columns(self.days)[1:]:
                row[f"missing_{column}"] = int(part[column].isna().sum())
            row["missing_safety"] = int(part[list(SAFETY_OUTCOMES)].isna().any(axis=1).sum())
            row["responders"] = int(part["response"].sum())
            row["response_rate"] = float(part["response"].mean()) if n else math.nan
            row["recovered"] = int(recovered.sum())
            row["recovered_share"] = float(recovered.mean()) if n else math.nan
            row["median_recovery_day"] = (
                float(part.loc[recovered, "time_to_recovery"].median())
                if recovered.any()
                else math.nan
            )
            delta = part["delta_plt"].dropna()
            row["median_delta_plt"] = float(delta.median()) if len(delta) else math.nan
            rows.append(row)
        return pd.DataFrame(rows)
