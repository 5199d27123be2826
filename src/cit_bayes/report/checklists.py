"""The reporting checklists of the methods supplement (BARG and TARGET), filled from what ran.

The Bayesian Analysis Reporting Guidelines (Kruschke 2021) ask for six things: explain the
model, report the computation, describe the posterior, report decisions, report sensitivity
analyses, make it reproducible. :func:`barg_blocks` lists each with what this run reports, the
values read from ``results.json`` through the ledger, and the heading of the supplement (or the
report's section) where it stands; where the run cannot answer, it says "not reported" and why.
Nothing is computed here.

The TARGET guideline (Cashin et al. 2025; 21 items in six sections) asks for the target trial's
protocol beside its emulation. :func:`target_blocks` writes the emulation table (each protocol
component: the target trial as the plan's sidecar ``<plan>.target-trial.toml`` states it, the
emulation as this run did it, where it is reported) and the checklist. The items are paraphrased from the
statement's sections and topics, not quoted: a journal's submission needs the published
checklist's own wording and numbering, against which these rows are a map. Where this run
cannot answer (the abstract, the rationale, time zero of a retrospective cohort, registration),
the row says "not reported" and why.
"""

from __future__ import annotations

from cit_bayes.report.document import Heading, Paragraph, Table
from cit_bayes.report.patient_context import ReportContext, listing
from cit_bayes.target_trial import COMPONENTS, TargetTrial, target_trial_path

__all__ = ["BARG_TITLE", "TARGET_TITLE", "barg_blocks", "target_blocks"]

#: The heading of the checklist in the supplement.
BARG_TITLE = "Reporting checklist: Bayesian Analysis Reporting Guidelines (BARG)"
#: The heading of the target-trial emulation and its checklist.
TARGET_TITLE = "Target trial emulation and the TARGET checklist"
_NOT_STATED = "not stated (the plan has no <plan>.target-trial.toml, or it leaves this out)"


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


def _emulation(ctx: ReportContext) -> dict[str, list]:
    """How this run emulated each protocol component (runs, numbers from the ledger)."""
    meta, p = ctx.results["meta"], ctx.primary
    data = meta.get("data", {})
    weighting = ctx.results.get("weighting", {}).get(p, {})
    n = sum((data.get("patients") or {}).values())
    days = ", ".join(str(d) for d in data.get("planned_days", []))
    horizon = ctx.results.get("recovery", {}).get(p, {}).get("population", "")
    events = ", ".join(ctx.results.get("safety", {}).get(p, {}).get("rate", {}))
    eligibility = [
        f"the {n} patients of the cohort file in {len(ctx.arms)} arms (rows dropped at "
        "validation: see Data); the criteria were applied by whoever assembled the cohort, and "
        "the file cannot show them"
    ]
    if meta.get("synthetic"):
        eligibility.append("; here a synthetic cohort reconstructed from a paper's tables")
    if weighting:
        assignment = [
            "not randomised: each patient's arm as chosen in practice. Emulated by conditional "
            f"exchangeability: {weighting.get('method', '—')} weights on the covariates "
            f"({listing(data.get('covariates', []))}) toward "
            f"{weighting.get('target_population', '—')}; largest |SMD| ",
            ctx.num("weighting", p, "max_abs_smd_unweighted", style="f2"), " before, ",
            ctx.num("weighting", p, "max_abs_smd_weighted", style="f2"), " after",
        ]  # fmt: skip
        contrast = [
            f"{str(weighting.get('estimand', '')).upper()} in "
            f"{weighting.get('target_population', '—')}: marginal differences and ratios of "
            "the arms' risks, means and recovery curves (g-computation); intercurrent events: "
            "treatment policy for transfusion (part of the regimen as given), death censored "
            "(a hypothetical strategy)"
        ]
    else:
        assignment = ["not randomised, and this run's primary analysis does not adjust for it"]
        contrast = ["the arms' unadjusted (associational) differences"]
    return {
        "eligibility": eligibility,
        "treatment_strategies": [
            f"the arm recorded for each patient ({listing(ctx.arms)}); doses, adherence and "
            "switching are not in the data, and the strategies are taken as given"
        ],
        "assignment": assignment,
        "time_zero": [
            "not reported: the cohort file has no dates. Day 0 is the day of the baseline "
            "count, taken as the start of treatment; whether eligibility, the start of "
            "treatment and the start of follow-up coincide cannot be checked from the data, "
            "so immortal-time and prevalent-user biases are not excluded by design"
        ],
        "follow_up": [f"from day 0 over the recorded days ({days}); recovery: {horizon}"],
        "outcomes": [
            f"response (rule {data.get('response_rule', '—')}), platelet counts on the "
            f"follow-up days, time to recovery, safety events ({events}), as derived from "
            "the cohort file"
        ],
        "causal_contrast": contrast,
        "analysis": [
            "Bayesian outcome models (weighted likelihood) and g-computation over the target "
            f"population; primary analysis: {ctx.label(p)}; every other analysis a "
            "sensitivity analysis"
        ],
    }


_WHERE = {
    "eligibility": "Data and derived outcomes",
    "treatment_strategies": "Data and derived outcomes",
    "assignment": "Weighting and balance achieved",
    "time_zero": "Limitations",
    "follow_up": "Data and derived outcomes",
    "outcomes": "Data and derived outcomes",
    "causal_contrast": "Estimands and g-computation",
    "analysis": "Models and priors; Estimands and g-computation",
}


def _target_rows(ctx: ReportContext, trial: TargetTrial) -> list[list]:
    """The checklist's rows: section, item (paraphrased), this analysis, where."""
    meta = ctx.results["meta"]
    stated = trial.stated()
    authors = "not reported here: the authors' article states it"
    protocol = f"{len(stated)} of {len(COMPONENTS)} components stated in the plan" + (
        "" if len(stated) == len(COMPONENTS) else " (the others: 'not stated in the plan')"
    )
    sensitivity = ["other estimands, analysis variants, prior sets and a bias analysis for "
                   "unmeasured confounding (E-values, latent confounder)"]  # fmt: skip
    return [
        ["Abstract", "Identified as a target trial emulation; question, data, estimand and "
         "main result summarised", authors, "—"],
        ["Introduction", "Why a target trial is emulated (why no randomised trial answers "
         "the question)", authors, "—"],
        ["Introduction", "The causal question", [f"the arms' effects on response, platelet "
         f"counts, recovery and safety: {listing(ctx.arms)}"], "Key answers (report)"],
        ["Methods", "Data source and its fitness for the question",
         ["the cohort file and its fingerprint; its provenance where it has one"
          + (" (synthetic: reconstructed from published tables)" if meta.get("synthetic")
             else "")], "Data and derived outcomes"],
        ["Methods", "Target trial protocol and how each component is emulated",
         protocol, "Target trial emulation (table above)"],
        ["Methods", "Eligibility criteria (target; emulation)", "table above",
         "Target trial emulation"],
        ["Methods", "Treatment strategies (target; emulation)", "table above",
         "Target trial emulation"],
        ["Methods", "Assignment and the emulation of randomisation", "table above; weighting "
         "and balance achieved", "Weighting and balance achieved"],
        ["Methods", "Follow-up: time zero and end", "time zero not reported (no dates in the "
         "data); end of follow-up from the plan", "Target trial emulation; Limitations"],
        ["Methods", "Outcomes and how they were ascertained", "definitions derived from the "
         "cohort file's counts and events", "Data and derived outcomes"],
        ["Methods", "Causal contrasts and estimands", "marginal effects in the estimand's "
         "target population; transfusion by treatment policy, death censored (hypothetical)",
         "Estimands and g-computation"],
        ["Methods", "Identifying assumptions (exchangeability, positivity, consistency)",
         "stated, with what each rests on", "Limitations"],
        ["Methods", "Statistical analysis: models, weights, missing data",
         "models with their priors and equations; weights; missing counts and censoring",
         "Models and priors; Computation and diagnostics achieved"],
        ["Methods", "Sensitivity analyses", sensitivity,
         "Prior sensitivity; How robust is the conclusion?"],
        ["Results", "Participant flow", "patients per arm, rows dropped at validation and "
         "patients analysed per outcome (no screening counts: the cohort file begins after "
         "eligibility)", "Data and derived outcomes"],
        ["Results", "Baseline characteristics before and after weighting",
         "largest |SMD|, variance ratios and Kish ESS per arm", "Weighting and balance "
         "achieved; Cohort (report)"],
        ["Results", "Effect estimates for each estimand, with their uncertainty",
         "posterior means, credible intervals and probabilities of every contrast",
         "Key answers and each endpoint's section (report); results.json"],
        ["Results", "Results of the sensitivity analyses", sensitivity,
         "Prior and estimand sensitivity (report); How robust is the conclusion?"],
        ["Discussion", "Interpretation, limitations and departures of the emulation from "
         "the target trial", "the limitations of this analysis (the interpretation is the "
         "authors')", "Limitations"],
        ["Other", "Protocol and registration", "not reported: a retrospective analysis; its "
         "plan (file and SHA-256) is recorded", "Models and priors"],
        ["Other", "Data and code availability; funding and conflicts",
         "code: cit-bayes with its version, plan and seed; data: "
         + ("synthetic, shipped with the package" if meta.get("synthetic")
            else "the patients' data stay with the hospital")
         + "; funding and conflicts: the authors'", "Software"],
    ]  # fmt: skip


def target_blocks(ctx: ReportContext) -> list:
    """The target-trial emulation table and the TARGET checklist (heading, text, two tables).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}, "seed": 3}
    >>> blocks = target_blocks(build_context(Ledger({"results": {"meta": meta, "response": {"x": {}}}}),
    ...                                      {}, None, "."))
    >>> blocks[0].text, len(blocks[2].rows), len(blocks[4].rows)
    ('Target trial emulation and the TARGET checklist', 8, 21)
    """
    trial = getattr(ctx.plan, "target_trial", None) or TargetTrial()
    emulation = _emulation(ctx)
    rows = [
        [title, getattr(trial, name).strip() or _NOT_STATED, emulation[name], _WHERE[name]]
        for name, title in COMPONENTS.items()
    ]
    source = target_trial_path(getattr(ctx.plan, "path", "") or "plan.toml").name
    return [
        Heading(2, TARGET_TITLE),
        Paragraph(
            [
                f"The trial this analysis emulates, as the plan's sidecar {source} states it, "
                "beside how this run emulated each component "
                "(Hernán and Robins 2016). The emulation is read from the run; where the data "
                "cannot show a component, the row says so."
            ]
        ),  # fmt: skip
        Table(
            ["component", "target trial (the plan)", "emulation (this run)", "reported in"],
            rows,
            caption="Target trial and its emulation",
        ),
        Paragraph(
            [
                "The TARGET items (Cashin et al. 2025), paraphrased by section and topic, each with "
                "what this analysis reports and where; check them against the published "
                "checklist's wording and numbering before submission."
            ]
        ),  # fmt: skip
        Table(
            ["section", "TARGET item (paraphrased)", "this analysis", "where"],
            _target_rows(ctx, trial),
            caption="TARGET checklist",
        ),
    ]
