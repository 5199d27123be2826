"""The CIT cohort's vocabulary: arm labels, the patient-level columns, units and allowed values.

This module holds the CIT specifics that the rest of the package refers to by name: the canonical
arms, the columns of a patient-level cohort (one row per patient), their units and plausible
ranges, and the constants of the paper's response rule. ``docs/cohort-schema.md`` is the
human-readable version of the same schema.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace

#: Canonical arm labels, in the order the paper prints them.
ARMS: tuple[str, ...] = ("rhTPO", "hetrombopag", "combination", "rhIL-11")

#: Baseline characteristics (Table 1 of the paper), in schema order.
BASELINE_COVARIATES: tuple[str, ...] = (
    "sex",
    "age",
    "bmi",
    "ecog",
    "tumor_type",
    "stage",
    "hepatic_metastasis",
    "bone_metastasis",
    "chemo_cycles_over5",
    "radiotherapy",
    "targeted_therapy",
)

#: Covariates derived from the cohort's columns, which an analysis plan may name beside the
#: baseline characteristics: the baseline platelet count on the log scale (``log(plt_day0)``;
#: ``plt_day0`` > 0 is checked on reading). It is the strongest prognostic factor, and the
#: response rule itself is relative to it.
DERIVED_COVARIATES: tuple[str, ...] = ("log_plt_day0",)

#: Every covariate an analysis plan may name.
PLAN_COVARIATES: tuple[str, ...] = BASELINE_COVARIATES + DERIVED_COVARIATES

#: The 0/1 baseline characteristics.
BINARY_COVARIATES: tuple[str, ...] = (
    "hepatic_metastasis",
    "bone_metastasis",
    "chemo_cycles_over5",
    "radiotherapy",
    "targeted_therapy",
)

SEXES: tuple[str, ...] = ("M", "F")
TUMOR_TYPES: tuple[str, ...] = (
    "gastrointestinal",
    "gynecological",
    "lung",
    "breast",
    "urinary",
    "other",
)
STAGES: tuple[str, ...] = ("I", "II", "III", "IV")

#: Categorical baseline characteristics and their categories (first = reference level).
CATEGORICAL_COVARIATES: dict[str, tuple[str, ...]] = {
    "sex": SEXES,
    "tumor_type": TUMOR_TYPES,
    "stage": STAGES,
}

#: Days on which the platelet count is recorded (the CIT study's; an analysis plan's
#: ``[plt] planned_days`` may name others: :func:`check_planned_days`), and the matching columns.
PLT_DAYS: tuple[int, ...] = (0, 3, 7, 14)
PLT_COLUMNS: tuple[str, ...] = tuple(f"plt_day{day}" for day in PLT_DAYS)
POST_BASELINE_PLT_COLUMNS: tuple[str, ...] = PLT_COLUMNS[1:]
#: The longest follow-up a plan's planned days may reach (8 weeks: two 28-day cycles).
MAX_PLANNED_DAY: int = 56
#: The most planned days (baseline included).
MAX_PLANNED_DAYS: int = 12

#: Canonical columns of a long-format laboratory file (``[labs]`` of the column mapping
#: renames them): the patient, the day from the start of treatment or the date, the count
#: (:mod:`cit_bayes.cohort.labs`).
LAB_COLUMNS: tuple[str, ...] = ("patient_id", "day", "date", "platelets")
#: The cohort file's column with each patient's date of treatment start (day 0), needed when
#: the laboratory file gives dates (``[labs] start`` of the mapping renames it).
START_COLUMN = "treatment_start"

#: Safety outcomes (Tables 8 and 9 of the paper), 0/1, may be missing.
SAFETY_OUTCOMES: tuple[str, ...] = (
    "transfusion",
    "ae_transaminase",
    "ae_bilirubin",
    "ae_fatigue",
    "ae_headache",
)

#: Columns the package derives; an input ``response`` column is only cross-checked.
DERIVED_COLUMNS: tuple[str, ...] = (
    "response",
    "delta_plt",
    "time_to_recovery",
    "recovered",
    "recovery_after",
)

#: Length of follow-up (days of treatment and observation) and the thresholds of the paper.
FOLLOW_UP_DAYS: int = 14
RECOVERY_THRESHOLD: float = 100.0  # x10^9/L: recovery and response criterion (1)
RESPONSE_RISE: float = 50.0  # x10^9/L above baseline: response criterion (2)
RESPONSE_FOLD: float = 2.0  # times baseline: response criterion (3)
PLT_MAX: float = 2000.0  # x10^9/L: larger counts are implausible
AGE_RANGE: tuple[float, float] = (18.0, 100.0)
BMI_RANGE: tuple[float, float] = (10.0, 70.0)
ECOG_RANGE: tuple[int, int] = (0, 4)

RESPONSE_RULES: tuple[str, ...] = ("any", "day14", "last")
MISSING_POLICIES: tuple[str, ...] = ("error", "drop", "impute")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the patient-level schema.

    Attributes
    ----------
    name : str
        Canonical column name.
    kind : str
        ``"id"``, ``"arm"``, ``"category"``, ``"number"``, ``"integer"``, ``"binary"``,
        ``"plt"`` or ``"day"``.
    required : bool
        Whether the column must be present in the input.
    when_missing : str
        What an empty cell means: ``"error"`` (never allowed), ``"covariate"`` (an error, or the
        row is dropped under ``missing="drop"``) or ``"allowed"``.
    unit : str
        Unit, or ``""``.
    allowed : tuple of str, optional
        Allowed values of a categorical column.
    low, high : float, optional
        Inclusive plausible range of a numeric column.
    description : str
        What the column holds.

    Examples
    --------
    >>> spec = ColumnSpec("age", "number", True, "covariate", "years", low=18.0, high=100.0)
    >>> spec.kind, spec.unit, spec.high, spec.allowed
    ('number', 'years', 100.0, None)
    """

    name: str
    kind: str
    required: bool
    when_missing: str
    unit: str = ""
    allowed: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    description: str = ""


def _binary(name: str, description: str, *, required: bool, when_missing: str) -> ColumnSpec:
    return ColumnSpec(name, "binary", required, when_missing, description=description)


#: Every input column, in schema order.
COLUMN_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("patient_id", "id", True, "error", description="unique patient identifier"),
    ColumnSpec("arm", "arm", True, "error", allowed=ARMS, description="treatment arm"),
    ColumnSpec("sex", "category", True, "covariate", allowed=SEXES, description="sex"),
    ColumnSpec("age", "number", True, "covariate", "years", None, *AGE_RANGE, "age at baseline"),
    ColumnSpec("bmi", "number", True, "covariate", "kg/m²", None, *BMI_RANGE, "body-mass index"),
    ColumnSpec(
        "ecog", "integer", True, "covariate", "", None, *ECOG_RANGE, "ECOG performance status"
    ),
    ColumnSpec(
        "tumor_type", "category", True, "covariate", allowed=TUMOR_TYPES, description="tumour type"
    ),
    ColumnSpec("stage", "category", True, "covariate", allowed=STAGES, description="tumour stage"),
    _binary("hepatic_metastasis", "hepatic metastasis", required=True, when_missing="covariate"),
    _binary("bone_metastasis", "bone metastasis", required=True, when_missing="covariate"),
    _binary(
        "chemo_cycles_over5",
        "more than 5 chemotherapy cycles (the paper's '>5 cycles')",
        required=True,
        when_missing="covariate",
    ),
    _binary("radiotherapy", "concurrent radiotherapy", required=True, when_missing="covariate"),
    _binary(
        "targeted_therapy", "concurrent targeted therapy", required=True, when_missing="covariate"
    ),
    ColumnSpec("plt_day0", "plt", True, "covariate", "x10^9/L", None, 0.0, PLT_MAX, "baseline PLT"),
    ColumnSpec("plt_day3", "plt", True, "allowed", "x10^9/L", None, 0.0, PLT_MAX, "PLT day 3"),
    ColumnSpec("plt_day7", "plt", True, "allowed", "x10^9/L", None, 0.0, PLT_MAX, "PLT day 7"),
    ColumnSpec("plt_day14", "plt", True, "allowed", "x10^9/L", None, 0.0, PLT_MAX, "PLT day 14"),
    ColumnSpec(
        "recovery_day",
        "day",
        True,
        "allowed",
        "day",
        None,
        1,
        FOLLOW_UP_DAYS,
        "first day with PLT >= 100; empty when not reached by day 14",
    ),
    ColumnSpec(
        "recovery_after",
        "day",
        False,
        "allowed",
        "day",
        None,
        0,
        FOLLOW_UP_DAYS,
        "last day known without recovery: before recovery_day, the last count below 100 "
        "(interval-censored recovery); without recovery, the last day followed",
    ),
    _binary("transfusion", "platelet transfusion", required=False, when_missing="allowed"),
    _binary("ae_transaminase", "transaminase elevation", required=False, when_missing="allowed"),
    _binary("ae_bilirubin", "hyperbilirubinaemia", required=False, when_missing="allowed"),
    _binary("ae_fatigue", "fatigue", required=False, when_missing="allowed"),
    _binary("ae_headache", "headache", required=False, when_missing="allowed"),
    _binary(
        "response",
        "response as recorded in the input (only cross-checked against the derived one)",
        required=False,
        when_missing="allowed",
    ),
    _binary(
        "synthetic",
        "1 on every row of a simulated or reconstructed cohort",
        required=False,
        when_missing="error",
    ),
)


#: The name of a planned day's count column (:func:`plt_columns`); group 1 is the day.
PLANNED_DAY_COLUMN = re.compile(r"^plt_day(\d+)$")


def plt_columns(days: tuple[int, ...] = PLT_DAYS) -> tuple[str, ...]:
    """The count columns of planned days: ``plt_day<d>``.

    Examples
    --------
    >>> plt_columns((0, 5, 21))
    ('plt_day0', 'plt_day5', 'plt_day21')
    """
    return tuple(f"plt_day{day}" for day in days)


def check_planned_days(days) -> tuple[int, ...]:
    """The planned days of the platelet counts, checked: whole numbers, day 0 (the baseline)
    first, increasing, at least one after it, the last from 3 to :data:`MAX_PLANNED_DAY`, at
    most :data:`MAX_PLANNED_DAYS` in all.

    Raises
    ------
    ValueError
        Naming what is wrong.

    Examples
    --------
    >>> check_planned_days([0, 5, 10, 21])
    (0, 5, 10, 21)
    >>> check_planned_days([0, 7, 3])
    Traceback (most recent call last):
    ...
    ValueError: planned days must start at 0 (the baseline) and increase, got [0, 7, 3]
    """
    values = list(days)
    if any(isinstance(day, bool) or not isinstance(day, int) for day in values):
        raise ValueError(f"planned days must be whole numbers of days, got {values}")
    if not values or values[0] != 0 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"planned days must start at 0 (the baseline) and increase, got {values}")
    if len(values) < 2 or len(values) > MAX_PLANNED_DAYS:
        raise ValueError(
            f"planned days: the baseline and 1 to {MAX_PLANNED_DAYS - 1} days after it, "
            f"got {values}"
        )
    if not 3 <= values[-1] <= MAX_PLANNED_DAY:
        raise ValueError(
            f"planned days: the last must lie from day 3 to day {MAX_PLANNED_DAY}, got {values}"
        )
    return tuple(values)


def column_specs(days: tuple[int, ...] = PLT_DAYS) -> tuple[ColumnSpec, ...]:
    """The input columns for counts on other planned days: :data:`COLUMN_SPECS` with a count
    column per planned day, and ``recovery_day``/``recovery_after`` up to the last one.

    Examples
    --------
    >>> specs = column_specs((0, 5, 21))
    >>> [s.name for s in specs if s.kind == "plt"], column_spec("recovery_day").high
    (['plt_day0', 'plt_day5', 'plt_day21'], 14)
    >>> next(s for s in specs if s.name == "recovery_day").high
    21
    """
    days = check_planned_days(days)
    if days == PLT_DAYS:
        return COLUMN_SPECS
    last = days[-1]
    counts = [
        ColumnSpec(
            name,
            "plt",
            True,
            "covariate" if day == 0 else "allowed",
            "x10^9/L",
            None,
            0.0,
            PLT_MAX,
            "baseline PLT" if day == 0 else f"PLT day {day}",
        )
        for day, name in zip(days, plt_columns(days), strict=True)
    ]
    out: list[ColumnSpec] = []
    for spec in COLUMN_SPECS:
        if spec.kind == "plt":
            if spec.name == "plt_day0":
                out.extend(counts)
            continue
        if spec.name == "recovery_day":
            spec = replace(
                spec,
                high=last,
                description=f"first day with PLT >= 100; empty when not reached by day {last}",
            )
        elif spec.name == "recovery_after":
            spec = replace(spec, high=last)
        out.append(spec)
    return tuple(out)


def cohort_columns(days: tuple[int, ...] = PLT_DAYS) -> tuple[str, ...]:
    """The columns of ``Cohort.data`` for counts on these planned days (:data:`COHORT_COLUMNS`
    for the study's).

    Examples
    --------
    >>> [c for c in cohort_columns((0, 5, 21)) if c.startswith("plt_")]
    ['plt_day0', 'plt_day5', 'plt_day21']
    """
    names = [spec.name for spec in column_specs(days)]
    return (
        tuple(name for name in names if name not in ("response", "synthetic", "recovery_after"))
        + ("synthetic",)
        + DERIVED_COLUMNS
    )


INPUT_COLUMNS: tuple[str, ...] = tuple(spec.name for spec in COLUMN_SPECS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(spec.name for spec in COLUMN_SPECS if spec.required)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(spec.name for spec in COLUMN_SPECS if not spec.required)
_SPECS_BY_NAME = {spec.name: spec for spec in COLUMN_SPECS}

#: Columns of ``Cohort.data``, in order: the input schema (without the cross-checked input
#: ``response`` and ``recovery_after``, which is derived when absent), the synthetic flag,
#: then the derived columns.
COHORT_COLUMNS: tuple[str, ...] = (
    tuple(name for name in INPUT_COLUMNS if name not in ("response", "synthetic", "recovery_after"))
    + ("synthetic",)
    + DERIVED_COLUMNS
)


def column_spec(name: str) -> ColumnSpec:
    """Return the :class:`ColumnSpec` of a canonical column name (KeyError if unknown).

    Examples
    --------
    >>> column_spec("plt_day0").unit, column_spec("stage").allowed
    ('x10^9/L', ('I', 'II', 'III', 'IV'))
    """
    return _SPECS_BY_NAME[name]


__all__ = [
    "AGE_RANGE",
    "ARMS",
    "BASELINE_COVARIATES",
    "BINARY_COVARIATES",
    "BMI_RANGE",
    "CATEGORICAL_COVARIATES",
    "COHORT_COLUMNS",
    "COLUMN_SPECS",
    "ColumnSpec",
    "DERIVED_COLUMNS",
    "ECOG_RANGE",
    "FOLLOW_UP_DAYS",
    "INPUT_COLUMNS",
    "LAB_COLUMNS",
    "MAX_PLANNED_DAY",
    "MAX_PLANNED_DAYS",
    "MISSING_POLICIES",
    "OPTIONAL_COLUMNS",
    "PLT_COLUMNS",
    "PLANNED_DAY_COLUMN",
    "check_planned_days",
    "cohort_columns",
    "column_specs",
    "plt_columns",
    "PLT_DAYS",
    "DERIVED_COVARIATES",
    "PLAN_COVARIATES",
    "PLT_MAX",
    "POST_BASELINE_PLT_COLUMNS",
    "RECOVERY_THRESHOLD",
    "REQUIRED_COLUMNS",
    "RESPONSE_FOLD",
    "RESPONSE_RISE",
    "RESPONSE_RULES",
    "SAFETY_OUTCOMES",
    "SEXES",
    "STAGES",
    "START_COLUMN",
    "TUMOR_TYPES",
    "column_spec",
]
