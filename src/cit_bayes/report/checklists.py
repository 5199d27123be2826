"""The BARG checklist of the methods supplement, filled from what ran (issue 20, item 1, part).

The Bayesian Analysis Reporting Guidelines (Kruschke 2021) ask for six things: explain the
model, report the computation, describe the posterior, report decisions, report sensitivity
analyses, make it reproducible. :func:`barg_blocks` lists each with what this run reports, the
values read from ``results.json`` through the ledger, and the heading of the supplement (or the
report's section) where it stands; where the run cannot answer, it says "not reported" and why.
Nothing is computed here.

The TARGET checklist (Cashin et al. 2025) is not built: its items need the target-trial protocol
a user writes (eligibility, time zero, treatment strategies), which no cohort file holds.
"""

from __future__ import annotations

from cit_bayes.report.document import Heading, Paragraph, Table
from cit_bayes.report.patient_context import ReportContext

__all__ = ["BARG_TITLE", "barg_blocks"]

#: The heading of the checklist in the supplement.
BARG_TITLE = "Reporting checklist: Bayesian Analysis Reporting Guidelines (BARG)"


def _worst(ctx: ReportContext, field: str, largest: bool) -> list:
    """The worst value of a gate over every fit, with the fit's name."""
    diagnostics = ctx.results.get("diagnostics", {})
    values = {n: d[field] for n, d in diagnostics.items() if isinstance(d.get(field), int | float)}
    if not values:
        return ["—"]
    name = (max if largest else min)(values, key=values.get)
    style = "rhat" if field == "max_rhat" else "int"
    return [ctx.num("diagnostics", name, field, style=style), f" ({name})"]


def barg_blocks(ctx: ReportContext) -> list:
    """The checklist: heading, one table (item, what this run reports, where).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}, "seed": 3}
    >>> blocks = barg_blocks(build_context(Ledger({"results": {"meta": meta, "response": {"x": {}}}}),
    ...                                    {}, None, "."))
    >>> blocks[0].text, len(blocks[2].rows)
    ('Reporting checklist: Bayesian Analysis Reporting Guidelines (BARG)', 14)
    """
    meta = ctx.results["meta"]
    failed = ctx.failed_fits()
    robustness = ctx.results.get("robustness", {})
    prior_sets = list(robustness.get("prior_sets", {}))
    variants = [
        r for r in robustness.get("rows", {})
        if r not in ctx.analyses and r != "adjusted" and not r.startswith("prior: ")
    ]  # fmt: skip
    diagnostics = ctx.results.get("diagnostics", {})
    divergent = [n for n, d in diagnostics.items() if (d.get("divergences") or 0) > 0]
    divergence_cell = [f"{len(divergent)} of {len(diagnostics)} fits had any"]
    if divergent:
        divergence_cell += [" (most: ", *_worst(ctx, "divergences", True), ")"]
    divergence_cell.append(
        f"; {len(failed)} of {len(diagnostics)} fits missed a gate"
        + (" (named in the diagnostics table)" if failed else "")
    )
    rows = [
        ["1a. Data and likelihood of each model",
         "response: weighted Bernoulli-logit; PLT: log-normal trajectory with correlated days; "
         "recovery: discrete-time hazard (cloglog), censoring at the last recorded day; safety: "
         "weighted Beta-binomial", "Models and priors"],
        ["1b. Priors, with their justification",
         "every prior value of the plan, per model (table), and the plan's file and hash",
         "Models and priors"],
        ["1c. Prior predictive check",
         "not reported as a figure: simulation-based calibration draws data from the priors "
         "and refits (the calibration shown with the run)", "Calibration of the intervals"],
        ["2a. Software and sampler",
         [f"{meta.get('sampler', {}).get('sampler', '—')} (NUTS), ",
          ctx.num("meta", "sampler", "chains", style="int"), " chains of ",
          ctx.num("meta", "sampler", "draws", style="int"), " draws after ",
          ctx.num("meta", "sampler", "tune", style="int"), " tuning steps"],
         "Computation and diagnostics achieved; Software"],
        ["2b. Convergence: R-hat (worst over every fit)", _worst(ctx, "max_rhat", True),
         "Computation and diagnostics achieved"],
        ["2c. Effective sample size (smallest bulk; smallest tail)",
         [*_worst(ctx, "min_ess_bulk", False), "; ", *_worst(ctx, "min_ess_tail", False)],
         "Computation and diagnostics achieved"],
        ["2d. Divergent transitions; fits that missed a gate", divergence_cell,
         "Computation and diagnostics achieved; Diagnostics"],
        ["3a. Posterior: central tendency and credible intervals",
         ["posterior means with equal-tailed intervals at level ",
          ctx.num("meta", "ci_level", style="f2")], "Key answers; each endpoint's section"],
        ["3b. Derived quantities",
         "marginal rates, mean counts and recovery curves in the estimand's target population "
         "by g-computation over the draws; differences, ratios and probabilities from the same "
         "draws", "Estimands and g-computation"],
        ["3c. Posterior predictive check", "observed against replicated summaries per arm",
         "Predictive checks"],
        ["4. Decisions",
         ["no region of practical equivalence or Bayes factor; non-inferiority is the posterior "
          "probability that the difference exceeds minus the plan's margin of ",
          ctx.num("meta", "noninferiority_margin", style="f2"),
          "; every probability is reported, none turned into a verdict"], "Key answers"],
        ["5. Sensitivity analysis",
         "prior sets: " + (", ".join(prior_sets) or "none")
         + "; analysis variants: " + (", ".join(variants) or "none")
         + "; other estimands; unmeasured confounding (E-values, bias analysis)",
         "Prior and estimand sensitivity; How robust is the conclusion?"],
        ["6a. Reproducibility: seeds and plan",
         ["master seed ", ctx.num("meta", "seed", style="int"),
          ", each fit's derived from it and its name; the plan's SHA-256 in results.json"],
         "Computation and diagnostics achieved"],
        ["6b. Reproducibility: code and data",
         "results.json, the fits (idata/, with provenance) and every table (tables/) beside this "
         "document; the patients' data are not shared (synthetic here)"
         if meta.get("synthetic") else
         "results.json, the fits (idata/, with provenance) and every table (tables/) beside this "
         "document; the patients' data stay with the hospital", "Software"],
    ]  # fmt: skip
    return [
        Heading(2, BARG_TITLE),
        Paragraph(
            [
                "Each item of Kruschke's (2021) guidelines, with what this analysis reports and "
                "where. The values are this run's."
            ]
        ),  # fmt: skip
        Table(["BARG item", "this analysis", "where"], rows, caption="BARG checklist"),
    ]
