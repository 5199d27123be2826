"""The published targets a reconstructed cohort must meet, read from the paper's tables.

Every number here comes from ``data/published/`` (see its README): Table 1 (characteristics),
Table 2 (responders), Table 4 (platelet counts; the ± is read as a standard error, so the SD
target is ± x sqrt(n)), Table 6 (recovery day, ΔPLT), Table 8 (transfusions), Table 9 (adverse
events) and the Results text (overall median age and IQR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from cit_bayes.cohort.schema import ARMS
from cit_bayes.config import setting
from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.tables import load_tables

__all__ = [
    "ADVERSE_EVENTS",
    "CATEGORICAL_TARGETS",
    "ArmPlateletTargets",
    "ArmTargets",
    "PublishedTargets",
    "Tolerances",
    "published_targets",
]

#: Table 9 blocks and the cohort columns they count.
ADVERSE_EVENTS: dict[str, str] = {
    "transaminase": "ae_transaminase",
    "bilirubin": "ae_bilirubin",
    "fatigue": "ae_fatigue",
    "headache": "ae_headache",
}

#: Table 1 categorical blocks: cohort column and the map from printed level to cohort value.
CATEGORICAL_TARGETS: dict[str, tuple[str, dict[str, object]]] = {
    "sex": ("sex", {"male": "M", "female": "F"}),
    "ecog": ("ecog", {"0": 0, "1": 1, "2": 2}),
    "tumor_type": (
        "tumor_type",
        {
            level: level
            for level in ("gastrointestinal", "gynecological", "lung", "breast", "urinary", "other")
        },
    ),
    "stage": ("stage", {stage: stage for stage in ("I", "II", "III", "IV")}),
    "hepatic_metastasis": ("hepatic_metastasis", {"yes": 1}),
    "bone_metastasis": ("bone_metastasis", {"yes": 1}),
    "chemo_cycles": ("chemo_cycles_over5", {"over5": 1, "under5": 0}),
    "radiotherapy": ("radiotherapy", {"yes": 1}),
    "targeted_therapy": ("targeted_therapy", {"yes": 1}),
}


@dataclass(frozen=True)
class Tolerances:
    """Tolerances of the fidelity gates (the plan's ``[tolerances]``).

    Attributes
    ----------
    age_bmi_mean, age_bmi_sd : float
        Absolute tolerance on the per-arm mean and SD of age and BMI (Table 1).
    plt_mean_relative, plt_sd_relative : float
        Relative tolerance on the per-arm mean and SD of each platelet count (Table 4).
    delta_quartile : float
        Absolute tolerance on the ΔPLT median and quartiles (Table 6), x10^9/L.
    recovery_mean, recovery_sd : float
        Absolute tolerance on the mean and SD of the recovery day among recovered (Table 6).
    aim_fraction : float
        The search stops when every target is within this fraction of its tolerance.

    Examples
    --------
    >>> tolerances = Tolerances(plt_sd_relative=0.05)
    >>> tolerances.plt_sd_relative, tolerances.aim_fraction
    (0.05, 0.3)
    """

    age_bmi_mean: float = setting(0.05, low=0.0, high=1e6)
    age_bmi_sd: float = setting(0.05, low=0.0, high=1e6)
    plt_mean_relative: float = setting(0.01, low=0.0, high=1e6)
    plt_sd_relative: float = setting(0.10, low=0.0, high=1e6)
    delta_quartile: float = setting(5.0, low=0.0, high=1e6)
    recovery_mean: float = setting(0.1, low=0.0, high=1e6)
    recovery_sd: float = setting(0.2, low=0.0, high=1e6)
    aim_fraction: float = setting(0.3, low=0.0, high=1.0, open_low=True)


@dataclass(frozen=True)
class ArmPlateletTargets:
    """Published platelet targets of one arm.

    Attributes
    ----------
    n : int
        Arm size.
    mean, sd : tuple of 4 float
        Mean and SD of the count on days 0, 3, 7, 14 (SD = printed ± x sqrt(n)).
    delta_quartiles : tuple of 3 float
        P25, median, P75 of ΔPLT (day 14 minus day 0), SPSS definition.
    mean_tolerance_relative, sd_tolerance_relative, quartile_tolerance, aim_fraction : float
        From :class:`Tolerances`.

    Examples
    --------
    >>> target = ArmPlateletTargets(n=3, mean=(50.0, 60.0, 70.0, 80.0), sd=(10.0,) * 4,
    ...                             delta_quartiles=(20.0, 30.0, 40.0))
    >>> target.quartile_tolerance, target.sd_tolerance_relative
    (5.0, 0.1)
    """

    n: int
    mean: tuple[float, float, float, float]
    sd: tuple[float, float, float, float]
    delta_quartiles: tuple[float, float, float]
    mean_tolerance_relative: float = 0.01
    sd_tolerance_relative: float = 0.10
    quartile_tolerance: float = 5.0
    aim_fraction: float = 0.3


@dataclass(frozen=True)
class ArmTargets:
    """Everything the paper publishes about one arm.

    Attributes
    ----------
    arm : str
    n : int
    categorical : dict
        Cohort column -> {cohort value: count}, from Table 1 (binary columns: value 1 only).
    age_mean, age_sd, bmi_mean, bmi_sd : float
        Table 1.
    responders : int
        Table 2.
    platelets : ArmPlateletTargets
        Table 4 and the ΔPLT row of Table 6.
    recovery_mean, recovery_sd : float
        Table 6 (mean ± SD of the recovery day).
    transfusions : int
        Table 8.
    adverse_events : dict
        Cohort column -> patients with the event (Table 9).
    any_adverse_event : int
        Patients with at least one event ("total adverse reactions", Table 9).

    Examples
    --------
    >>> arm = published_targets().arms["combination"]
    >>> arm.n, arm.responders, arm.categorical["sex"]["F"]
    (36, 34, 16)
    """

    arm: str
    n: int
    categorical: dict[str, dict[object, int]]
    age_mean: float
    age_sd: float
    bmi_mean: float
    bmi_sd: float
    responders: int
    platelets: ArmPlateletTargets
    recovery_mean: float
    recovery_sd: float
    transfusions: int
    adverse_events: dict[str, int]
    any_adverse_event: int


@dataclass(frozen=True)
class PublishedTargets:
    """The published targets of every arm, plus overall statements of the text.

    Examples
    --------
    >>> targets = published_targets()
    >>> list(targets.arms), targets.overall_age_quartiles
    (['rhTPO', 'hetrombopag', 'combination', 'rhIL-11'], (52.0, 60.0, 66.0))
    """

    arms: dict[str, ArmTargets]
    tolerances: Tolerances
    overall_age_quartiles: tuple[float, float, float]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _cell(frame: pd.DataFrame, block: str, arm: str, level: str | None = None) -> pd.Series:
    rows = frame[(frame["block"] == block) & (frame["arm"] == arm)]
    if level is not None:
        rows = rows[rows["level"] == level]
    if len(rows) != 1:
        raise PublishedDataError(f"expected one cell for {block}/{level}/{arm}, found {len(rows)}")
    return rows.iloc[0]


def published_targets(
    tables: dict[str, pd.DataFrame] | None = None, tolerances: Tolerances | None = None
) -> PublishedTargets:
    """Collect the reconstruction targets from the published tables.

    Parameters
    ----------
    tables : dict of DataFrame, optional
        As returned by :func:`cit_bayes.paper.load_tables` (loaded when omitted).
    tolerances : Tolerances, optional
        Gate tolerances (defaults when omitted).

    Returns
    -------
    PublishedTargets

    Raises
    ------
    PublishedDataError
        If a needed cell is missing or a printed count set is inconsistent with the arm size.

    Examples
    --------
    >>> targets = published_targets()
    >>> [arm.responders for arm in targets.arms.values()]
    [45, 26, 34, 33]
    >>> round(targets.arms["rhTPO"].platelets.sd[0], 2)  # day-0 SD: printed ± x sqrt(64)
    13.36
    """
    tables = load_tables() if tables is None else tables
    tol = tolerances or Tolerances()
    t1 = tables["table1_baseline"]
    arms: dict[str, ArmTargets] = {}
    for arm in ARMS:
        n = int(_cell(tables["table2_response"], "response", arm)["n_arm"])
        categorical: dict[str, dict[object, int]] = {}
        for block, (column, levels) in CATEGORICAL_TARGETS.items():
            counts = {
                value: int(_cell(t1, block, arm, level)["count"]) for level, value in levels.items()
            }
            if len(levels) > 1 and sum(counts.values()) != n:  # a full set of levels
                raise PublishedDataError(f"Table 1 {block} counts of {arm} do not sum to {n}")
            if column == "chemo_cycles_over5":  # binary column: keep the count of 1 only
                counts = {1: counts[1]}
            categorical[column] = counts
        plt_rows = [_cell(tables["table4_plt"], "plt", arm, f"day{d}") for d in (0, 3, 7, 14)]
        delta = _cell(tables["table6_recovery_delta"], "delta_plt", arm)
        recovery = _cell(tables["table6_recovery_delta"], "recovery_days", arm)
        platelets = ArmPlateletTargets(
            n=n,
            mean=tuple(float(r["mean"]) for r in plt_rows),
            sd=tuple(float(r["plusminus"]) * math.sqrt(n) for r in plt_rows),
            delta_quartiles=(float(delta["q1"]), float(delta["median"]), float(delta["q3"])),
            mean_tolerance_relative=tol.plt_mean_relative,
            sd_tolerance_relative=tol.plt_sd_relative,
            quartile_tolerance=tol.delta_quartile,
            aim_fraction=tol.aim_fraction,
        )
        t9 = tables["table9_adverse_events"]
        arms[arm] = ArmTargets(
            arm=arm,
            n=n,
            categorical=categorical,
            age_mean=float(_cell(t1, "age", arm)["mean"]),
            age_sd=float(_cell(t1, "age", arm)["plusminus"]),
            bmi_mean=float(_cell(t1, "bmi", arm)["mean"]),
            bmi_sd=float(_cell(t1, "bmi", arm)["plusminus"]),
            responders=int(_cell(tables["table2_response"], "response", arm)["count"]),
            platelets=platelets,
            recovery_mean=float(recovery["mean"]),
            recovery_sd=float(recovery["plusminus"]),
            transfusions=int(_cell(tables["table8_transfusion"], "transfusion", arm)["count"]),
            adverse_events={
                column: int(_cell(t9, block, arm)["count"])
                for block, column in ADVERSE_EVENTS.items()
            },
            any_adverse_event=int(_cell(t9, "any_ae", arm)["count"]),
        )
    text = tables["text_statements"].set_index("quantity")["value"]
    quartiles = (float(text["age_q1"]), float(text["median_age"]), float(text["age_q3"]))
    return PublishedTargets(arms=arms, tolerances=tol, overall_age_quartiles=quartiles)
