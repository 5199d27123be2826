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
    """
    tol = targets.tolerances
    rows: list[dict] = []

    def add(check, source, arm, statistic, published, reconstructed, tolerance, rule, gate=True):
        if isinstance(tolerance, tuple):  # relative tolerance: (fraction, base)
            fraction, base = tolerance
            tolerance = fraction * abs(base)
        passed = (
            bool(abs(reconstructed - published) <= tolerance + 1e-9)
            if published is not None
            else True
        )
        rows.append(
            {
                "check": check,
                "source": source,
                "arm": arm,
                "statistic": statistic,
                "published": np.nan if published is None else float(published),
                "reconstructed": float(reconstructed),
                "tolerance": float(tolerance),
                "tolerance_rule": rule,
                "gate": gate,
                "passed": passed,
            }
        )

    arm_column = data["arm"].astype(str)
    for arm, target in targets.arms.items():
        part = data[arm_column == arm]
        add(f"n.{arm}", "Table headers", arm, "patients", target.n, len(part), 0, "exact")
        for column, levels in target.categorical.items():
            for value, count in levels.items():
                got = int((part[column].astype(str) == str(value)).sum())
                add(
                    f"table1.{column}.{value}.{arm}",
                    "Table 1",
                    arm,
                    f"{column} = {value} (n)",
                    count,
                    got,
                    0,
                    "exact",
                )
        for column, mean, sd in (
            ("age", target.age_mean, target.age_sd),
            ("bmi", target.bmi_mean, target.bmi_sd),
        ):
            values = part[column].astype(float)
            add(
                f"table1.{column}.mean.{arm}",
                "Table 1",
                arm,
                f"{column} mean",
                mean,
                values.mean(),
                tol.age_bmi_mean,
                f"±{tol.age_bmi_mean:g}",
            )
            add(
                f"table1.{column}.sd.{arm}",
                "Table 1",
                arm,
                f"{column} SD",
                sd,
                values.std(ddof=1),
                tol.age_bmi_sd,
                f"±{tol.age_bmi_sd:g}",
            )
        add(
            f"table2.responders.{arm}",
            "Table 2",
            arm,
            "responders (package rule)",
            target.responders,
            int(part["response"].sum()),
            0,
            "exact",
        )
        platelets = target.platelets
        for t, day in enumerate(_DAYS):
            values = part[f"plt_day{day}"].astype(float)
            add(
                f"table4.mean.day{day}.{arm}",
                "Table 4",
                arm,
                f"PLT day {day} mean",
                platelets.mean[t],
                values.mean(),
                (tol.plt_mean_relative, platelets.mean[t]),
                f"±{100 * tol.plt_mean_relative:g}% of published",
            )
            add(
                f"table4.sd.day{day}.{arm}",
                "Table 4",
                arm,
                f"PLT day {day} SD (± x sqrt(n))",
                platelets.sd[t],
                values.std(ddof=1),
                (tol.plt_sd_relative, platelets.sd[t]),
                f"±{100 * tol.plt_sd_relative:g}% of published",
            )
        add(
            f"cit.baseline.{arm}",
            "CIT definition",
            arm,
            "patients with baseline PLT >= 100",
            0,
            int((part["plt_day0"] >= THRESHOLD).sum()),
            0,
            "exact",
        )
        delta = (part["plt_day14"] - part["plt_day0"]).astype(float)
        for name, value, published in zip(
            ("P25", "median", "P75"), _spss_quartiles(delta), platelets.delta_quartiles, strict=True
        ):
            add(
                f"table6.delta.{name}.{arm}",
                "Table 6",
                arm,
                f"ΔPLT {name} (SPSS)",
                published,
                value,
                tol.delta_quartile,
                f"±{tol.delta_quartile:g}",
            )
        recovery = part["recovery_day"].dropna().astype(float)
        n_recovered = len(recovery)
        add(
            f"table6.recovery.mean.{arm}",
            "Table 6",
            arm,
            "recovery day mean (recovered)",
            target.recovery_mean,
            recovery.mean() if n_recovered else math.nan,
            tol.recovery_mean,
            f"±{tol.recovery_mean:g}",
        )
        add(
            f"table6.recovery.sd.{arm}",
            "Table 6",
            arm,
            "recovery day SD (recovered)",
            target.recovery_sd,
            recovery.std(ddof=1) if n_recovered > 1 else math.nan,
            tol.recovery_sd,
            f"±{tol.recovery_sd:g}",
        )
        add(
            f"plan.recovered.{arm}",
            "plan (assumption)",
            arm,
            "patients recovered (>= 100 by day 14)",
            plan.recovered[arm],
            n_recovered,
            0,
            "exact",
        )
        add(
            f"table8.transfusion.{arm}",
            "Table 8",
            arm,
            "patients transfused",
            target.transfusions,
            int(part["transfusion"].sum()),
            0,
            "exact",
        )
        add(
            f"plan.transfusion_nonresponders.{arm}",
            "Methods: transfusion",
            arm,
            "transfused responders",
            0,
            int(((part["transfusion"] == 1) & (part["response"] == 1)).sum()),
            0,
            "exact",
        )
        for block, column in ADVERSE_EVENTS.items():
            add(
                f"table9.{block}.{arm}",
                "Table 9",
                arm,
                f"{column} (n)",
                target.adverse_events[column],
                int(part[column].sum()),
                0,
                "exact",
            )
        any_event = part[list(ADVERSE_EVENTS.values())].sum(axis=1) > 0
        add(
            f"table9.any.{arm}",
            "Table 9",
            arm,
            "total adverse reactions (patients)",
            target.any_adverse_event,
            int(any_event.sum()),
            0,
            "exact",
        )
    # consistency of every row
    add(
        "consistency.validation",
        "cohort validation",
        "all",
        "cohort passes validate_cohort",
        1,
        int(validated),
        0,
        "exact",
    )
    add(
        "consistency.recovery",
        "cohort schema",
        "all",
        "rows whose recovery_day contradicts the counts",
        0,
        recovery_violations(data),
        0,
        "exact",
    )
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
    add(
        "consistency.trajectory_rules",
        "plan [trajectory]",
        "all",
        "rows breaking the trajectory rules",
        0,
        broken,
        0,
        "exact",
    )
    synthetic = data["synthetic"] if "synthetic" in data.columns else pd.Series(dtype=float)
    add(
        "consistency.synthetic_flag",
        "issue 5",
        "all",
        "rows not flagged synthetic",
        0,
        int((synthetic != 1).sum()) if len(synthetic) else len(data),
        0,
        "exact",
    )
    # extras reported but not gates
    quartiles = _spss_quartiles(data["age"].astype(float))
    for name, value, published in zip(
        ("P25", "median", "P75"), quartiles, targets.overall_age_quartiles, strict=True
    ):
        add(
            f"text.age.{name}",
            "Results text",
            "all",
            f"age {name} (all patients)",
            published,
            value,
            0,
            "exact (extra)",
            gate=False,
        )
    return pd.DataFrame(rows, columns=list(FIDELITY_COLUMNS))


def format_fidelity(report: pd.DataFrame, *, header: str) -> str:
    """A plain-text rendering of a fidelity report, failures first, with a summary line."""
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
