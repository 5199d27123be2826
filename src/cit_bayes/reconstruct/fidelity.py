"""The fidelity report of a reconstructed cohort: every published target against the cohort.

Every statistic is recomputed from the cohort table itself (after the package's validation,
which derives ``response`` with the package's own rule), never taken from the internal state of
the reconstruction, so the report checks the product and not the process.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cit_bayes.reconstruct.plan import ReconstructionPlan
from cit_bayes.reconstruct.rules import THRESHOLD, TrajectoryChecker
from cit_bayes.reconstruct.targets import ADVERSE_EVENTS, PublishedTargets

__all__ = ["FIDELITY_COLUMNS", "fidelity_report", "format_fidelity", "recovery_violations"]

FIDELITY_COLUMNS: tuple[str, ...] = (
    "check",
    "source",
    "arm",
    "statistic",
    "published",
    "reconstructed",
    "tolerance",
    "tolerance_rule",
    "gate",
    "passed",
)

_DAYS = (0, 3, 7, 14)


def recovery_violations(data: pd.DataFrame) -> int:
    """Rows whose ``recovery_day`` contradicts the recorded counts (independent check).

    A row contradicts when a count >= 100 is recorded on a day before its recovery day (or
    with no recovery day at all), or when the first recorded count on or after the recovery
    day is below 100 while no later count reaches 100 either.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"plt_day3": [60, 120], "plt_day7": [110, 130], "plt_day14": [150, 140],
    ...                      "recovery_day": [7, None]})  # row 2: >= 100 without a recovery day
    >>> recovery_violations(data)
    1
    """
    bad = 0
    for row in data.itertuples(index=False):
        counts = {day: getattr(row, f"plt_day{day}") for day in _DAYS[1:]}
        recovery = row.recovery_day
        has_recovery = recovery is not None and not pd.isna(recovery)
        for day, value in counts.items():
            if not pd.isna(value) and value >= THRESHOLD and (not has_recovery or recovery > day):
                bad += 1
                break
        else:
            if has_recovery and not any(
                not pd.isna(v) and v >= THRESHOLD for d, v in counts.items() if d >= recovery
            ):
                bad += 1
    return bad


def _spss_quartiles(values: np.ndarray) -> np.ndarray:
    return np.quantile(np.asarray(values, dtype=float), [0.25, 0.5, 0.75], method="weibull")


def _row(check, source, arm, statistic, published, reconstructed, tolerance=0.0, rule="exact",
         gate=True) -> dict:  # fmt: skip
    """One check: ``tolerance`` absolute, or ``(fraction, base)`` for a relative one."""
    if isinstance(tolerance, tuple):
        fraction, base = tolerance
        tolerance = fraction * abs(base)
    return {
        "check": check,
        "source": source,
        "arm": arm,
        "statistic": statistic,
        "published": np.nan if published is None else float(published),
        "reconstructed": float(reconstructed),
        "tolerance": float(tolerance),
        "tolerance_rule": rule,
        "gate": gate,
        "passed": published is None or bool(abs(reconstructed - published) <= tolerance + 1e-9),
    }


def _arm_rows(arm: str, part: pd.DataFrame, target, tol, recovered: int) -> list[dict]:
    """Every check of one arm, in the report's order: (check, source, statistic, published,
    reconstructed[, tolerance, rule]) as rows of one table."""
    platelets = target.platelets
    ages = {c: part[c].astype(float) for c in ("age", "bmi")}
    recovery = part["recovery_day"].dropna().astype(float)
    events = list(ADVERSE_EVENTS.values())
    near = {"mean": (tol.age_bmi_mean, f"±{tol.age_bmi_mean:g}"),
            "sd": (tol.age_bmi_sd, f"±{tol.age_bmi_sd:g}")}  # fmt: skip
    table = [("n", "Table headers", "patients", target.n, len(part))]
    table += [
        (f"table1.{column}.{value}", "Table 1", f"{column} = {value} (n)", count,
         int((part[column].astype(str) == str(value)).sum()))
        for column, levels in target.categorical.items() for value, count in levels.items()
    ]  # fmt: skip
    for column, mean, sd in (("age", target.age_mean, target.age_sd),
                             ("bmi", target.bmi_mean, target.bmi_sd)):  # fmt: skip
        table += [
            (f"table1.{column}.mean", "Table 1", f"{column} mean", mean, ages[column].mean(),
             *near["mean"]),
            (f"table1.{column}.sd", "Table 1", f"{column} SD", sd, ages[column].std(ddof=1),
             *near["sd"]),
        ]  # fmt: skip
    table.append(("table2.responders", "Table 2", "responders (package rule)", target.responders,
                  int(part["response"].sum())))  # fmt: skip
    for t, day in enumerate(_DAYS):
        values = part[f"plt_day{day}"].astype(float)
        table += [
            (f"table4.mean.day{day}", "Table 4", f"PLT day {day} mean", platelets.mean[t],
             values.mean(), (tol.plt_mean_relative, platelets.mean[t]),
             f"±{100 * tol.plt_mean_relative:g}% of published"),
            (f"table4.sd.day{day}", "Table 4", f"PLT day {day} SD (± x sqrt(n))", platelets.sd[t],
             values.std(ddof=1), (tol.plt_sd_relative, platelets.sd[t]),
             f"±{100 * tol.plt_sd_relative:g}% of published"),
        ]  # fmt: skip
    table.append(("cit.baseline", "CIT definition", "patients with baseline PLT >= 100", 0,
                  int((part["plt_day0"] >= THRESHOLD).sum())))  # fmt: skip
    delta = (part["plt_day14"] - part["plt_day0"]).astype(float)
    table += [
        (f"table6.delta.{name}", "Table 6", f"ΔPLT {name} (SPSS)", published, value,
         tol.delta_quartile, f"±{tol.delta_quartile:g}")
        for name, value, published in zip(("P25", "median", "P75"), _spss_quartiles(delta),
                                          platelets.delta_quartiles, strict=True)
    ]  # fmt: skip
    table += [
        ("table6.recovery.mean", "Table 6", "recovery day mean (recovered)", target.recovery_mean,
         recovery.mean() if len(recovery) else math.nan, tol.recovery_mean,
         f"±{tol.recovery_mean:g}"),
        ("table6.recovery.sd", "Table 6", "recovery day SD (recovered)", target.recovery_sd,
         recovery.std(ddof=1) if len(recovery) > 1 else math.nan, tol.recovery_sd,
         f"±{tol.recovery_sd:g}"),
        ("plan.recovered", "plan (assumption)", "patients recovered (>= 100 by day 14)",
         recovered, len(recovery)),
        ("table8.transfusion", "Table 8", "patients transfused", target.transfusions,
         int(part["transfusion"].sum())),
        ("plan.transfusion_nonresponders", "Methods: transfusion", "transfused responders", 0,
         int(((part["transfusion"] == 1) & (part["response"] == 1)).sum())),
    ]  # fmt: skip
    table += [
        (f"table9.{block}", "Table 9", f"{column} (n)", target.adverse_events[column],
         int(part[column].sum()))
        for block, column in ADVERSE_EVENTS.items()
    ]  # fmt: skip
    table.append(("table9.any", "Table 9", "total adverse reactions (patients)",
                  target.any_adverse_event, int((part[events].sum(axis=1) > 0).sum())))  # fmt: skip
    return [_row(f"{check}.{arm}", source, arm, *rest) for check, source, *rest in table]


def _broken_trajectories(data: pd.DataFrame, plan: ReconstructionPlan) -> int:
    """Rows whose counts break the plan's trajectory rules (or miss a count)."""
    checker = TrajectoryChecker(plan.trajectory)
    broken = 0
    for row in data.itertuples(index=False):
        raw = [getattr(row, f"plt_day{day}") for day in _DAYS]
        if any(pd.isna(value) for value in raw):  # a reconstructed cohort has every count
            broken += 1
            continue
        counts = [int(value) for value in raw]
        recovery = row.recovery_day
        has_recovery = recovery is not None and not pd.isna(recovery)
        outcome = 2 if has_recovery else (1 if row.response == 1 else 0)
        broken += not checker.feasible(counts, outcome, int(recovery) if has_recovery else 0)
    return broken


def fidelity_report(
    data: pd.DataFrame,
    targets: PublishedTargets,
    plan: ReconstructionPlan,
    *,
    validated: bool,
) -> pd.DataFrame:
    """Compare a reconstructed cohort with every published target.

    Parameters
    ----------
    data : pandas.DataFrame
        ``Cohort.data`` of the validated cohort (with the derived ``response`` column).
    targets : PublishedTargets
    plan : ReconstructionPlan
        For the trajectory rules and the stated number of recovered patients.
    validated : bool
        Whether the cohort passed :func:`cit_bayes.cohort.validate_cohort`.

    Returns
    -------
    pandas.DataFrame
        One row per check, columns ``FIDELITY_COLUMNS``: ``gate`` says whether the check decides
        pass/fail (extras such as the overall age quartiles are reported with ``gate=False``),
        ``passed`` whether it is met.

    Examples
    --------
    >>> from cit_bayes._paths import data_dir
    >>> from cit_bayes.cohort import read_cohort
    >>> from cit_bayes.reconstruct import load_reconstruction_plan, published_targets
    >>> cohort = read_cohort(data_dir() / "reconstructed" / "cohort.csv")  # the shipped cohort
    >>> report = fidelity_report(cohort.data, published_targets(), load_reconstruction_plan(),
    ...                          validated=True)
    >>> report.shape, bool(report.loc[report["gate"], "passed"].all())
    ((199, 10), True)
    """
    arm_column = data["arm"].astype(str)
    rows = [
        row
        for arm, target in targets.arms.items()
        for row in _arm_rows(
            arm, data[arm_column == arm], target, targets.tolerances, plan.recovered[arm]
        )
    ]
    synthetic = data["synthetic"] if "synthetic" in data.columns else pd.Series(dtype=float)
    consistency = [  # every row of the cohort
        ("validation", "cohort validation", "cohort passes validate_cohort", 1, int(validated)),
        ("recovery", "cohort schema", "rows whose recovery_day contradicts the counts", 0,
         recovery_violations(data)),
        ("trajectory_rules", "plan [trajectory]", "rows breaking the trajectory rules", 0,
         _broken_trajectories(data, plan)),
        ("synthetic_flag", "issue 5", "rows not flagged synthetic", 0,
         int((synthetic != 1).sum()) if len(synthetic) else len(data)),
    ]  # fmt: skip
    rows += [_row(f"consistency.{key}", source, "all", *rest) for key, source, *rest in consistency]
    quartiles = _spss_quartiles(data["age"].astype(float))
    rows += [  # reported, not gates
        _row(f"text.age.{name}", "Results text", "all", f"age {name} (all patients)", published,
             value, 0, "exact (extra)", gate=False)
        for name, value, published in zip(("P25", "median", "P75"), quartiles,
                                          targets.overall_age_quartiles, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(FIDELITY_COLUMNS))


def format_fidelity(report: pd.DataFrame, *, header: str) -> str:
    """A plain-text rendering of a fidelity report, failures first, with a summary line.

    Examples
    --------
    >>> import pandas as pd
    >>> row = dict(check="n", source="Table 1", arm="rhTPO", statistic="patients", published=64,
    ...            reconstructed=64, tolerance=0.0, tolerance_rule="exact", gate=True, passed=True)
    >>> format_fidelity(pd.DataFrame([row]), header="demo").splitlines()[2]
    '1 gated checks: 1 passed, 0 failed; 0 extra check(s) reported.'
    """
    lines = [header, ""]
    gates = report[report["gate"]]
    failed = gates[~gates["passed"]]
    lines.append(
        f"{len(gates)} gated checks: {len(gates) - len(failed)} passed, {len(failed)} failed; "
        f"{int((~report['gate']).sum())} extra check(s) reported."
    )
    lines.append("")
    shown = pd.concat([failed, report.drop(failed.index)])
    width = max(len(s) for s in shown["statistic"]) if len(shown) else 10
    lines.append(
        f"{'result':6}  {'source':20} {'arm':11} {'statistic':{width}}  {'published':>10} {'reconstructed':>13}  tolerance"
    )
    for row in shown.itertuples(index=False):
        result = ("PASS" if row.passed else "FAIL") if row.gate else "info"
        published = "" if pd.isna(row.published) else f"{row.published:.4g}"
        lines.append(
            f"{result:6}  {row.source[:20]:20} {row.arm:11} {row.statistic:{width}}  "
            f"{published:>10} {row.reconstructed:>13.4g}  {row.tolerance_rule}"
        )
    return "\n".join(lines)
