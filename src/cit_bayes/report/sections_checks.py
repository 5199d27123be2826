"""The checking sections of the patient-level report: banners, sensitivity, diagnostics, reproducibility.

Numbers come from ``results.json`` (and ``published/results.json`` for the published
reanalysis's fits) through the context's ledger. The only numbers printed that are not results
are the wall-clock times of the pipeline's steps (passed in, labelled as such).
"""

from __future__ import annotations

from collections.abc import Mapping

from cit_bayes.report.document import Banner, Code, Heading, Items, Paragraph, Table
from cit_bayes.report.ledger import pointer
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section
from cit_bayes.report.sections_published import PUBLISHED_DOC, prior_sensitivity_blocks

__all__ = [
    "banners",
    "diagnostics_section",
    "gates_text",
    "reproducibility_section",
    "sensitivity_section",
]


def gates_text(ctx: ReportContext) -> list:
    """The diagnostics gates in words, their values from ``meta.sampler``.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A"]}, "sampler": {"min_ess": 400}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> "".join(map(str, gates_text(build_context(ledger, {}, None, "."))))
    'R-hat ≤ —, bulk and tail ESS ≥ 400, divergences ≤ —'
    """
    return [
        "R-hat ≤ ",
        ctx.num("meta", "sampler", "max_rhat", style="f2"),
        ", bulk and tail ESS ≥ ",
        ctx.num("meta", "sampler", "min_ess", style="int"),
        ", divergences ≤ ",
        ctx.num("meta", "sampler", "max_divergences", style="int"),
    ]


def banners(ctx: ReportContext, published: Mapping | None = None) -> list[Banner]:
    """Synthetic data, failed fits (named), weighting warnings; or that every fit passed.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}, "synthetic": True}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> [banner.kind for banner in banners(build_context(ledger, {}, None, "."))]
    ['synthetic', 'passed']
    """
    meta = ctx.results["meta"]
    out: list[Banner] = []
    if meta.get("synthetic"):
        out.append(
            Banner(
                "synthetic",
                [
                    "SYNTHETIC DATA. The cohort (",
                    Code(str(meta.get("data", {}).get("file", "—"))),
                    ") is reconstructed or simulated, not patient records: its numbers "
                    "illustrate the method and must not be read as clinical evidence.",
                ],
            )
        )
    failed = ctx.failed_fits()
    published_failed = [
        f"published:{name}"
        for name, entry in (published or {}).get("diagnostics", {}).items()
        if not entry.get("passed")
    ]
    if failed or published_failed:
        out.append(
            Banner(
                "failed",
                [
                    "DIAGNOSTICS FAILED. These fits missed a gate (",
                    *gates_text(ctx),
                    "): ",
                    ", ".join(failed + published_failed),
                    ". Their numbers are shown but are not reliable (see the diagnostics).",
                ],
            )
        )
    else:
        out.append(
            Banner("passed", ["Every fit passed the diagnostics gates (", *gates_text(ctx), ")."])
        )
    misfits = ctx.failed_checks()
    if misfits:
        out.append(
            Banner(
                "failed",
                ["PREDICTIVE CHECK FAILED. The observed value lies in the outer 1% of the "
                 "model's replicates (see Predictive checks): ", "; ".join(misfits),
                 ". The model does not reproduce these data; its numbers for them are not "
                 "reliable."],
            )
        )  # fmt: skip
    unbalanced = [
        ctx.label(a) for a in ctx.adjusted_analyses() if not ctx.value("weighting", a, "balanced")
    ]
    warned = [
        ctx.label(a) for a in ctx.adjusted_analyses() if ctx.value("weighting", a, "warnings")
    ]
    if unbalanced or warned:
        runs = ["WEIGHTING. "]
        if unbalanced:
            runs.append(f"Balance was NOT achieved in: {', '.join(unbalanced)}. ")
        if warned:
            runs.append(
                f"The weighting warned (infeasible exact balance or positivity) in: "
                f"{', '.join(warned)}; the warnings are listed with the balance achieved."
            )
        out.append(Banner("note", runs))
    return out


# -------------------------------------------------------------------------------- sensitivity
def _estimand_rows(ctx: ReportContext) -> list[list]:
    analyses, focus = ctx.analyses, ctx.focus
    rows: list[list] = []
    for arm in ctx.arms:
        rows.append(
            [f"response rate, {arm}"]
            + [ctx.interval("response", a, "rate", arm, style="pct1") for a in analyses]
        )
    for arm in ctx.others():
        rows.append(
            [f"P({focus} response > {arm})"]
            + [
                ctx.num("response", a, "prob_superior", f"{focus}>{arm}", style="prob")
                for a in analyses
            ]
        )
    for a_arm, b_arm in ctx.noninferiority_pairs:
        rows.append(
            [f"P({a_arm} non-inferior to {b_arm}, margin {ctx.margin_key})"]
            + [
                ctx.num(
                    "response", a, "prob_noninferior", f"{a_arm} vs {b_arm} @ {ctx.margin_key}",
                    style="prob",
                )
                for a in analyses
            ]
        )  # fmt: skip
    for arm in ctx.others():
        rows.append(
            [f"RMTR difference {focus} − {arm}, days"]
            + [ctx.interval("recovery", a, "difference", f"{focus}-{arm}", style="f1")
               for a in analyses]
        )  # fmt: skip
        rows.append(
            [f"P({focus} recovers faster than {arm})"]
            + [ctx.num("recovery", a, "prob_superior", f"{focus}<{arm}", style="prob")
               for a in analyses]
        )  # fmt: skip
    hr = f"{focus}/{ctx.reference}"
    rows.append(
        [f"day-averaged hazard ratio of recovery {hr} (conditional)"]
        + [ctx.interval("recovery", a, "hazard_ratio", hr, centre="median", style="f2")
           for a in analyses]
    )  # fmt: skip
    return rows


def sensitivity_section(ctx: ReportContext, *, published: bool = False) -> Section:
    """Estimands side by side (unadjusted / each estimand); priors on the published counts.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> section = sensitivity_section(build_context(ledger, {}, None, "."))
    >>> section.anchor, [block.text for block in section.blocks if isinstance(block, Heading)]
    ('sensitivity', ['Estimand sensitivity', 'Prior sensitivity'])
    """
    level = ctx.level_text()
    blocks: list = [
        Heading(3, "Estimand sensitivity"),
        Paragraph(
            [
                "The same models under each analysis: unadjusted (no weights, no covariates) "
                "and adjusted for each estimand (its weights and target population). Answers "
                "that agree across the columns do not hinge on the choice of estimand; the "
                "figure in the Response section shows the rates side by side. Intervals: "
                f"{level} credible intervals.",
            ]
        ),
        Table(
            ["quantity", *[ctx.label(a) for a in ctx.analyses]],
            _estimand_rows(ctx),
            caption="Key answers under each analysis",
        ),
    ]
    if published:
        margin = float(ctx.value("meta", "noninferiority_margin"))
        blocks += prior_sensitivity_blocks(
            ctx.ledger, margin=margin, figures=ctx.out_dir / "published" / "figures"
        )
    else:
        blocks.append(Heading(3, "Prior sensitivity"))
        blocks.append(
            Paragraph(
                [
                    "The patient-level models ran under the plan's priors (listed in the methods "
                    "supplement). The reanalysis of the paper's published counts under five "
                    "prior sets runs with the bundled cohort only (it stands for the paper's); "
                    "this cohort is not the bundled one.",
                ]
            )
        )
    return Section("sensitivity", "Prior and estimand sensitivity", blocks)


# -------------------------------------------------------------------------------- diagnostics
def _fit_row(ctx: ReportContext, name: str) -> list:
    entry = ctx.results["diagnostics"][name]
    return [
        name,
        ctx.num("diagnostics", name, "max_rhat", style="rhat"),
        ctx.num("diagnostics", name, "min_ess_bulk", style="f0"),
        ctx.num("diagnostics", name, "min_ess_tail", style="f0"),
        ctx.num("diagnostics", name, "divergences", style="int"),
        [ctx.num("diagnostics", name, "chains", style="int"), " × ",
         ctx.num("diagnostics", name, "draws", style="int")],
        str(entry.get("sampler", "—")),
        ctx.num("diagnostics", name, "target_accept", style="f2"),
        _gate_cell(entry),
    ]  # fmt: skip


def _gate_cell(entry: dict) -> str:
    """'passed', or what missed and what helps for that kind of miss (Diagnostics.advice)."""
    if entry.get("passed"):
        return "passed"
    text = "FAILED: " + "; ".join(entry.get("failures", []))
    advice = entry.get("advice", [])
    return text + (". What helps: " + " ".join(a + "." for a in advice) if advice else "")


def _published_rows(ctx: ReportContext) -> list[list]:
    document = ctx.ledger.documents[PUBLISHED_DOC]
    rows = []
    for name, entry in document.get("diagnostics", {}).items():

        def number(field: str, style: str, name=name):
            key = pointer("diagnostics", name, field)
            if not ctx.ledger.has(PUBLISHED_DOC, key):
                return "—"
            return ctx.ledger.number(PUBLISHED_DOC, key, style)

        rows.append(
            [
                name,
                number("max_rhat", "rhat"),
                number("min_ess_bulk", "f0"),
                number("min_ess_tail", "f0"),
                number("divergences", "int"),
                str(entry.get("sampler", "—")),
                _gate_cell(entry),
            ]
        )
    return rows


def diagnostics_section(ctx: ReportContext, *, published: bool = False) -> Section:
    """Every fit: R-hat, ESS, divergences, gates passed or failed, sampler and times.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> doc = {"meta": meta, "response": {"x": {}}, "diagnostics": {"response/x": {"passed": True}}}
    >>> section = diagnostics_section(build_context(Ledger({"results": doc}), {}, None, "."))
    >>> section.blocks[1].rows[0][0], section.blocks[1].rows[0][-1]
    ('response/x', 'passed')
    """
    blocks: list = [
        Paragraph(
            ["Gates for every fit: ", *gates_text(ctx),
             ". R-hat is the rank-normalised split R-hat and ESS the bulk and tail effective "
             "sample sizes (Vehtari et al. 2021), over every parameter of the model. A fit that "
             "misses a gate is kept, marked FAILED and named in the banner at the top."]
        ),
        Table(
            ["fit", "max R-hat", "min ESS bulk", "min ESS tail", "divergences",
             "chains × draws", "sampler", "target accept", "result"],
            [_fit_row(ctx, name) for name in ctx.fits()],
            caption="Patient-level fits (endpoint / analysis)",
            css_class="compact",
        ),
    ]  # fmt: skip
    if published:
        blocks.append(
            Table(
                ["fit", "max R-hat", "min ESS bulk", "min ESS tail", "divergences", "sampler",
                 "result"],
                _published_rows(ctx),
                caption="Reanalysis of the published tables (endpoint / prior set)",
                css_class="compact",
            )
        )  # fmt: skip
    return Section("diagnostics", "Diagnostics", blocks)


# ---------------------------------------------------------------------------- reproducibility
def reproducibility_section(ctx: ReportContext, *, command: str = "") -> Section:
    """Versions, seed, plan, data fingerprint, sampler settings, the command (no clock time).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}, "seed": 20240101}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> section = reproducibility_section(build_context(ledger, {}, None, "."))
    >>> [str(run) for run in section.blocks[0].items[2][:2]]
    ['master seed ', '20240101']
    """
    meta = ctx.results["meta"]
    plan, data, sampler = meta.get("plan", {}), meta.get("data", {}), meta.get("sampler", {})
    software = ", ".join(f"{k} {v}" for k, v in meta.get("software", {}).items())
    by_model = sampler.get("target_accept_by_model", {})
    accept = []
    for i, model in enumerate(by_model):
        accept += [", " if i else "", f"{model} ",
                   ctx.num("meta", "sampler", "target_accept_by_model", model, style="f2")]  # fmt: skip
    items = [
        ["cit-bayes ", Code(str(meta.get("package_version", "—")))],
        ["command: ", Code(command or "(not recorded: called from Python)")],
        ["master seed ", ctx.num("meta", "seed", style="int"),
         " (each fit's seed is derived from it and the fit's name)"],
        ["analysis plan ", Code(str(plan.get("file", "—"))), " (", str(plan.get("name", "")),
         "), SHA-256 ", Code(str(plan.get("sha256", "—")))],
        ["data ", Code(str(data.get("file", "—"))), ", fingerprint (SHA-256) ",
         Code(str(data.get("fingerprint", "—"))),
         "; synthetic: " + ("yes" if meta.get("synthetic") else "no")],
        ["sampler ", Code(str(sampler.get("sampler", "—"))), ": ",
         ctx.num("meta", "sampler", "chains", style="int"), " chains × ",
         ctx.num("meta", "sampler", "draws", style="int"), " draws after ",
         ctx.num("meta", "sampler", "tune", style="int"), " tuning steps; target accept ",
         *(accept or [ctx.num("meta", "sampler", "target_accept", style="f2")])],
        ["software: ", software],
        ["outputs beside this page: ", Code("results.json"), " (every number), ", Code("idata/"),
         " (the fits, with provenance), ", Code("tables/"), " (tidy CSV; ",
         Code("tables/report_numbers.csv"), " lists every number printed here with its key), ",
         Code("figures/"), " (PNG and SVG), ", Code("run.json"), " (when this run was made and "
         "the wall-clock seconds of each step and fit: machine-dependent, not results, and kept "
         "out of this page and ", Code("results.json"), " so that the same seed rewrites both "
         "byte for byte)"],
    ]  # fmt: skip
    return Section("reproducibility", "Reproducibility", [Items(items)])
