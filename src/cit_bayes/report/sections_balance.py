"""The cohort-and-balance section: who was analysed, the weights, balance and overlap.

Numbers of ``results.json`` (patients, dropped rows, ESS, max |SMD|) go through the ledger; the
weighted Table 1 is a descriptive table that is not part of the results document, so its cells
are printed as written to ``tables/weighting__table_one.csv`` and traced to that file
(:class:`~cit_bayes.report.ledger.Cell`). Figures: the love plot of each adjusted analysis and the
propensity overlap of the primary one, from the weighting's summary tables.
"""

from __future__ import annotations

import pandas as pd

from cit_bayes.analyses.results import file_stem
from cit_bayes.cohort.schema import PLT_DAYS, RECOVERY_THRESHOLD, RESPONSE_FOLD, RESPONSE_RISE
from cit_bayes.report.balance_figures import love_plot, overlap_summary_plot
from cit_bayes.report.document import Code, Figure, Heading, Items, Paragraph, Table
from cit_bayes.report.ledger import Cell
from cit_bayes.report.outcome_figures import arm_colours
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section

__all__ = [
    "TABLE_ONE_FILE",
    "cohort_section",
    "imputation_paragraph",
    "lab_paragraph",
    "response_rule_text",
]

#: Where the weighted Table 1 is written (by ``write_fit_outputs``), relative to the report.
TABLE_ONE_FILE = "tables/weighting__table_one.csv"


def lab_paragraph(ctx: ReportContext) -> Paragraph | None:
    """How a long-format laboratory file became the counts and the recovery (the window rule
    and the counts each window took), or None when the cohort was a wide file.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ctx = build_context(Ledger({"results": {"meta": meta, "response": {"x": {}}}}), {}, None, ".")
    >>> lab_paragraph(ctx) is None
    True
    """
    labs = ctx.results["meta"].get("data", {}).get("labs")
    if not labs:
        return None
    taken: list = []
    for i, name in enumerate(labs.get("taken", {})):
        taken += [", " if i else "", f"{name} ",
                  ctx.num("meta", "data", "labs", "taken", name, style="int"), " (",
                  ctx.num("meta", "data", "labs", "off_day", name, style="int"), " off the day)"]  # fmt: skip
    source = "the treatment-start date" if labs.get("day_from") == "date" else "a day column"
    return Paragraph(
        ["Platelet counts and recovery were read from the laboratory file ",
         Code(str(labs.get("source", "—"))), " (",
         ctx.num("meta", "data", "labs", "measurements", style="int"),
         f" counts in long format; days from {source}): {labs.get('rule', '')}. Counts taken "
         "per planned day (over the file's patients, before any row was dropped): ", *taken,
         f"; patient-days on no planned day's window and outside days 1-{labs.get('days', PLT_DAYS)[-1]}, not used: ",
         ctx.num("meta", "data", "labs", "not_used", style="int"),
         ". Recovery days exact (a count the day before): ",
         ctx.num("meta", "data", "labs", "recovered_exact", style="int"),
         "; interval-censored (the last count before it earlier; the recovery model uses the "
         "interval, the Kaplan-Meier and Cox cross-checks the day recovery was first seen): ",
         ctx.num("meta", "data", "labs", "recovered_interval", style="int"),
         "; not seen to recover: ",
         ctx.num("meta", "data", "labs", "not_recovered", style="int"), "."]
    )  # fmt: skip


def imputation_paragraph(ctx: ReportContext) -> Paragraph | None:
    """How missing baseline covariates were multiply imputed and the draws pooled (the
    assumption, the cells imputed per column, what is the first imputation's), or None when
    nothing was imputed.

    Examples
    --------
    Each number is traced to ``results.json``:

    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> imputation = {"m": 5, "iterations": 10, "imputed_by_column": {"bmi": 4}}
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"], "imputation": imputation}}
    >>> results = {"meta": meta, "response": {"x": {}}}
    >>> runs = imputation_paragraph(build_context(Ledger({"results": results}), {}, None, ".")).runs
    >>> [run.key for run in runs if hasattr(run, "key")]
    ['/meta/data/imputation/m', '/meta/data/imputation/iterations', '/meta/data/imputation/imputed_by_column/bmi']
    """
    imputation = ctx.results["meta"].get("data", {}).get("imputation")
    if not imputation:
        return None
    key = ("meta", "data", "imputation")
    cells: list = []
    for i, name in enumerate(imputation.get("imputed_by_column", {})):
        cells += [", " if i else "", f"{name} ",
                  ctx.num(*key, "imputed_by_column", name, style="int")]  # fmt: skip
    balance: list = []
    for i, name in enumerate(imputation.get("balance_by_imputation", {})):
        where = (*key, "balance_by_imputation", name)
        balance += ["; " if i else "", f"{ctx.label(name)}: largest |SMD| after weighting ",
                    ctx.num(*where, "worst_max_abs_smd_weighted", style="f3"),
                    ", smallest Kish ESS of an arm ",
                    ctx.num(*where, "worst_min_ess", style="f1")]  # fmt: skip
    return Paragraph(
        ["Missing baseline covariates were imputed ", ctx.num(*key, "m", style="int"),
         " times by chained equations (", str(imputation.get("method", "")), "; ",
         ctx.num(*key, "iterations", style="int"), " passes; each column's model uses the other "
         "covariates, ", ", ".join(imputation.get("predictors", [])), "). Cells imputed: ",
         *cells, ". Assumption: ", str(imputation.get("assumption", "")), ". Each imputed "
         "cohort was weighted and fitted on its own; the posterior draws were pooled by mixing "
         "(each imputation's chains side by side), so the intervals carry the imputation "
         "uncertainty, and a fit passes the gates only when every imputation's fit did. Over "
         "the imputations: ", *balance, ". The balance tables, the frequentist cross-checks "
         "and the posterior predictive checks shown are the first imputation's."]
    )  # fmt: skip


def response_rule_text(rule: str, days=PLT_DAYS) -> str:
    """The response rule in words (thresholds from :mod:`cit_bayes.cohort.schema`), on the
    planned days of the counts.

    Examples
    --------
    >>> from cit_bayes.report.sections_balance import response_rule_text
    >>> response_rule_text("day14").startswith("the day-14 count meets one of: PLT ≥ 100")
    True
    >>> response_rule_text("any", (0, 5, 21)).split(" meets")[0]
    'any post-baseline count (day 5 or 21, or a recorded recovery day)'
    """
    criteria = (
        f"PLT ≥ {RECOVERY_THRESHOLD:g} ×10⁹/L, or a rise of ≥ {RESPONSE_RISE:g} ×10⁹/L over "
        f"baseline, or ≥ {RESPONSE_FOLD:g} times the baseline count"
    )
    if rule in ("day14", "last"):
        day = 14 if rule == "day14" else days[-1]
        return f"the day-{day} count meets one of: {criteria}"
    post = [str(day) for day in days[1:]]
    listed = post[0] if len(post) == 1 else ", ".join(post[:-1]) + " or " + post[-1]
    return (
        f"any post-baseline count (day {listed}, or a recorded recovery day) meets one of: "
        f"{criteria}"
    )


def _table_one(ctx: ReportContext, analysis: str) -> Table | None:
    """Table 1 with one column per arm, each cell "unweighted → weighted" (cells traced)."""
    table = ctx.tables.get("weighting/table_one")
    if table is None or table.empty:
        return None
    frame = table.reset_index(drop=True)
    pairs = [(f"{arm}: unweighted", f"{arm}: weighted", arm) for arm in ctx.arms]
    pairs.append(("max |SMD| unweighted", "max |SMD| weighted", "max |SMD|"))
    pairs = [p for p in pairs if p[0] in frame.columns and p[1] in frame.columns]

    def cell(index, column):
        value = frame.at[index, column]
        text = "" if pd.isna(value) else str(value)
        return Cell(TABLE_ONE_FILE, int(index), column, text) if text else ""

    body = []
    for index in frame.index[frame["analysis"] == analysis]:
        row = [str(frame.at[index, c]) if pd.notna(frame.at[index, c]) else ""
               for c in ("characteristic", "level", "statistic")]  # fmt: skip
        for before, after, _ in pairs:
            first, second = cell(index, before), cell(index, after)
            row.append([first, " → ", second] if first and second else [first or second])
        body.append(row)
    return Table(
        ["characteristic", "level", "statistic", *[label for _, _, label in pairs]],
        body,
        caption=f"Weighted Table 1 ({ctx.label(analysis)}): unweighted → weighted",
        note=(
            "Each cell: the arm's summary before → after weighting (after: in the target "
            "population); the patients row gives n → the Kish effective sample size. max |SMD|: "
            "the largest absolute standardised mean difference over pairs of arms. As written "
            f"to {TABLE_ONE_FILE}."
        ),
        css_class="compact",
    )


def cohort_section(ctx: ReportContext) -> Section:
    """Cohort and balance: patients, weights, balance achieved, Table 1, love and overlap plots.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> section = cohort_section(build_context(ledger, {}, None, "."))
    >>> section.title, str(section.blocks[-1].runs[0])
    ('Cohort and balance', 'No adjusted analysis was run: no weights.')
    """
    results = ctx.results
    data = results["meta"].get("data", {})
    blocks: list = []
    patients = []
    for i, arm in enumerate(ctx.arms):
        patients += [", " if i else "", f"{arm} ", ctx.num("meta", "data", "patients", arm,
                                                          style="int")]  # fmt: skip
    dropped = []
    for i, arm in enumerate(ctx.arms):
        dropped += [", " if i else "", f"{arm} ", ctx.num("meta", "data", "n_dropped_by_arm", arm,
                                                         style="int")]  # fmt: skip
    rule = str(data.get("response_rule", "any"))
    blocks.append(
        Paragraph(
            ["Patients analysed per arm: ", *patients, ". Rows dropped at validation: ",
             *dropped, ". Data file ", Code(str(data.get("file", "—"))), " (fingerprint ",
             Code(str(data.get("fingerprint", "—"))[:16] + "…"), "). Response (rule ",
             Code(rule), "): ", response_rule_text(rule, ctx.planned_days), "."]
        )
    )  # fmt: skip
    for extra in (lab_paragraph(ctx), imputation_paragraph(ctx)):
        if extra is not None:
            blocks.append(extra)
    blocks.append(
        Paragraph(
            ["Covariates (balanced by the weights and adjusted for in the outcome models): ",
             ", ".join(data.get("covariates", [])), "."]
        )
    )  # fmt: skip
    adjusted = ctx.adjusted_analyses()
    if adjusted:
        rows = []
        for analysis in adjusted:
            rows.append(
                [
                    ctx.label(analysis),
                    str(ctx.value("weighting", analysis, "method")),
                    str(ctx.value("weighting", analysis, "target_population")),
                    ctx.num("weighting", analysis, "max_abs_smd_unweighted", style="f3"),
                    ctx.num("weighting", analysis, "max_abs_smd_weighted", style="f3"),
                    "yes" if ctx.value("weighting", analysis, "balanced") else "NO",
                    ctx.num("weighting", analysis, "max_abs_smd_balanceable", style="f3"),
                    "; ".join(ctx.value("weighting", analysis, "left_to_outcome_model") or [])
                    or "none",
                ]
                + [ctx.num("weighting", analysis, "ess", arm, style="f1") for arm in ctx.arms]
            )
        threshold = ctx.num("weighting", adjusted[0], "balance_threshold", style="f2")
        blocks.append(
            Table(
                ["analysis", "method", "target population", "max |SMD| before",
                 "max |SMD| after", "balanced", "max |SMD| after, balanceable",
                 "left to the outcome models (arms)", *[f"ESS {arm}" for arm in ctx.arms]],
                rows,
                caption="Weights and the balance they achieved",
                note="ESS: Kish effective sample size of the weighted arm; balanced: max |SMD| "
                f"after weighting below {threshold}. SMD: difference of the two arms' (weighted) "
                "means over the root of the mean of their unweighted variances, the same "
                "before and after weighting. A 0/1 covariate held by too few "
                "patients of an arm (fewer than the plan's weighting.arm_level_min) is not "
                "balanced in that arm: the weights would rest on those few patients; it is left "
                "to the outcome models, which adjust for every covariate, and the balanceable "
                "column is the largest |SMD| over the other covariates.",
            )
        )  # fmt: skip
        warnings = [
            (analysis, text)
            for analysis in adjusted
            for text in ctx.value("weighting", analysis, "warnings") or []
        ]
        if warnings:
            blocks.append(Heading(3, "Weighting warnings"))
            blocks.append(Items([[f"{ctx.label(a)}: ", text] for a, text in warnings]))
        table_one = _table_one(ctx, ctx.primary)
        if table_one is not None:
            blocks.append(table_one)
        blocks += _balance_figures(ctx, adjusted)
    else:
        blocks.append(Paragraph(["No adjusted analysis was run: no weights."]))
    return Section("cohort", "Cohort and balance", blocks)


def _balance_figures(ctx: ReportContext, adjusted: list[str]) -> list:
    """The love plot of the primary adjusted analysis and the propensity-overlap plot."""
    blocks: list = []
    balance = ctx.tables.get("weighting/balance")
    if balance is not None:
        for analysis in adjusted[:1]:  # the primary; the others' balance is in the table
            summary = balance[balance["analysis"] == analysis]
            if summary.empty:
                continue
            name = f"love_plot_{file_stem(analysis)}"
            png, _ = love_plot(
                summary,
                ctx.figures / name,
                threshold=float(ctx.value("weighting", analysis, "balance_threshold")),
                title=f"Balance before and after weighting ({ctx.label(analysis)})",
            )
            ctx.figure_files[name] = png
            blocks.append(
                Figure(
                    png,
                    f"Love plot ({ctx.label(analysis)}): largest pairwise |SMD| of each "
                    "covariate (level) before (open) and after (filled) weighting; dashed "
                    "line: the balance threshold.",
                    relative_to=ctx.out_dir,
                )
            )
    overlap = ctx.tables.get("weighting/overlap")
    if overlap is not None:
        part = overlap[overlap["analysis"] == ctx.primary]
        if not part.empty:
            png, _ = overlap_summary_plot(
                part, ctx.figures / "overlap", arms=ctx.arms, colours=arm_colours(ctx.arms)
            )
            ctx.figure_files["overlap"] = png
            blocks.append(
                Figure(
                    png,
                    "Propensity overlap: for each arm k, the generalised propensity of k "
                    "among the patients of each actual arm (median, interquartile range, "
                    "5th-95th percentiles; shaded: common support).",
                    relative_to=ctx.out_dir,
                )
            )
    return blocks
