"""The key answers of the patient-level report: the questions the analysis plan asks, answered.

Every number is looked up in ``results.json`` through the context's ledger
(:class:`~cit_bayes.report.patient_context.ReportContext`). Nothing here computes a statistic.
"""

from __future__ import annotations

from cit_bayes.report.document import Paragraph, Table
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section
from cit_bayes.report.sections_patient import raw_count, split_pair

__all__ = ["key_answers_section", "robustness_blocks"]


# ------------------------------------------------------------------------------ key answers
def key_answers_section(ctx: ReportContext) -> Section:
    """The first screen: the plan's questions (the paper's, by default) answered by the primary analysis.

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
                f"{focus} recovers faster than {arm} (shorter restricted mean time to recovery "
                "within the follow-up)",
                ctx.num("recovery", p, "prob_superior", f"{focus}<{arm}", style="prob"),
                [*ctx.interval("recovery", p, "difference", f"{focus}-{arm}", style="f1"),
                 " days"],
            ]
        )  # fmt: skip
    blocks.append(
        Table(
            ["question", "posterior probability", f"difference ({level} CrI)"],
            rows,
            caption=f"The analysis plan's questions, answered by the primary analysis: {ctx.label(p)}",
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
                raw_count(ctx, "response", p, arm=arm),
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
                "responders / analysed",
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
    blocks += _safety_answers(ctx, p, level)
    blocks.append(Paragraph(_about(ctx, p)))
    blocks += robustness_blocks(ctx)
    return Section("key-answers", "Key answers", blocks, css="key-answers")


def _safety_answers(ctx: ReportContext, p: str, level: str) -> list:
    """The focus arm's harms against the safety reference: raw counts, difference, P(higher)."""
    if not ctx.has("safety", p, "risk_difference"):
        return []
    section = ctx.results["safety"][p]
    rows, reference = [], None
    for event, pairs in section["risk_difference"].items():
        key = next((k for k in pairs if split_pair(k, ctx.arms, "-")[0] == ctx.focus), None)
        if key is None:
            continue
        reference = split_pair(key, ctx.arms, "-")[1]
        rows.append(
            [event.removeprefix("ae_"),
             raw_count(ctx, "safety", p, event, arm=ctx.focus, total="n_recorded"),
             raw_count(ctx, "safety", p, event, arm=reference, total="n_recorded"),
             [*ctx.interval("safety", p, "risk_difference", event, key, style="points"), " pp"],
             ctx.num("safety", p, "prob_difference_exceeds", event, f"{key} > 0.00",
                     style="prob")]
        )  # fmt: skip
    if not rows:
        return []
    return [
        Table(
            [
                "event",
                f"{ctx.focus}: with event / recorded",
                f"{reference}: with event / recorded",
                f"difference ({level} CrI)",
                f"P({ctx.focus} has the higher risk)",
            ],
            rows,
            caption=f"Safety: {ctx.focus} against {reference} ({ctx.label(p)})",
            note="Raw counts are patients; the differences and probabilities are the "
            "weighted model's (marginal in the estimand's target population). For events "
            "seen in a few patients per arm, the Beta prior of each rate (the plan's safety "
            "prior: Beta(1, 1), two pseudo-patients, by default) and the weights weigh as "
            "much as the counts: a difference, and its sign, can then differ from the raw "
            "counts' and says little.",
        )  # fmt: skip
    ]


def _about(ctx: ReportContext, p: str) -> list:
    """What the primary analysis is, under the key answers."""
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
    return about


_VARIANT_TEXT = {
    "regression only": "covariates, no weights",
    "weights only": "weights, no covariates",
    "pooled arms": "weights and covariates, arms partially pooled",
    "proportional hazards": "weights and covariates, recovery with proportional hazards",
    "arm-specific slopes": "weights and covariates, PLT model with each arm's own slopes",
    "no Kish rescaling": (
        "weights and covariates, weights summing to each arm's n (not its Kish ESS)"
    ),
    "design uncertainty": (
        "weights and covariates, the weighting step's uncertainty in the posterior"
    ),
}


def _row_text(section: dict, label: str) -> str:
    """What a robustness row changes: a variant's text, or a prior set's title.

    Examples
    --------
    >>> _row_text({"prior_sets": {"wide": {"title": "Wide: scales doubled"}}}, "prior: wide")
    'weights and covariates; prior set Wide: scales doubled'
    """
    if label.startswith("prior: "):
        title = section.get("prior_sets", {}).get(label.removeprefix("prior: "), {}).get("title")
        return f"weights and covariates; prior set {title or label}"
    return _VARIANT_TEXT.get(label, label)


def robustness_blocks(ctx: ReportContext) -> list:
    """The key answers across analysis choices (``results["robustness"]``), and what moves them.

    Examples
    --------
    >>> from cit_bayes.report import ledger, patient_context as pc
    >>> d = {"meta": {"analyses": [{"name": "x"}], "data": {"arms": ["A"]}}, "response": {"x": {}}}
    >>> robustness_blocks(pc.build_context(ledger.Ledger({"results": d}), {}, None, "."))
    []
    """
    if not ctx.has("robustness", "rows"):
        return []
    section = ctx.results["robustness"]
    focus, reference, day = ctx.focus, ctx.reference, section["last_day"]
    rows = []
    for label in section["rows"]:
        path = ("robustness", "rows", label)
        name = (
            ctx.label(label) if label in ctx.analyses else f"{label} ({_row_text(section, label)})"
        )
        rows.append(
            [name,
             ctx.num(*path, "prob_response_superior", style="prob"),
             [*ctx.interval(*path, "response_difference", style="points"), " pp"],
             ctx.interval(*path, "plt_difference", style="f0"),
             [*ctx.interval(*path, "recovered_difference", style="points"), " pp"],
             ctx.num(*path, "prob_faster", style="prob"),
             "passed" if section["rows"][label].get("passed") else "FAILED"]
        )  # fmt: skip
    blocks: list = [
        Table(
            ["analysis", f"P({focus} > {reference}), response", "response difference",
             f"{day} PLT difference (×10⁹/L)", f"recovered by {day}: difference",
             f"P({focus} recovers faster)", "gates"],
            rows,
            caption=f"Robustness of the key answers ({focus} vs {reference}) to the analysis "
            "choices",
            note="Each row is a different analysis of the same cohort (the variants on the "
            "primary estimand's weights); differences are posterior means with "
            f"{ctx.level_text()} credible intervals, marginal over each analysis's target population. A blank (—) is an "
            "answer the row's variant or prior set does not refit (the model stays as in the "
            "primary analysis).",
        )
    ]  # fmt: skip
    design = section["rows"].get("design uncertainty")
    if design:
        path = ("robustness", "rows", "design uncertainty")
        shares = [
            [f"{what} ", ctx.num(*path, key, "design_share", style="pct0")]
            for key, what in (
                ("response_difference", "response difference"),
                ("plt_difference", f"{day} PLT difference"),
                ("recovered_difference", f"recovered by {day}"),
            )
            if "design_share" in design.get(key, {})
        ]
        if shares:
            parts: list = [
                "Design uncertainty: the entropy-balancing weights were solved again under "
                f"{section.get('design_draws', 'several')} Bayesian-bootstrap draws of the "
                "patients, each model refitted with each draw's weights and the draws pooled. "
                "Share of each difference's posterior variance that comes from the weighting "
                "step: "
            ]
            for k, share in enumerate(shares):
                parts += ([", "] if k else []) + share
            blocks.append(Paragraph([*parts, "."]))
    move = section.get("largest_move")
    if move:
        blocks.append(
            Paragraph(
                [f"P({focus} > {reference}) for response moves most with {move['driver']}: from ",
                 ctx.num("robustness", "rows", move["from"], "prob_response_superior",
                         style="prob"),
                 f" ({move['from']}) to ",
                 ctx.num("robustness", "rows", move["to"], "prob_response_superior",
                         style="prob"),
                 f" ({move['to']})."]
            )
        )  # fmt: skip
    return blocks
