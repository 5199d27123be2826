"""The calibration section of the report and the supplement: can the intervals be read at face value?

Every number comes from the ``calibration`` block of ``results.json`` through the context's
ledger; the pipeline writes that block from a ``cit-bayes calibrate`` folder (the one shipped with
the package, ``data/calibration/default/``, or a user's own: ``cit_bayes.pipeline``). The SBC
figures are the calibration's own, copied into the report's ``figures/`` with the prefix
:data:`FIGURE_PREFIX`. Nothing here computes a statistic: the verdicts are the calibration's
sentences and the words of the block's ``status``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cit_bayes._paths import project_root
from cit_bayes.report.document import Banner, Code, Heading, Items, Paragraph, Table
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section
from cit_bayes.report.sections_patient import figure_block

__all__ = ["FIGURE_PREFIX", "TITLE", "calibration_blocks", "calibration_section"]

#: Prefix of the calibration's figures in the report's ``figures/`` folder.
FIGURE_PREFIX = "calibration_"
#: The section's title (the page's navigation, the supplement's heading).
TITLE = "Calibration of the intervals"

#: What each analysis of a calibration is in this report's words.
_ANALYSES = {
    "unadjusted": "the unadjusted analysis",
    "fixed weights": "the adjusted analysis with its weights held fixed (as this report fits it)",
    "design uncertainty": (
        "the adjusted analysis with the weighting step's uncertainty (the design-uncertainty "
        "robustness variant)"
    ),
}
#: The block's ``status`` of a scenario and analysis, in words, in the order listed.
_STATUS = {
    "face value": "can be read at face value",
    "conservative": "conservative (wider than needed)",
    "too narrow": "too narrow, not to be read at face value",
    "no verdict": "no verdict (too few replicates)",
}
_NONE = (
    "No calibration of the intervals accompanies this run: run ",
    "cit-bayes calibrate --out DIR",
    " (docs/calibration.md) and then ",
    "cit-bayes run --calibration DIR",
    " to measure how often these analyses' credible intervals cover the truth (the package's "
    "own calibration of its default plan, in ",
    "data/calibration/default/",
    ", is used by default where it is installed).",
)


def calibration_section(ctx: ReportContext) -> Section:
    """The report's section "Calibration of the intervals".

    Examples
    --------
    Without a ``calibration`` block in ``results.json`` the section says so in one sentence:

    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> section = calibration_section(build_context(ledger, {}, None, "."))
    >>> section.anchor, section.blocks[0].runs[0]
    ('calibration', 'No calibration of the intervals accompanies this run: run ')
    """
    return Section("calibration", TITLE, calibration_blocks(ctx))


def calibration_blocks(ctx: ReportContext, *, heading: int | None = None) -> list:
    """The section's blocks (with a ``heading`` of that level first, for the supplement).

    Copies the calibration's SBC figures into ``ctx.figures`` (prefix :data:`FIGURE_PREFIX`)
    and registers them in ``ctx.figure_files``.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> blocks = calibration_blocks(build_context(ledger, {}, None, "."), heading=2)
    >>> blocks[0].text, len(blocks)
    ('Calibration of the intervals', 2)
    """
    head = [] if heading is None else [Heading(heading, TITLE)]
    if not ctx.has("calibration"):
        return head + [Paragraph([run if i % 2 == 0 else Code(run) for i, run in enumerate(_NONE)])]
    blocks = head + _provenance(ctx) + _face_value(ctx) + _coverage_tables(ctx)
    return blocks + _sbc_blocks(ctx, sub=(heading or 2) + 1)


def _num(ctx: ReportContext, *path, style: str):
    return ctx.num("calibration", *path, style=style)


def _provenance(ctx: ReportContext) -> list:
    """What was measured, on what data, by which calibration, and whether it is this plan's."""
    block = ctx.value("calibration")
    run_on, plan, sampler = block.get("run_on", {}), block["plan"], block.get("sampler", {})
    whose = "the one shipped with the package" if block["source"] == "shipped" else "a user's own"
    blocks: list = [
        Paragraph(
            ["Whether a credible interval can be read at face value (an interval of a given "
             "level covering the truth in that share of repeated data) is measured, not "
             "assumed: the adjusted posteriors are weighted pseudo-posteriors, whose "
             "calibration nothing guarantees. What was "
             f"measured: {block['what']}. These numbers come from simulated data, not from "
             f"this cohort: {block['synthetic']}."]
        ),
        Paragraph(
            [f"The calibration shown is {whose} (", Code(str(block["path"])), "), written by "
             "cit-bayes ", Code(str(run_on.get("cit_bayes", "—"))), " on ",
             str(run_on.get("written", "—")), " (Python ", str(run_on.get("python", "—")), ", ",
             str(run_on.get("machine", "—")), ", ", _num(ctx, "run_on", "cores", style="int"),
             " cores) for the plan ", Code(str(plan["name"])), " (SHA-256 ",
             Code(str(plan["sha256"])), "; primary estimand ",
             str(block.get("primary_estimand", "—")).upper(), "): ",
             _num(ctx, "sampler", "chains", style="int"), " chains of ",
             _num(ctx, "sampler", "draws", style="int"), " draws after ",
             _num(ctx, "sampler", "tune", style="int"), " tuning steps (",
             Code(str(sampler.get("sampler", "—"))), "), simulated cohorts of ",
             _num(ctx, "n", style="int"), " patients, ",
             _num(ctx, "replicates_per_scenario", style="int"), " replicates per scenario (",
             ", ".join(block.get("scenarios", [])), "), ",
             _num(ctx, "sbc_replicates", style="int"), " SBC replicates per model; analyses: ",
             ", ".join(block.get("analyses", [])), "; models: ",
             ", ".join(block.get("endpoints", [])), "."]
        ),
    ]  # fmt: skip
    own = ctx.results["meta"].get("plan", {})
    if not block["same_plan"]:
        blocks.append(
            Banner(
                "note",
                ["The calibration was run on another analysis plan (", Code(str(plan["name"])),
                 ", SHA-256 ", Code(str(plan["sha256"])), ") than this run's (",
                 Code(str(own.get("name", "—"))), ", SHA-256 ", Code(str(own.get("sha256", "—"))),
                 "): its coverage may not apply to these intervals. Run ",
                 Code("cit-bayes calibrate --plan PLAN --out DIR"), " and ",
                 Code("cit-bayes run --calibration DIR"), " for this plan's."],
            )
        )  # fmt: skip
    elif not block.get("same_estimand", True):
        blocks.append(
            Banner(
                "note",
                ["The calibration judged the intervals against another primary estimand (",
                 str(block.get("primary_estimand", "—")).upper(), ") than this run's: its "
                 "coverage may not apply to these intervals."],
            )
        )  # fmt: skip
    return blocks


def _statuses(ctx: ReportContext) -> dict[str, dict[str, list[str]]]:
    """Analysis -> status -> the scenarios with that status."""
    out: dict[str, dict[str, list[str]]] = {}
    for scenario, analyses in ctx.value("calibration", "coverage", "scenarios").items():
        for analysis, entry in analyses.items():
            out.setdefault(analysis, {}).setdefault(entry["status"], []).append(scenario)
    return out


def _face_value(ctx: ReportContext) -> list:
    """The plain answer: can the intervals be read at face value, per analysis and scenario."""
    level = _num(ctx, "coverage", "level", style="pct0")
    statuses = _statuses(ctx)
    found = {status for by_status in statuses.values() for status in by_status}
    rule = [
        " (a verdict needs ", _num(ctx, "coverage", "verdict_replicates", style="int"),
        " replicates, and every quantity's coverage within ",
        _num(ctx, "coverage", "goal", "low", style="pct0"), " to ",
        _num(ctx, "coverage", "goal", "high", style="pct0"),
        " allowing for Monte Carlo error: its Wilson interval overlaps that range)",
    ]  # fmt: skip
    if not statuses:
        answer = ["This calibration holds no coverage replicates: it cannot say whether the ",
                  level, " intervals can be read at face value."]  # fmt: skip
    elif found == {"no verdict"}:
        answer = ["Can the ", level, " intervals be read at face value? This calibration cannot "
                  "say: it has too few replicates for a verdict", *rule, "; its coverage below "
                  "shows the method, not an answer."]  # fmt: skip
    elif found == {"face value"}:
        answer = ["Can the ", level, " intervals be read at face value? Yes: in every scenario "
                  "simulated, every analysis calibrated covered the truth as it should", *rule,
                  "."]  # fmt: skip
    else:
        answer = ["Can the ", level, " intervals be read at face value? Not everywhere", *rule,
                  ":"]  # fmt: skip
    blocks: list = [Paragraph(answer)]
    if statuses and found != {"no verdict"}:
        items = []
        for analysis, by_status in statuses.items():
            parts = [
                f"{_STATUS[s]} in {', '.join(by_status[s])}" for s in _STATUS if s in by_status
            ]
            items.append([f"{_ANALYSES.get(analysis, analysis)}: " + "; ".join(parts) + "."])
        blocks.append(Items(items))
    verdicts = ctx.value("calibration", "verdicts")
    if verdicts:
        blocks += [Paragraph(["The calibration's verdicts, per scenario and analysis:"]),
                   Items([[v] for v in verdicts])]  # fmt: skip
    return blocks


def _cell(ctx: ReportContext, *path) -> list:
    """``coverage (MC SE)`` of the entry at ``path`` in the coverage block, or ``—``."""
    if not ctx.has("calibration", "coverage", "scenarios", *path):
        return ["—"]
    where = ("coverage", "scenarios", *path)
    return [_num(ctx, *where, "coverage", style="pct1"), " (",
            _num(ctx, *where, "mc_se", style="pct1"), ")"]  # fmt: skip


def _coverage_tables(ctx: ReportContext) -> list:
    """The focus arm's differences (coverage with MC SE), then the range over all quantities."""
    scenarios = ctx.value("calibration", "coverage", "scenarios")
    if not scenarios:
        return []
    pairs = ctx.value("calibration", "coverage", "pairs")
    focus_rows, range_rows = [], []
    for scenario, analyses in scenarios.items():
        for analysis, entry in analyses.items():
            for quantity in entry["focus"]:
                focus_rows.append(
                    [scenario, analysis, quantity]
                    + [_cell(ctx, scenario, analysis, "focus", quantity, pair) for pair in pairs]
                )
            extreme = {
                end: [_num(ctx, "coverage", "scenarios", scenario, analysis, end, "coverage",
                           style="pct1"), f" ({entry[end]['quantity']})"]
                for end in ("min", "max")
            }  # fmt: skip
            range_rows.append(
                [scenario, analysis,
                 _num(ctx, "coverage", "scenarios", scenario, analysis, "quantities", style="int"),
                 _num(ctx, "coverage", "scenarios", scenario, analysis, "replicates", style="int"),
                 extreme["min"], extreme["max"], _STATUS.get(entry["status"], entry["status"])]
            )  # fmt: skip
    return [
        Paragraph(
            ["Coverage: the share of simulated cohorts whose ",
             _num(ctx, "coverage", "level", style="pct0"), " interval held the true value, with "
             "its Monte Carlo standard error in parentheses (sqrt(c (1 − c) / R) over the R "
             "replicates). Every analysis is judged against the truth of the primary estimand, "
             "so the unadjusted analysis's confounding bias shows as under-coverage."]
        ),
        Table(
            ["scenario", "analysis", "quantity", *[p.replace(" - ", " − ") for p in pairs]],
            focus_rows,
            caption="Coverage (Monte Carlo SE) of the differences between the focus arm and "
            "each other arm",
            css_class="compact",
        )
        if focus_rows
        else Paragraph(["The calibration holds no difference of this plan's focus arm "
                        "against another arm."]),
        Table(
            ["scenario", "analysis", "quantities", "replicates", "lowest coverage",
             "highest coverage", "verdict"],
            range_rows,
            caption="Coverage over every quantity (arms and differences) of each scenario and "
            "analysis",
            css_class="compact",
        ),
    ]  # fmt: skip


def _folder(ctx: ReportContext) -> Path:
    """The calibration folder (``path`` is relative to the project when inside it)."""
    path = Path(str(ctx.value("calibration", "path")))
    return path if path.is_absolute() else project_root() / path


def _sbc_figure(ctx: ReportContext, model: str, source: Path):
    """Copy the calibration's SBC figure (PNG and SVG) into the report's figures; its block."""
    ctx.figures.mkdir(parents=True, exist_ok=True)
    name = f"{FIGURE_PREFIX}sbc_{model}"
    for suffix in (".png", ".svg"):
        if source.with_suffix(suffix).is_file():
            shutil.copyfile(source.with_suffix(suffix), ctx.figures / f"{name}{suffix}")
    caption = (
        f"Simulation-based calibration of the {model} model (synthetic data from its prior): "
        "ECDF of the PITs minus the uniform CDF, in its simultaneous band (grey); red: outside"
    )
    return figure_block(ctx, name, [ctx.figures / f"{name}.png"], caption, wide=True)


def _sbc_blocks(ctx: ReportContext, *, sub: int) -> list:
    models = ctx.value("calibration", "sbc")
    blocks: list = [Heading(sub, "Simulation-based calibration")]
    if not models:
        return blocks + [
            Paragraph(["This calibration ran no simulation-based calibration (",
                       Code("cit-bayes calibrate --sbc S"), " runs it)."])
        ]  # fmt: skip
    blocks += [
        Paragraph(
            ["Simulation-based calibration (SBC; Talts et al. 2018) checks each model and its "
             "computation on their own terms: parameters drawn from the model's prior, outcomes "
             "from the model, the model refitted. If all is right, the rank of each true value "
             "in its posterior (its PIT) is uniform; each panel of a figure shows the ECDF of "
             "the PITs minus the uniform CDF in a simultaneous band (Säilynoja, Bürkner & "
             "Vehtari 2022), one band per test quantity, widened for their number (Bonferroni) "
             "to the family-wise level each sentence below states."]
        ),
        Items([[v] for v in ctx.value("calibration", "sbc_verdicts")]),
        Table(
            ["model", "replicates", "test quantities", "outside their band",
             "fits missing a gate"],
            [[model] + [_num(ctx, "sbc", model, field, style="int")
                        for field in ("replicates", "quantities", "outside_band",
                                      "fits_missing_a_gate")]
             for model in models],
            caption="Simulation-based calibration of each model",
            css_class="compact",
        ),
    ]  # fmt: skip
    folder = _folder(ctx)
    for model, entry in models.items():
        if "figure" in entry and (folder / entry["figure"]).is_file():
            blocks.append(_sbc_figure(ctx, model, folder / entry["figure"]))
    return blocks
