"""Audit checks of time to platelet recovery and ΔPLT: Tables 6 and 7.

The recovery-time analysis used an unreported subset of patients (at most those who recovered); the
counts per arm implied by Table 7 (:func:`~cit_bayes.paper.recovery_analysis_sizes.
implied_recovery_analysis_sizes`) are the assumption that makes Tables 6-7 recomputable. Where they are
fitted from the very numbers checked (the CIs), the record says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cit_bayes.paper.audit_continuous import (
    DAY_NAMES,
    implied_f_df2,
    statcheck_record,
    summary,
)
from cit_bayes.paper.audit_rules import (
    AuditRecord,
    Candidate,
    format_p,
    half_unit,
    identify,
    judge,
    matches,
    unrecomputable_record,
)
from cit_bayes.paper.recovery_analysis_sizes import ci_procedure_solutions
from cit_bayes.paper.statistics_summary import (
    anova_from_summary,
    lsd_difference,
    p_from_statistic,
    two_sample_difference,
    value_range,
    welch_anova_from_summary,
)

__all__ = ["day14_recovery_checks", "recovery_checks", "recovery_pairwise_checks"]

RECOVERY_THRESHOLD = 100.0  # ×10^9/L, the paper's definition of recovery


def _implied(tables) -> tuple[np.ndarray | None, str]:
    """Per-arm analysis sizes solved from Table 7's CIs alone (pooled t), so that Table 6's F and
    Table 7's p-values stay independent checks; None with the reason if no vector fits."""
    solutions = ci_procedure_solutions(tables, procedure="pooled_t")
    if solutions.empty:
        return None, "no vector of per-arm analysis sizes reproduces Table 7's CIs"
    arms = [c for c in solutions.columns if c not in ("total", "ci_score")]
    counts = solutions.loc[0, arms].to_numpy(float)
    text = ", ".join(f"{a} {int(n)}" for a, n in zip(arms, counts, strict=True))
    if len(solutions) > 1:
        text += f"; best of {len(solutions)} compatible vectors"
    return counts, text


def recovery_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 6: the F of recovery time (which df?) and the Kruskal-Wallis H of ΔPLT.

    Examples
    --------
    >>> from cit_bayes.paper.tables import load_tables
    >>> [r.verdict for r in recovery_checks(load_tables())]
    ['inconsistent', 'consistent', 'consistent']
    """
    tests = tables["table6_tests"].set_index("block")
    row = tests.loc["recovery_days"]
    s = summary(tables["table6_recovery_delta"], "recovery_days")
    k, sizes = len(s["arms"]), s["n"]
    counts, counts_text = _implied(tables)
    printed_f, printed_p = row["printed_statistic"], row["printed_p"]
    f_value = float(row["statistic"])
    low_df, high_df = implied_f_df2(printed_f, printed_p, k - 1)
    all_patients = anova_from_summary(s["mean"], s["spread"], sizes)
    p_h = p_from_statistic(f_value, "chi2", k - 1)
    records = []
    statcheck = statcheck_record(
        row,
        distribution="f",
        df=k - 1,
        df2=sizes.sum() - k,
        assumptions="df2 from the arm sizes (the number analysed is not reported)",
        note=(
            f"The printed P is reproduced only with df2 between {math.ceil(low_df)} and "
            f"{math.floor(high_df)} (about {math.ceil(low_df) + k}-{math.floor(high_df) + k} "
            f"patients), not with the {int(sizes.sum())} patients of the header: only recovered "
            "patients were "
            f"analysed, and their number is not reported. Read as Kruskal-Wallis H on χ²({k - 1}) "
            f"it would give p = {format_p(p_h)}, so the value is an F."
        ),
    )
    records.append(statcheck)
    values = np.concatenate([s["mean"], s["spread"]])
    halves = np.concatenate([s["mean_half"], s["spread_half"]])
    candidates = [_anova_candidate("one-way ANOVA F, n = arm sizes", values, halves, sizes)]
    if counts is not None:
        candidates.insert(
            0,
            _anova_candidate(
                "one-way ANOVA F, n = implied recovery-analysis size", values, halves, counts
            ),
        )
        candidates.append(
            _anova_candidate(
                "Welch's ANOVA F, n = implied recovery-analysis size", values, halves, counts, True
            )
        )
    best, verdict, lines = identify(candidates, printed_f, printed_p)
    everyone = (
        f"With all {int(sizes.sum())} patients it would give {all_patients.statistic:.3f}, "
        f"p = {format_p(all_patients.p_value)}."
    )
    if counts is None:
        verdict, statistic, p_value = "not_recomputable", None, None
        note = f"The number of recovered patients per arm is unknown ({counts_text}). {everyone}"
    else:
        statistic, p_value = best.statistic, best.p_value
        note = (
            f"With the recovery-analysis sizes implied by Table 7's CIs ({counts_text}; derived "
            "without using this F) the one-way ANOVA from the printed mean ± SD gives "
            f"{best.statistic:.3f}, p = {format_p(best.p_value)}. {everyone}"
        )
    records.append(
        AuditRecord(
            table="table6",
            row=row["label"],
            comparison="all four arms",
            test=best.label if counts is not None else "one-way ANOVA F",
            reported_statistic=printed_f,
            reported_p=printed_p,
            recomputed_statistic=statistic,
            recomputed_p=p_value,
            verdict=verdict,
            note=note,
            check="summary statistics -> statistic and p",
            p_method=best.p_method if counts is not None else "",
            assumptions="± is the SD; n per arm = implied recovery-analysis sizes (not reported)",
            candidates=tuple(lines),
        )
    )
    delta = tests.loc["delta_plt"]
    records.append(
        statcheck_record(
            delta,
            distribution="chi2",
            df=k - 1,
            assumptions="H referred to χ²(3) (Kruskal-Wallis)",
            note=(
                "The H itself needs patient-level data (ranks); only its p can be checked. "
                "Read as F(3, 183) the p would be "
                f"{format_p(p_from_statistic(delta['statistic'], 'f', k - 1, sizes.sum() - k))}."
            ),
        )
    )
    return records


def _anova_candidate(label, values, halves, counts, welch=False) -> Candidate:
    k = len(counts)
    function = welch_anova_from_summary if welch else anova_from_summary

    def statistic(x):
        return function(x[:k], x[k:], counts).statistic

    def p_value(x):
        return function(x[:k], x[k:], counts).p_value

    df2 = function(values[:k], values[k:], counts).df2
    return Candidate(
        label,
        statistic(values),
        p_value(values),
        value_range(statistic, values, halves),
        value_range(p_value, values, halves),
        p_method=f"asymptotic F({k - 1}, {df2:.4g})",
    )


def recovery_pairwise_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Table 7: mean differences, their 95 % CIs and p-values; ΔPLT p-values.

    Examples
    --------
    >>> from cit_bayes.paper.audit_recovery import recovery_pairwise_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> records = recovery_pairwise_checks(load_tables())
    >>> len(records), records[0].table
    (24, 'table7')
    """
    s = summary(tables["table6_recovery_delta"], "recovery_days")
    counts, counts_text = _implied(tables)
    index = {arm: i for i, arm in enumerate(s["arms"])}
    pairs = tables["table7_pairwise"]
    procedures = {
        proc: len(ci_procedure_solutions(tables, procedure=proc))
        for proc in ("pooled_t", "welch_t", "common_mse")
    }
    records = []
    for row in pairs[pairs["block"] == "recovery_days"].itertuples():
        a, b = index[row.arm_a], index[row.arm_b]
        comparison = f"{row.arm_a} vs {row.arm_b}"
        records.append(_difference_record(row, s, a, b, comparison))
        records.append(_interval_record(row, s, a, b, comparison, counts, counts_text, procedures))
        records.append(_pairwise_p_record(row, s, a, b, comparison, counts, counts_text))
    for row in pairs[pairs["block"] == "delta_plt"].itertuples():
        records.append(
            unrecomputable_record(
                table="table7",
                row=row.label,
                comparison=f"{row.arm_a} vs {row.arm_b}",
                test="pairwise rank test (not stated; e.g. Mann-Whitney or Dunn)",
                reported_statistic="",
                reported_p=row.printed_p,
                note=(
                    "ΔPLT is summarised by median (P25, P75); a rank test needs patient-level "
                    "data. Only the agreement with the text can be checked (see the text records)."
                ),
                check="none possible",
            )
        )
    return records


def _difference_record(row, s, a, b, comparison) -> AuditRecord:
    means, halves = s["mean"], s["mean_half"]
    difference = means[a] - means[b]
    spread = halves[a] + halves[b]
    centre = (row.effect_ci_low + row.effect_ci_high) / 2
    printed = row.printed_effect.split("(")[0].strip()
    verdict = judge(
        reported_statistic=printed,
        statistic=difference,
        statistic_range=(difference - spread, difference + spread),
    )
    centred = matches(centre, printed, spread=half_unit(printed))
    return AuditRecord(
        table="table7",
        row="Mean Difference (95%CI), recovery time",
        comparison=comparison,
        test="difference of the Table 6 means (first arm minus second)",
        reported_statistic=printed,
        reported_p="",
        recomputed_statistic=difference,
        recomputed_p=None,
        verdict=verdict,
        note=(
            f"Table 6 means give {difference:.2f} (± {spread:.3f} from their rounding); the "
            f"printed difference has more decimals than the means. The CI is "
            + ("centred on it." if centred else f"not centred on it (centre {centre:.4f}).")
        ),
        check="summary statistics -> mean difference",
        assumptions="orientation: first arm minus second, as printed",
    )


def _interval_record(row, s, a, b, comparison, counts, counts_text, procedures) -> AuditRecord:
    procedure_note = (
        f"Vectors of per-arm recovery-analysis sizes (2 <= n <= arm size) that reproduce all six CIs: pooled "
        f"t {procedures['pooled_t']}, Welch t {procedures['welch_t']}, one-MSE procedures "
        f"(LSD, Tukey, Bonferroni, Scheffé) {procedures['common_mse']}."
    )
    if counts is None:
        return unrecomputable_record(
            table="table7",
            row="Mean Difference (95%CI), recovery time",
            comparison=comparison,
            test="two-sample t interval",
            reported_statistic=row.printed_effect,
            reported_p="",
            note="The number of recovered patients per arm is not reported. " + procedure_note,
            check="summary statistics -> 95% CI",
        )
    sd, sd_half = s["spread"], s["spread_half"]

    def half_width(x):
        result = two_sample_difference(0.0, x[0], counts[a], 0.0, x[1], counts[b])
        return result.ci_high

    width = half_width(np.array([sd[a], sd[b]]))
    width_range = value_range(half_width, [sd[a], sd[b]], [sd_half[a], sd_half[b]])
    printed_ends = [
        part.strip() for part in row.printed_effect.split("(")[1].rstrip(")").split(",")
    ]
    centre_half = half_unit(row.printed_effect.split("(")[0])
    lower = (row.effect - width_range[1] - centre_half, row.effect - width_range[0] + centre_half)
    upper = (row.effect + width_range[0] - centre_half, row.effect + width_range[1] + centre_half)
    verdicts = [
        judge(
            reported_statistic=printed_ends[0], statistic=row.effect - width, statistic_range=lower
        ),
        judge(
            reported_statistic=printed_ends[1], statistic=row.effect + width, statistic_range=upper
        ),
    ]
    order = ["consistent", "rounding", "inconsistent", "decision_error"]
    verdict = max(verdicts, key=order.index)
    return AuditRecord(
        table="table7",
        row="Mean Difference (95%CI), recovery time",
        comparison=comparison,
        test="pooled two-sample t interval, n = implied recovery-analysis sizes",
        reported_statistic=row.printed_effect,
        reported_p="",
        recomputed_statistic=width,
        recomputed_p=None,
        verdict=verdict,
        note=(
            f"Half-width recomputed {width:.4f} (range {width_range[0]:.4f}-"
            f"{width_range[1]:.4f} over the rounding of the SDs); printed "
            f"{(row.effect_ci_high - row.effect_ci_low) / 2:.4f}. The counts ({counts_text}) "
            "were solved from these six intervals, so this shows that one set of counts fits "
            f"all six, not an independent confirmation. {procedure_note}"
        ),
        check="summary statistics -> 95% CI",
        assumptions="± in Table 6 is the SD; n per arm = implied recovery-analysis sizes",
    )


def _pairwise_p_record(row, s, a, b, comparison, counts, counts_text) -> AuditRecord:
    if counts is None:
        return unrecomputable_record(
            table="table7",
            row="Median Time-to-Platelet-Recovery P-value",
            comparison=comparison,
            test="pairwise comparison of means",
            reported_statistic="",
            reported_p=row.printed_p,
            note="The number of recovered patients per arm is not reported.",
            check="summary statistics -> p",
        )
    k = len(s["arms"])
    values = np.concatenate([[row.effect], s["spread"]])
    halves = np.concatenate([[half_unit(row.printed_effect.split("(")[0])], s["spread_half"]])

    def lsd(x):
        means = np.zeros(k)
        means[a] = x[0]
        return lsd_difference(means, x[1:], counts, a, b).p_value

    def pooled(x):
        return two_sample_difference(x[0], x[1 + a], counts[a], 0.0, x[1 + b], counts[b]).p_value

    def welch(x):
        return two_sample_difference(
            x[0], x[1 + a], counts[a], 0.0, x[1 + b], counts[b], equal_var=False
        ).p_value

    df_lsd = counts.sum() - k
    candidates = [
        Candidate(
            "Fisher LSD post hoc (ANOVA MSE), n = implied recovery-analysis size",
            None,
            lsd(values),
            p_range=value_range(lsd, values, halves),
            p_method=f"t({df_lsd:g})",
        ),
        Candidate(
            "pooled two-sample t, n = implied recovery-analysis size",
            None,
            pooled(values),
            p_range=value_range(pooled, values, halves),
            p_method=f"t({counts[a] + counts[b] - 2:g})",
        ),
        Candidate(
            "Welch t, n = implied recovery-analysis size",
            None,
            welch(values),
            p_range=value_range(welch, values, halves),
            p_method="t (Welch df)",
        ),
    ]
    best, verdict, lines = identify(candidates, "", row.printed_p)
    interval = candidates[1]
    return AuditRecord(
        table="table7",
        row="Median Time-to-Platelet-Recovery P-value",
        comparison=comparison,
        test=best.label,
        reported_statistic="",
        reported_p=row.printed_p,
        recomputed_statistic=None,
        recomputed_p=best.p_value,
        verdict=verdict,
        note=(
            f"{best.label} gives p = {format_p(best.p_value)} (printed {row.printed_p}); the "
            f"counts ({counts_text}) come from the CIs, so this is an independent check. The "
            "printed CI of the same row is a pooled two-sample t interval, whose own p would "
            f"be {format_p(interval.p_value)}: the p-value and the CI come from different "
            "procedures."
        ),
        check="summary statistics -> p",
        p_method=best.p_method,
        assumptions="± in Table 6 is the SD; n per arm = implied recovery-analysis sizes",
        candidates=tuple(lines),
    )


def day14_recovery_checks(tables: dict[str, pd.DataFrame]) -> list[AuditRecord]:
    """Cross-check: can the implied recovery-analysis sizes be *all* the patients who recovered?

    Every patient with PLT >= 100 on day 14 has recovered by day 14. If at most a share q of an
    arm recovered, then at most q have PLT >= 100 on day 14; with the others below 100 the SD
    of day-14 PLT is at least (mean - 100) sqrt((1 - q) / q) (the two-point bound of a mixture).

    Examples
    --------
    >>> from cit_bayes.paper.audit_recovery import day14_recovery_checks
    >>> from cit_bayes.paper.tables import load_tables
    >>> [r.verdict for r in day14_recovery_checks(load_tables())]
    ['consistent', 'consistent', 'inconsistent', 'consistent']
    """
    counts, counts_text = _implied(tables)
    if counts is None:
        return []
    plt14 = summary(tables["table4_plt"], "plt", "day14")
    recovery = summary(tables["table6_recovery_delta"], "recovery_days")
    records = []
    for i, arm in enumerate(recovery["arms"]):
        j = plt14["arms"].index(arm)
        share = counts[i] / recovery["n"][i]
        mean, n = plt14["mean"][j], plt14["n"][j]
        sd = plt14["spread"][j] * math.sqrt(n)
        sd_population = sd * math.sqrt((n - 1) / n)  # the bound is on the population SD
        excess = max(mean - RECOVERY_THRESHOLD, 0.0)
        minimum_sd = excess * math.sqrt((1 - share) / share) if share > 0 else math.inf
        verdict = "consistent" if sd_population >= minimum_sd else "inconsistent"
        records.append(
            AuditRecord(
                table="table4",
                row=f"Day 14 PLT vs recovery-analysis size ({DAY_NAMES['day14']})",
                comparison=f"{arm}",
                test="two-point bound: SD >= (mean - 100)·sqrt((1 - q)/q)",
                reported_statistic=f"{plt14['mean'][j]:.2f} ± {plt14['spread'][j]:.2f}",
                reported_p="",
                recomputed_statistic=minimum_sd,
                recomputed_p=None,
                verdict=verdict,
                note=(
                    f"Implied recovery-analysis size {int(counts[i])}/{int(recovery['n'][i])}, read as the "
                    "number who recovered "
                    f"(q = {share:.3f}); day-14 mean {mean:.2f}, SD {sd:.1f} (SE × √n; "
                    f"{sd_population:.1f} with divisor n). If at "
                    f"most q of the arm had PLT >= 100 on day 14, that SD would be at least "
                    f"{minimum_sd:.1f}. "
                    + (
                        "Compatible."
                        if verdict == "consistent"
                        else "Not compatible: either the recovery analysis used another "
                        "population or definition, or Table 7 does not reflect the patients "
                        "analysed."
                    )
                ),
                check="cross-table plausibility",
                assumptions=(
                    "Table 4 ± is the SE; implied recovery-analysis sizes; recovery = first day with "
                    "PLT >= 100 within the 14 days observed"
                ),
            )
        )
    return records
