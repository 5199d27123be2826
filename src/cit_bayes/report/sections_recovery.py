"""The recovery section of the patient-level report: curves, marginal contrasts, hazard ratios.

Every number is looked up in ``results.json`` through the context's ledger; nothing here
computes a statistic.
"""

from __future__ import annotations

from cit_bayes.report.document import Paragraph, Table
from cit_bayes.report.outcome_figures import recovery_figure
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section
from cit_bayes.report.sections_patient import figure_block, split_pair, threshold_keys

__all__ = ["recovery_section"]


def recovery_section(ctx: ReportContext) -> Section:
    """Recovery: Bayesian curves beside weighted Kaplan-Meier; RMTR; hazard ratios beside Cox.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}, "recovery": {"x": {}}}})
    >>> recovery_section(build_context(ledger, tables={}, plan=None, out_dir="."))
    Traceback (most recent call last):
    ...
    KeyError: 'recovery/cumulative_recovery'
    """
    p, level = ctx.primary, ctx.level_text()
    section = ctx.results["recovery"][p]
    horizon = f"day{section.get('horizon_days', 14)}"
    paths = recovery_figure(
        ctx.tables["recovery/cumulative_recovery"],
        ctx.tables["recovery/kaplan_meier"],
        ctx.figures / "recovery_curves",
        analysis=p,
        arms=ctx.arms,
        title=f"Cumulative recovery, {ctx.label(p)}: posterior mean and {level} band "
        "vs weighted Kaplan-Meier",
        level_text=level,
    )
    blocks: list = [
        Paragraph(["Time to recovery: ", section.get("population", ""), "."]),
        figure_block(
            ctx,
            "recovery_curves",
            paths,
            f"Cumulative recovery per arm ({ctx.label(p)}): the Bayesian discrete-time hazard "
            f"model's posterior mean (solid) and {level} credible band, over the weighted "
            "Kaplan-Meier estimate (dashed steps).",
        ),
    ]
    rows = []
    for arm in ctx.arms:
        rows.append(
            [
                arm,
                ctx.num("recovery", p, "n_analysed", arm, style="int"),
                ctx.interval("recovery", p, "rmtr", arm, style="f1"),
                [ctx.num("recovery", p, "median_day", arm, "median", style="int"), " (",
                 ctx.num("recovery", p, "median_day", arm, "ci_low", style="int"), " to ",
                 ctx.num("recovery", p, "median_day", arm, "ci_high", style="int"), ")"],
                ctx.num("recovery", p, "median_day", arm, "prob_reached", style="prob"),
                ctx.num("recovery", p, "frequentist", "median_day", arm, style="int"),
                ctx.interval("recovery", p, "cumulative_recovery", horizon, arm, style="pct1"),
                ctx.interval("recovery", p, "frequentist", "cumulative_recovery", horizon, arm,
                             centre="estimate", style="pct1"),
            ]
        )  # fmt: skip
    blocks.append(
        Table(
            ["arm", "patients", f"RMTR, days ({level} CrI)", "median day (CrI)",
             "P(median reached)", "Kaplan-Meier median", f"recovered by {horizon}",
             f"Kaplan-Meier by {horizon}"],
            rows,
            caption=f"Recovery per arm ({ctx.label(p)})",
            note="RMTR: restricted mean time to recovery within the follow-up (a patient not "
            "recovered counts the whole follow-up).",
        )
    )  # fmt: skip
    blocks += _recovery_comparisons(ctx, p, level)
    return Section("recovery", "Recovery", blocks)


def _recovery_comparisons(ctx: ReportContext, p: str, level: str) -> list:
    """The recovery section's pairwise tables: marginal differences, hazard ratios, RMTR."""
    focus, section = ctx.focus, ctx.results["recovery"][p]
    blocks: list = [_recovered_table(ctx, p, level)]
    rows = []
    for key in section.get("hazard_ratio", {}):
        a, b = split_pair(key, ctx.arms, "/")
        rows.append(
            [
                f"{a} / {b}",
                ctx.interval("recovery", p, "hazard_ratio", key, centre="median", style="f2"),
                ctx.num("recovery", p, "prob_higher_hazard", f"{a}>{b}", style="prob"),
                ctx.interval("recovery", p, "hazard_ratio_change", key, centre="median",
                             style="f2"),
            ]
        )  # fmt: skip
    blocks.append(
        Table(
            ["arms", f"day-averaged HR ({level} CrI)", "P(HR > 1)",
             f"HR first half / second half ({level} CrI)"],
            rows,
            caption="Hazard ratios of recovery (> 1: faster than the reference arm), "
            "day-averaged and conditional on the covariates",
            note="The model does not force proportional hazards: each arm has its own baseline "
            "hazard. The last column checks proportionality: the ratio of the hazard ratio in the "
            "first half of the follow-up to that in the second (1 under proportional hazards).",
        )
    )  # fmt: skip
    rows = [
        [f"{a} / {b}",
         ctx.interval("recovery", p, "frequentist", "hazard_ratio", key, centre="estimate",
                      style="f2"),
         ctx.num("recovery", p, "frequentist", "hazard_ratio", key, "p_value", style="f3")]
        for key in section.get("frequentist", {}).get("hazard_ratio", {})
        for a, b in [split_pair(key, ctx.arms, "/")]
    ]  # fmt: skip
    blocks.append(
        Table(
            ["arms", "weighted Cox HR (CI)", "Cox p"],
            rows,
            caption="Frequentist cross-check: weighted Cox model",
            note="A marginal hazard ratio under proportional hazards: a different estimand from "
            "the day-averaged conditional hazard ratio above (hazard ratios are "
            "non-collapsible), so the two are not compared number by number; the marginal "
            "differences in the share recovered are compared above.",
        )
    )
    exceeds = section.get("prob_difference_exceeds", {})
    rows = []
    for key in section.get("difference", {}):
        a, b = split_pair(key, ctx.arms, "-")
        row = [
            f"{a} − {b}",
            [*ctx.interval("recovery", p, "difference", key, style="f1"), " days"],
            ctx.num("recovery", p, "prob_superior", f"{a}<{b}", style="prob"),
        ]
        rows.append(row)
    blocks.append(
        Table(
            ["comparison", f"RMTR difference ({level} CrI)", "P(A faster)"],
            rows,
            caption="Pairwise differences in RMTR (A − B; negative: A recovers faster)",
        )
    )
    others = [arm for arm in ctx.others() if threshold_keys(exceeds, f"{arm}-{focus}")]
    if others:
        thresholds = threshold_keys(exceeds, f"{others[0]}-{focus}")
        blocks.append(
            Table(
                ["comparison", *[f"faster by > {t} days" for t in thresholds]],
                [
                    [f"{focus} vs {arm}"]
                    + [ctx.num("recovery", p, "prob_difference_exceeds", f"{arm}-{focus} > {t}",
                               style="prob") for t in thresholds]
                    for arm in others
                ],
                caption=f"Probability that {focus}'s RMTR is shorter by more than a threshold",
            )
        )  # fmt: skip
    return blocks


def _recovered_table(ctx: ReportContext, p: str, level: str) -> Table:
    """Differences in the share recovered by day 7 and the last day: posterior vs Kaplan-Meier."""
    section = ctx.results["recovery"][p]
    rows = []
    for day, pairs in section.get("recovered_difference", {}).items():
        for key in pairs:
            a, b = split_pair(key, ctx.arms, "-")
            rows.append(
                [
                    f"{a} − {b}",
                    day.removeprefix("day"),
                    [*ctx.interval("recovery", p, "recovered_difference", day, key,
                                   style="points"), " pp"],
                    [*ctx.interval("recovery", p, "frequentist", "recovered_difference", day,
                                   key, centre="estimate", style="points"), " pp"],
                ]
            )  # fmt: skip
    return Table(
        ["comparison", "by day", f"Bayesian ({level} CrI)", "weighted Kaplan-Meier (CI)"],
        rows,
        caption="Difference in the share recovered (A − B; marginal over the target population)",
        note="Both columns estimate the same marginal quantity: the posterior from the "
        "g-computed cumulative-recovery curves, the cross-check from the weighted Kaplan-Meier "
        "curves (Wald interval, arms independent, weights held fixed).",
    )
