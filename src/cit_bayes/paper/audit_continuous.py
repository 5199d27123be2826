"""Audit checks of the paper's continuous outcomes: Table 1 (age, BMI), Tables 4-7.

Each function takes the tables from :func:`~cit_bayes.paper.load_tables` and returns a list
of :class:`~cit_bayes.paper.audit_rules.AuditRecord`. Ranges over the rounding of printed
inputs come from :func:`~cit_bayes.paper.statistics_summary.value_range`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

from cit_bayes.cohort.schema import ARMS
from cit_bayes.paper.audit_rules import (
    AuditRecord,
    Candidate,
    format_p,
    half_unit,
    identify,
    judge,
    tested_record,
    unrecomputable_record,
)
from cit_bayes.paper.statistics_summary import (
    anova_from_summary,
    p_from_statistic,
    value_range,
    wald_chi2_from_summary,
    welch_anova_from_summary,
)

__all__ = [
    "baseline_anova_checks",
    "implied_f_df2",
    "summary",
    "platelet_checks",
    "platelet_pairwise_checks",
    "statcheck_record",
    "within_arm_checks",
]

DAY_NAMES = {"day0": "pre-treatment", "day3": "day 3", "day7": "day 7", "day14": "day 14"}


def summary(cells: pd.DataFrame, block: str, level: str = "") -> dict:
    """Means, ± values, sizes and rounding half-widths of one printed ``m ± s`` row, by arm.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import summary
    >>> from cit_bayes.paper.tables import load_tables
    >>> s = summary(load_tables()["table1_baseline"], "age")
    >>> s["arms"], s["n"].tolist()
    (['rhTPO', 'hetrombopag', 'combination', 'rhIL-11'], [64.0, 37.0, 36.0, 50.0])
    """
    rows = cells[(cells["block"] == block) & (cells["level"] == level)].set_index("arm")
    rows = rows.loc[[arm for arm in ARMS if arm in rows.index]]
    mean_text = [p.split("±")[0] for p in rows["printed"]]
    spread_text = [p.split("±")[1] for p in rows["printed"]]
    return {
        "arms": list(rows.index),
        "mean": rows["mean"].to_numpy(float),
        "spread": rows["plusminus"].to_numpy(float),
        "n": rows["n_arm"].to_numpy(float),
        "mean_half": np.array([half_unit(t) for t in mean_text]),
        "spread_half": np.array([half_unit(t) for t in spread_text]),
    }


def _ranged(function, values, halves) -> tuple[float, tuple[float, float]]:
    values = np.asarray(values, float)
    return float(function(values)), value_range(function, values, halves)


def _candidate(label, statistic_fn, p_fn, values, halves, p_method) -> Candidate:
    statistic, statistic_range = _ranged(statistic_fn, values, halves)
    p_value, p_range = _ranged(p_fn, values, halves)
    return Candidate(label, statistic, p_value, statistic_range, p_range, p_method=p_method)


def statcheck_record(
    row,
    *,
    distribution: str,
    df: float,
    df2: float | None = None,
    comparison: str = "all four arms",
    note: str = "",
    assumptions: str = "",
) -> AuditRecord:
    """The statcheck check: the p of the printed statistic on its distribution and df.

    ``row`` is a tests-layout row, as a Series or an ``itertuples`` tuple.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import statcheck_record
    >>> from cit_bayes.paper.tables import load_tables
    >>> tests = load_tables()["table1_tests"].set_index("block")
    >>> record = statcheck_record(tests.loc["age"], distribution="f", df=3, df2=183)
    >>> record.check, record.verdict
    ('printed statistic -> p', 'consistent')
    """
    field = row.__getitem__ if isinstance(row, pd.Series) else row.__getattribute__
    text, statistic, printed_p = (
        field("printed_statistic"),
        float(field("statistic")),
        field("printed_p"),
    )
    half = half_unit(text)

    def p_of(value: float) -> float:
        return p_from_statistic(value, distribution, df, df2)

    p_value = p_of(statistic)
    ends = (p_of(max(statistic - half, 0.0)), p_of(statistic + half))
    verdict = judge(reported_p=printed_p, p_value=p_value, p_range=(min(ends), max(ends)))
    name = {"chi2": "χ²", "f": "F"}[distribution]
    dist = f"{name}({df:g})" if df2 is None else f"{name}({df:g}, {df2:g})"
    return AuditRecord(
        table=field("table"),
        row=field("label"),
        comparison=comparison,
        test=f"p of the printed statistic on {dist}",
        reported_statistic=text,
        reported_p=printed_p,
        recomputed_statistic=None,
        recomputed_p=p_value,
        verdict=verdict,
        note=(
            f"The printed {text} on {dist} gives p = {format_p(p_value)} "
            f"(range {format_p(min(ends))}-{format_p(max(ends))} over the rounding of the "
            f"statistic); printed {printed_p}. {note}"
        ).strip(),
        check="printed statistic -> p",
        p_method=f"asymptotic {dist}",
        assumptions=assumptions,
    )


def baseline_anova_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 1, age and BMI: one-way ANOVA F recomputed from mean ± SD and n, and its p.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import baseline_anova_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> [r.verdict for r in baseline_anova_checks(load_tables())]
    ['rounding', 'consistent', 'rounding', 'consistent']
    """
    records = []
    tests = tables["table1_tests"].set_index("block")
    for block in ("age", "bmi"):
        s = summary(tables["table1_baseline"], block)
        row = tests.loc[block]
        k, n = len(s["arms"]), s["n"]
        values = np.concatenate([s["mean"], s["spread"]])
        halves = np.concatenate([s["mean_half"], s["spread_half"]])
        df2 = n.sum() - k

        def anova(x, n=n, k=k):
            return anova_from_summary(x[:k], x[k:], n)

        def welch(x, n=n, k=k):
            return welch_anova_from_summary(x[:k], x[k:], n)

        candidates = [
            _candidate(
                "one-way ANOVA F from mean ± SD",
                lambda x, f=anova: f(x).statistic,
                lambda x, f=anova: f(x).p_value,
                values,
                halves,
                f"asymptotic F({k - 1}, {df2:g})",
            ),
            _candidate(
                "Welch's ANOVA F from mean ± SD",
                lambda x, f=welch: f(x).statistic,
                lambda x, f=welch: f(x).p_value,
                values,
                halves,
                "asymptotic F (Welch df)",
            ),
        ]
        best, verdict, lines = identify(candidates, row["printed_statistic"], row["printed_p"])
        records.append(
            tested_record(
                best,
                table="table1",
                row=row["label"],
                comparison="all four arms",
                reported_statistic=row["printed_statistic"],
                reported_p=row["printed_p"],
                verdict=verdict,
                note=(
                    f"F recomputed from the printed means and SDs is {best.statistic:.3f} "
                    f"(range {best.statistic_range[0]:.3f}-{best.statistic_range[1]:.3f} over "
                    f"their rounding), p = {format_p(best.p_value)}."
                ),
                check="summary statistics -> statistic and p",
                assumptions="± is the SD; n = arm size",
                candidates=tuple(lines),
            )
        )
        records.append(
            statcheck_record(
                row,
                distribution="f",
                df=k - 1,
                df2=df2,
                assumptions="df from the arm sizes",
            )
        )
    return records


def _platelet_candidates(s: dict, indices: list[int]) -> list[Candidate]:
    """Candidates for a Table 4/5 'χ²' of a continuous outcome printed as mean ± s."""
    mean, spread, n = s["mean"][indices], s["spread"][indices], s["n"][indices]
    k = len(indices)
    values = np.concatenate([mean, spread])
    halves = np.concatenate([s["mean_half"][indices], s["spread_half"][indices]])
    df2 = n.sum() - k

    def wald(x):
        return wald_chi2_from_summary(x[:k], x[k:])

    def anova_sd(x):
        return anova_from_summary(x[:k], x[k:], n)

    def anova_se(x):
        return anova_from_summary(x[:k], x[k:] * np.sqrt(n), n)

    def welch_se(x):
        return welch_anova_from_summary(x[:k], x[k:] * np.sqrt(n), n)

    specs = [
        ("Wald χ² of equal means, ± as standard error", wald, f"asymptotic χ²({k - 1})"),
        ("one-way ANOVA F, ± as SD", anova_sd, f"asymptotic F({k - 1}, {df2:g})"),
        ("one-way ANOVA F, ± as SE (SD = SE·√n)", anova_se, f"asymptotic F({k - 1}, {df2:g})"),
        ("Welch's ANOVA F, ± as SE (SD = SE·√n)", welch_se, "asymptotic F (Welch df)"),
    ]
    return [
        _candidate(
            label,
            lambda x, f=f: f(x).statistic,
            lambda x, f=f: f(x).p_value,
            values,
            halves,
            method,
        )
        for label, f, method in specs
    ]


def platelet_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 4, between arms: identify the 'χ²' of each day and check it and its p.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import platelet_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> records = platelet_checks(load_tables())
    >>> len(records), records[0].comparison
    (8, 'all four arms')
    """
    tests = tables["table4_tests"]
    tests = tests[tests["comparison"] == "overall"]
    cells = tables["table4_plt"]
    wald_by_day = {}
    for day in tests["level"]:
        s = summary(cells, "plt", day)
        wald_by_day[day] = wald_chi2_from_summary(s["mean"], s["spread"]).statistic
    records = []
    for row in tests.itertuples():
        s = summary(cells, "plt", row.level)
        candidates = _platelet_candidates(s, list(range(len(s["arms"]))))
        best, verdict, lines = identify(candidates, row.printed_statistic, row.printed_p)
        note = (
            f"Reproduced best by a {best.label}: {best.statistic:.3f}, p = "
            f"{format_p(best.p_value)} (printed {row.printed_statistic}, {row.printed_p}). "
            "No test described in the methods (ANOVA, Kruskal-Wallis) reproduces it; a "
            "Kruskal-Wallis H would need patient-level data."
        )
        if verdict not in ("consistent", "rounding"):
            others = {d: v for d, v in wald_by_day.items() if d != row.level}
            nearest = min(others, key=lambda d: abs(others[d] - row.statistic))
            low, high = best.p_range or (best.p_value, best.p_value)
            if low - half_unit(row.printed_p) <= row.p <= high + half_unit(row.printed_p):
                note += " The printed p belongs to this row's data; the printed statistic does not."
            note += (
                f" The printed statistic {row.printed_statistic} is nearest to the statistic "
                f"recomputed for {DAY_NAMES[nearest]} ({others[nearest]:.3f}, "
                f"{100 * abs(others[nearest] - row.statistic) / row.statistic:.1f} % apart)."
            )
        records.append(
            tested_record(
                best,
                table="table4",
                row=row.label,
                comparison="all four arms",
                reported_statistic=row.printed_statistic,
                reported_p=row.printed_p,
                verdict=verdict,
                note=note,
                check="summary statistics -> statistic and p",
                assumptions="± is the standard error of the mean; arms independent",
                candidates=tuple(lines),
            )
        )
        records.append(
            statcheck_record(
                row,
                distribution="chi2",
                df=len(s["arms"]) - 1,
                assumptions="df = number of arms - 1",
            )
        )
    return records


def platelet_pairwise_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 5: the pairwise 'χ²' of day 7 and day 14 platelets, identified and checked.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import platelet_pairwise_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> records = platelet_pairwise_checks(load_tables())
    >>> len(records), records[1].check
    (24, 'printed statistic -> p')
    """
    records = []
    cells = tables["table4_plt"]
    for row in tables["table5_plt_pairwise"].itertuples():
        s = summary(cells, "plt", row.level)
        indices = [s["arms"].index(row.arm_a), s["arms"].index(row.arm_b)]
        candidates = _platelet_candidates(s, indices)
        best, verdict, lines = identify(candidates, row.printed_statistic, row.printed_p)
        comparison = f"{row.arm_a} vs {row.arm_b}"
        records.append(
            tested_record(
                best,
                table="table5",
                row=row.label,
                comparison=comparison,
                reported_statistic=row.printed_statistic,
                reported_p=row.printed_p,
                verdict=verdict,
                note=(
                    f"Recomputed from Table 4 ({row.label}): {best.statistic:.3f}, p = "
                    f"{format_p(best.p_value)}; for two arms the Wald χ² is "
                    "(difference of means)² / (SE_a² + SE_b²)."
                ),
                check="summary statistics -> statistic and p",
                assumptions="± in Table 4 is the standard error of the mean",
                candidates=tuple(lines),
            )
        )
        records.append(
            statcheck_record(
                row, distribution="chi2", df=1, comparison=comparison, assumptions="df = 1"
            )
        )
    return records


def within_arm_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 4, Pa/Pb/Pc: not recomputable (paired data); plausibility from mean ± SE.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import within_arm_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> {r.verdict for r in within_arm_checks(load_tables())}
    {'not_recomputable'}
    """
    records = []
    cells = tables["table4_plt"]
    tests = tables["table4_tests"]
    for row in tests[tests["comparison"] == "within_arm"].itertuples():
        _, day = row.level.split("_vs_")
        before, after = summary(cells, "plt", "day0"), summary(cells, "plt", day)
        i = before["arms"].index(row.arm)
        difference = after["mean"][i] - before["mean"][i]
        se0, se1, n = before["spread"][i], after["spread"][i], before["n"][i]
        unpaired_se = math.hypot(se0, se1)
        unpaired_p = p_from_statistic(difference / unpaired_se, "z")
        bound = float(row.p)
        t_needed = stats.t.isf(bound / 2, n - 1)
        se_needed = abs(difference) / t_needed
        rho = (se0**2 + se1**2 - se_needed**2) / (2 * se0 * se1)
        if row.p_relation == "<":
            needed = f"a within-patient correlation of at least {rho:.2f}"
            if rho < -1:
                needed, plausibility = "any within-patient correlation", "plausible"
            elif rho <= 0:
                plausibility = "any non-negative correlation gives it: plausible"
            elif rho <= 1:
                plausibility = "plausible for repeated counts of the same patients"
            else:
                plausibility = "no correlation can give it: implausible"
        else:
            needed = f"a within-patient correlation of about {rho:.2f}"
            if 0 <= rho <= 1:
                plausibility = "plausible for repeated counts of the same patients"
            elif rho < 0:
                plausibility = "a negative correlation, unusual for repeated counts"
            else:
                plausibility = "no correlation can give it: implausible"
        records.append(
            unrecomputable_record(
                table="table4",
                row=f"{row.label} ({DAY_NAMES['day0']} vs {DAY_NAMES[day]})",
                comparison=f"within {row.arm}: {DAY_NAMES['day0']} vs {DAY_NAMES[day]}",
                test="paired comparison (test not stated)",
                reported_statistic="",
                reported_p=row.printed_p,
                note=(
                    "Needs paired patient-level data (the within-patient correlation is not "
                    f"reported). Plausibility: the mean rises by {difference:.2f}; an unpaired "
                    f"z-test from the printed mean ± SE gives p = {format_p(unpaired_p)}; a "
                    f"paired t-test reaches the printed p {row.printed_p} with {needed} — "
                    f"{plausibility}."
                ),
                check="plausibility only",
                assumptions="± is the standard error; paired t on n - 1 df",
            )
        )
    return records


def implied_f_df2(statistic_text: str, p_text: str, df1: float) -> tuple[float, float]:
    """Range of the denominator df for which F(df1, df2) of a printed F gives the printed p.

    Examples
    --------
    >>> from cit_bayes.paper.audit_continuous import implied_f_df2
    >>> low, high = implied_f_df2("3.029", "0.035", 3)
    >>> round(low), round(high)
    (66, 76)
    """
    f_half, p_half = half_unit(statistic_text), half_unit(p_text)
    f_value, p_value = float(statistic_text), float(p_text.rstrip("*#"))

    def solve(f, p):
        def gap(df2):
            return stats.f.sf(f, df1, df2) - p

        if gap(1.0) * gap(1e7) > 0:
            return math.inf
        return optimize.brentq(gap, 1.0, 1e7)

    ends = [solve(f_value + sf * f_half, p_value + sp * p_half) for sf in (-1, 1) for sp in (-1, 1)]
    return min(ends), max(ends)
