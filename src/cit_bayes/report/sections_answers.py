"""The key answers of the patient-level report: the questions the analysis plan asks, answered.

Every number is looked up in ``results.json`` through the context's ledger
(:class:`~cit_bayes.report.patient_context.ReportContext`). Nothing here computes a statistic.
"""

from __future__ import annotations

from cit_bayes.report.document import Paragraph, Table
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section

__all__ = ["key_answers_section"]


# ------------------------------------------------------------------------------ key answers
def key_answers_section(ctx: ReportContext) -> Section:
    """The first screen: the paper's questions answered by the primary analysis.

    Examples
    --------
    >>> from cit_bayes.report import ledger, patient_context as pc
    >>> d = {"meta": {"analyses": [{"name": "x"}], "data": {"arms": ["A"]}}, "response": {"x": {}}}
    >>> key_answers_section(pc.build_context(ledger.Ledger({"results": d}), {}, None, ".")).title
    'Key answers'
    """
    p, focus = ctx.primary, ctx.focus
    level = ctx.level_text()
    blocks: list = []
    rows = []
    for arm in ctx.others():
        rows.append(
            [
                f"{focus} has a higher response rate than {arm}",
                ctx.num("response", p, "prob_superior", f"{focus}>{arm}", style="prob"),
                [*ctx.interval("response", p, "risk_difference", f"{focus}-{arm}", style="points"),
                 " pp"],
            ]
        )  # fmt: skip
    for a, b in ctx.noninferiority_pairs:
        rows.append(
            [
                [f"{a} is non-inferior to {b} (margin ",
                 ctx.num("meta", "noninferiority_margin", style="pp0"), " pp)"],
                ctx.num("response", p, "prob_noninferior", f"{a} vs {b} @ {ctx.margin_key}",
                        style="prob"),
                [*ctx.interval("response", p, "risk_difference", f"{a}-{b}", style="points"),
                 " pp"],
            ]
        )  # fmt: skip
    for arm in ctx.others():
        rows.append(
            [
                f"{focus} recovers faster than {arm} (shorter mean time to recovery)",
                ctx.num("recovery", p, "prob_superior", f"{focus}<{arm}", style="prob"),
                [*ctx.interval("recovery", p, "difference", f"{focus}-{arm}", style="f1"),
                 " days"],
            ]
        )  # fmt: skip
    blocks.append(
        Table(
            ["question", "posterior probability", f"difference ({level} CrI)"],
            rows,
            caption=f"The paper's questions, answered by the primary analysis: {ctx.label(p)}",
            note=(
                "Response differences in percentage points (pp); recovery: difference in "
                "restricted mean time to recovery (RMTR) within the follow-up, negative = faster. "
                "CrI: equal-tailed credible interval."
            ),
        )
    )
    arm_rows = []
    for arm in ctx.arms:
        median = ctx.num("recovery", p, "median_day", arm, "median", style="int")
        arm_rows.append(
            [
                arm,
                ctx.num("meta", "data", "patients", arm, style="int"),
                ctx.interval("response", p, "rate", arm, style="pct1"),
                ctx.num("response", p, "prob_best", arm, style="prob"),
                ctx.interval("recovery", p, "rmtr", arm, style="f1"),
                [median, " (", ctx.num("recovery", p, "median_day", arm, "ci_low", style="int"),
                 " to ", ctx.num("recovery", p, "median_day", arm, "ci_high", style="int"), ")"],
                ctx.interval("plt", p, "delta_plt", arm, style="f0"),
            ]
        )  # fmt: skip
    day = ctx.value("plt", p, "delta_day") if ctx.has("plt", p, "delta_day") else "last day"
    blocks.append(
        Table(
            [
                "arm",
                "patients",
                f"response rate ({level} CrI)",
                "P(best response)",
                "RMTR, days",
                "median recovery day",
                f"ΔPLT to {day} (×10⁹/L)",
            ],
            arm_rows,
            caption=f"Per arm ({ctx.label(p)})",
        )
    )
    about = [f"{ctx.label(p)}: "]
    if ctx.has("weighting", p, "target_population"):
        about += [
            "target population ",
            str(ctx.value("weighting", p, "target_population")),
            f"; {ctx.value('weighting', p, 'method')} weights and covariate-adjusted models, "
            "averaged over that population (g-computation). ",
        ]
    about.append(
        "Each probability is the posterior probability of the statement. The other analyses "
        "(unadjusted, other estimands) are side by side under Prior and estimand sensitivity."
    )
    blocks.append(Paragraph(about))
    return Section("key-answers", "Key answers", blocks, css="key-answers")
