"""Reporting notes: labels and claims of the paper that contradict what its numbers show.

Built after the checks, from their findings and from the tables; each note is emitted only when
its evidence is there (a note about ± being a standard error needs the Wald statistics of Table 5
to be reproduced with ± as SE), so that a corrected table makes its note disappear. Every note is
an :class:`~cit_bayes.paper.audit_rules.AuditRecord` of kind ``reporting_note``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from cit_bayes.paper.audit_continuous import summary
from cit_bayes.paper.audit_rules import ALPHA, AuditRecord, format_p
from cit_bayes.paper.effect_sizes import odds_ratio_woolf
from cit_bayes.paper.statistics_summary import (
    anova_from_summary,
    lsd_difference,
    p_from_statistic,
    two_sample_difference,
)
from cit_bayes.paper.tables import count_table

__all__ = ["reporting_notes"]

_REPRODUCED = ("consistent", "rounding")


def _note(table, row, comparison, label, note, assumptions="") -> AuditRecord:
    return AuditRecord(
        table=table,
        row=row,
        comparison=comparison,
        test="reporting note",
        reported_statistic=label,
        reported_p="",
        recomputed_statistic=None,
        recomputed_p=None,
        verdict="inconsistent",
        note=note,
        kind="reporting_note",
        check="label or claim vs content",
        assumptions=assumptions,
    )


def reporting_notes(
    tables: dict[str, pd.DataFrame],
    records: list[AuditRecord],
    recovered: pd.DataFrame | None,
) -> list[AuditRecord]:
    """Every reporting note whose evidence is present in ``tables`` and ``records``.

    Parameters
    ----------
    tables : dict of DataFrame
    records : list of AuditRecord
        The checks (notes are built from their findings).
    recovered : DataFrame or None
        :func:`~cit_bayes.paper.recovery_analysis_sizes.implied_recovery_analysis_sizes`, if solvable.

    Examples
    --------
    >>> from cit_bayes.paper.audit_notes import reporting_notes
    >>> from cit_bayes.paper.tables import load_tables
    >>> notes = reporting_notes(load_tables(), [], None)
    >>> len(notes), {note.kind for note in notes}
    (4, {'reporting_note'})
    """
    builders = (
        lambda: _standard_error_notes(tables, records),
        lambda: _shifted_statistics_note(records),
        lambda: _recovery_label_notes(tables),
        lambda: _recovered_subset_note(tables, recovered),
        lambda: _mixed_procedures_note(tables, records, recovered),
        lambda: _orientation_notes(tables, records),
        lambda: _fisher_statistic_note(records),
        lambda: _sparse_asymptotic_note(records),
        lambda: [_non_inferiority_note(tables)],
        lambda: [_multiplicity_note(tables)],
    )
    notes: list[AuditRecord] = []
    for build in builders:
        notes.extend(build())
    return notes


def _standard_error_notes(tables, records) -> list[AuditRecord]:
    table5 = [r for r in records if r.table == "table5" and r.test.startswith("Wald")]
    reproduced = sum(r.verdict in _REPRODUCED for r in table5)
    if not table5 or reproduced < len(table5) / 2:
        return []
    days = {day: summary(tables["table4_plt"], "plt", day) for day in ("day0", "day14")}
    implied = "; ".join(
        f"{name}: "
        + ", ".join(
            f"{arm} {s * math.sqrt(n):.1f}"
            for arm, s, n in zip(
                days[day]["arms"], days[day]["spread"], days[day]["n"], strict=True
            )
        )
        for day, name in (("day0", "pre-treatment"), ("day14", "day 14"))
    )
    spreads = tables["table4_plt"]["plusminus"]
    baseline = days["day0"]
    table4 = [
        r
        for r in records
        if r.table == "table4" and r.test.startswith("Wald") and r.comparison == "all four arms"
    ]
    p_ok = sum(
        r.recomputed_p is not None
        and abs(r.recomputed_p - float(r.reported_p.rstrip("*#"))) < 0.005
        for r in table4
    )
    first = _note(
        "table4",
        "all rows",
        "all four arms",
        "mean ± (methods: mean ± SD)",
        "The methods promise mean ± SD, but the ± values of Table 4 "
        f"({spreads.min():.2f}-{spreads.max():.2f}) have the size of a standard error: the SD "
        f"they imply (± × √n) is {implied}. A pre-treatment SD of {baseline['spread'].min():.2f} "
        f"around a mean of {baseline['mean'].min():.1f} would be implausibly narrow for patients "
        "selected by PLT < 100. Read as standard errors they reproduce "
        f"{reproduced} of the {len(table5)} statistics of Table 5 and {p_ok} of the "
        f"{len(table4)} p-values of Table 4.",
    )
    second = _note(
        "table4",
        "Tables 4 and 5, column 'χ²'",
        "between arms",
        "χ²",
        "A continuous outcome is tested with a statistic labelled χ², while the methods name "
        "one-way ANOVA (normal data) or Kruskal-Wallis (non-normal data). The numbers are "
        "reproduced by a Wald χ² of equal means with the ± values as standard errors, a test the "
        "methods do not describe.",
    )
    return [first, second]


#: The row label of the reporting note on Table 4's shifted statistics.
SHIFTED_NOTE_ROW = "column 'χ²'"


def shifted_statistics(records) -> list[AuditRecord]:
    """Table 4's all-arm Wald records whose printed statistic does not fit the row's data.

    Examples
    --------
    >>> shifted_statistics([])
    []
    """
    return [
        r
        for r in records
        if r.table == "table4"
        and r.test.startswith("Wald")
        and r.comparison == "all four arms"
        and r.verdict not in _REPRODUCED
    ]


def _shifted_statistics_note(records) -> list[AuditRecord]:
    shifted = shifted_statistics(records)
    if not shifted:
        return []
    name = [r.row.split(" PLT")[0] for r in shifted]
    detail = "; ".join(
        f"{n}: printed {r.reported_statistic}, recomputed {r.recomputed_statistic:.3f}"
        for n, r in zip(name, shifted, strict=True)
    )
    return [
        _note(
            "table4",
            SHIFTED_NOTE_ROW,
            "all four arms",
            ", ".join(r.reported_statistic for r in shifted),
            f"The printed p-values fit their rows' data, but the statistics of {', '.join(name)} "
            f"do not ({detail}); they look shifted between rows, so that {len(shifted)} printed "
            "statistic/p pairs contradict each other (decision errors in a statcheck reading).",
        )
    ]


def _recovery_label_notes(tables) -> list[AuditRecord]:
    notes = []
    cells = tables["table6_recovery_delta"]
    rows = cells[cells["label"].str.contains("Median", case=False) & cells["mean"].notna()]
    if not rows.empty:
        notes.append(
            _note(
                "table6",
                rows["label"].iloc[0],
                "all four arms",
                "Median ... (printed as mean ± SD)",
                "The row is labelled 'Median' but prints mean ± SD, analysed by ANOVA; the Results "
                "text says 'The median time ... with a mean of 6.69 ± 2.21' and the Abstract "
                "'the shortest median time to PLT recovery'. No median is reported.",
            )
        )
    tests = tables["table6_tests"]
    mixed = tests[tests["statistic_label"] == "F/H Value"]
    if len(mixed) >= 2:
        recovery = mixed[mixed["block"] == "recovery_days"].iloc[0]
        delta = mixed[mixed["block"] == "delta_plt"].iloc[0]
        as_h = p_from_statistic(recovery["statistic"], "chi2", 3)
        as_f = p_from_statistic(delta["statistic"], "f", 3, 183)
        notes.append(
            _note(
                "table6",
                "column 'F/H Value'",
                "all four arms",
                "F/H Value",
                f"One header for two statistics: {recovery['printed_statistic']} is an F (read as "
                f"Kruskal-Wallis H on χ²(3) it would give p = {as_h:.3f}, not "
                f"{recovery['printed_p']}) and {delta['printed_statistic']} is an H "
                f"(p = {p_from_statistic(delta['statistic'], 'chi2', 3):.3f} on χ²(3); as "
                f"F(3, 183) it would give {format_p(as_f)}).",
            )
        )
    return notes


def _recovered_subset_note(tables, recovered) -> list[AuditRecord]:
    if recovered is None:
        return []
    s = summary(tables["table6_recovery_delta"], "recovery_days")
    counts = recovered["analysis_size"].to_numpy(float)
    anova = anova_from_summary(s["mean"], s["spread"], counts)
    listing = ", ".join(
        f"{a} {int(r)}/{int(n)}"
        for a, r, n in zip(
            recovered["arm"], recovered["analysis_size"], recovered["n_arm"], strict=True
        )
    )
    return [
        _note(
            "table6",
            "Median Time-to-Platelet-Recovery (d)",
            "all four arms",
            "n = " + " / ".join(str(int(n)) for n in recovered["n_arm"]) + " (header)",
            "The header gives the arm sizes, but a recovery time exists only for patients who "
            f"recovered; Table 7's intervals imply {listing} ({int(counts.sum())} of "
            f"{int(recovered['n_arm'].sum())}), and with these counts the ANOVA gives "
            f"F({anova.df:g}, {anova.df2:g}) = {anova.statistic:.3f}, p = {anova.p_value:.3f}, "
            "as printed. The number analysed is not reported, and patients who never recovered "
            "are left out rather than censored, so the means compare selected subsets whose "
            "selection differs by arm.",
            assumptions="implied counts from implied_recovery_analysis_sizes()",
        )
    ]


def _mixed_procedures_note(tables, records, recovered) -> list[AuditRecord]:
    lsd = [
        r
        for r in records
        if r.table == "table7" and r.test.startswith("Fisher LSD") and r.verdict in _REPRODUCED
    ]
    if not lsd or recovered is None:
        return []
    s = summary(tables["table6_recovery_delta"], "recovery_days")
    counts = recovered["analysis_size"].to_numpy(float)
    index = {arm: i for i, arm in enumerate(s["arms"])}
    pairs = tables["table7_pairwise"]
    parts = []
    for row in pairs[pairs["block"] == "recovery_days"].itertuples():
        a, b = index[row.arm_a], index[row.arm_b]
        pooled = two_sample_difference(
            row.effect, s["spread"][a], counts[a], 0.0, s["spread"][b], counts[b]
        )
        means = np.zeros(len(counts))
        means[a] = row.effect  # the printed difference has more decimals than the means
        least = lsd_difference(means, s["spread"], counts, a, b)
        parts.append(
            f"{row.arm_a} vs {row.arm_b}: printed {row.printed_p}, LSD {least.p_value:.3f}, "
            f"interval's t-test {pooled.p_value:.3f}"
        )
    return [
        _note(
            "table7",
            "Median Time-to-Platelet-Recovery P-value / Mean Difference (95%CI)",
            "six pairs",
            "P-value and Mean Difference (95%CI)",
            "In each pair the p-value and the confidence interval come from different procedures: "
            "the intervals are pooled two-sample t intervals of the two arms alone, the p-values "
            f"Fisher LSD comparisons with the ANOVA MSE of all arms ({len(lsd)} of 6 reproduced). "
            + "; ".join(parts)
            + ".",
            assumptions="implied recovery-analysis sizes; ± in Table 6 is the SD",
        )
    ]


def _orientation_notes(tables, records) -> list[AuditRecord]:
    notes = []
    response = count_table(tables["table2_response"], "response")
    for r in records:
        if (
            r.check != "counts -> odds ratio and 95% CI"
            or "orientation reversed" not in r.assumptions
        ):
            continue
        arm_a, arm_b = r.comparison.split(" vs ")
        labelled = odds_ratio_woolf(response[[arm_a, arm_b]].to_numpy().T)
        notes.append(
            _note(
                r.table,
                r.row,
                r.comparison,
                r.reported_statistic,
                f"The row is labelled '{arm_a} vs {arm_b}', like the other rows whose OR is the "
                f"odds of the first arm over the second, but its OR is the odds of response in "
                f"{arm_b} over {arm_a}; as labelled it would be {labelled['odds_ratio']:.3f} "
                f"({labelled['ci_low']:.3f}, {labelled['ci_high']:.3f}). A reader would take "
                f"{arm_a} to have {1 / labelled['odds_ratio']:.1f} times the odds of response of "
                f"{arm_b}; it is the other way round.",
            )
        )
    return notes


def _fisher_statistic_note(records) -> list[AuditRecord]:
    rows = [r for r in records if r.check == "counts -> statistic and p" and "Freeman" in r.test]
    if not rows:
        return []
    where = ", ".join(f"{r.table} {r.row.split(',')[0]}" for r in rows)
    return [
        _note(
            rows[0].table,
            "columns 'F/χ²' / 'χ²'",
            "all four arms",
            "χ²",
            f"In {where} the printed value is not a χ² but the SPSS Fisher-Freeman-Halton "
            "statistic, printed with its exact p. The tables do not say so, and a reader "
            "checking the p against χ² on its df would think it wrong.",
        )
    ]


def _sparse_asymptotic_note(records) -> list[AuditRecord]:
    rows = [
        r
        for r in records
        if r.check == "counts -> statistic and p"
        and r.p_method.startswith("asymptotic")
        and "an exact test was called for" in r.note
    ]
    if not rows:
        return []
    changed = [r for r in rows if "conclusion changes" in r.note]
    return [
        _note(
            rows[-1].table,
            "; ".join(f"{r.table} {r.row.split(',')[0]}" for r in rows),
            "all four arms",
            "χ² (asymptotic)",
            "These rows use the asymptotic Pearson χ² although more than 20 % of the expected "
            "counts are below 5, while rows of similar sparsity use the exact "
            "Fisher-Freeman-Halton test. "
            + (
                "The exact p-values do not change the conclusions (see the checks' notes)."
                if not changed
                else "The exact p-value changes the conclusion for "
                + ", ".join(r.row for r in changed)
                + "."
            ),
        )
    ]


def _non_inferiority_note(tables) -> AuditRecord:
    response = count_table(tables["table2_response"], "response")
    z = stats.norm.isf(0.025)
    parts = []
    for other in ("rhTPO", "rhIL-11"):
        yes = response.loc["effective", ["hetrombopag", other]].to_numpy(float)
        n = response[["hetrombopag", other]].sum(axis=0).to_numpy(float)
        p = yes / n
        difference = p[0] - p[1]
        se = math.sqrt((p * (1 - p) / n).sum())
        parts.append(
            f"hetrombopag minus {other} {100 * difference:+.1f} percentage points (95% CI "
            f"{100 * (difference - z * se):+.1f} to {100 * (difference + z * se):+.1f})"
        )
    odds = odds_ratio_woolf(response[["hetrombopag", "rhTPO"]].to_numpy().T)
    return _note(
        "text",
        'Abstract: "Hetrombopag monotherapy demonstrated non-inferior PLT dynamics and treatment '
        'response rates compared to rhTPO/rhIL-11 (P>0.05)"; Conclusion: "efficacy comparable"',
        "hetrombopag vs rhTPO, rhIL-11",
        "non-inferior (P>0.05)",
        "A non-significant difference does not show non-inferiority: no margin was stated and no "
        "non-inferiority test was done. The response data are compatible with hetrombopag being "
        "clearly worse: " + "; ".join(parts) + " (Wald intervals); the odds ratio of response, "
        f"hetrombopag over rhTPO, is {odds['odds_ratio']:.3f} with 95% CI down to "
        f"{odds['ci_low']:.3f}.",
    )


def _multiplicity_note(tables) -> AuditRecord:
    pairwise = []
    for stem in ("table3_response_pairwise", "table5_plt_pairwise", "table7_pairwise"):
        for row in tables[stem].itertuples():
            pairwise.append((stem.split("_")[0], row.block, row.level, row.arm_a, row.arm_b, row.p))
    n_pairs = 6
    threshold = ALPHA / n_pairs
    significant = [p for p in pairwise if p[5] < ALPHA]
    lost = [p for p in significant if p[5] >= threshold]
    listing = "; ".join(
        f"{table.replace('table', 'Table ')} {block}{' ' + level if level else ''} "
        f"{arm_a} vs {arm_b}: {p:.3f}"
        for table, block, level, arm_a, arm_b, p in lost
    )
    return _note(
        "text",
        "Tables 3, 5 and 7 (pairwise comparisons)",
        "six pairs per outcome",
        "P < 0.05 for each pair",
        f"{len(pairwise)} pairwise p-values are judged at 0.05 without adjustment for the "
        f"{n_pairs} comparisons per outcome (none is stated). With Bonferroni "
        f"(0.05/{n_pairs} = {threshold:.4f}) {len(lost)} of the {len(significant)} 'significant' "
        f"pairs would not be: {listing or 'none'}.",
    )
