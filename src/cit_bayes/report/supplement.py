"""The methods supplement (``methods_supplement.md`` and ``.tex``), written from what was run.

Every result number (patients, balance, ESS, diagnostics, settings recorded in ``results.json``)
is looked up through a ledger of its own, written as ``tables/supplement_numbers.csv``. This
module assembles the supplement and writes its sections on the data and derived outcomes, the
weighting and balance achieved, the estimands, the software and the limitations; the models and
priors (read from the analysis plan that was run) are
:mod:`cit_bayes.report.supplement_models`, the sampling and diagnostics
:mod:`cit_bayes.report.supplement_computation`. The text changes with the run: the estimands and
analyses, the weighting method, the diagnostics achieved, the failed fits, whether the data are
synthetic, and the calibration of the intervals shown with the run
(:mod:`cit_bayes.report.sections_calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping

from cit_bayes.report.checklists import barg_blocks, target_blocks
from cit_bayes.report.document import Code, Heading, Items, Paragraph, Table, prose
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.sections_balance import (
    imputation_paragraph,
    lab_paragraph,
    response_rule_text,
)
from cit_bayes.report.sections_calibration import calibration_blocks
from cit_bayes.report.sections_checks import banners
from cit_bayes.report.sections_confounding import confounding_blocks
from cit_bayes.report.supplement_computation import computation_blocks
from cit_bayes.report.supplement_models import model_blocks

__all__ = ["supplement_blocks", "supplement_title"]

_METHODS = {
    "entropy": (
        "k-arm entropy balancing (Hainmueller 2012, every arm balanced to one common target): the "
        "weights of each arm are those closest to uniform (in Kullback-Leibler divergence) for "
        "which the arm's weighted means of the covariate design equal the target population's "
        "means (numeric covariates standardised, categorical covariates as level indicators, "
        "rare levels pooled). Where exact balance is infeasible for an arm, the directions that "
        "cannot be balanced are left as they are and the weighting says so (warnings below)."
    ),
    "propensity": (
        "generalised propensity scores from a multinomial logistic model of the arm on the "
        "covariates, turned into the estimand's balancing weights (Li & Li 2019)."
    ),
}

_ESTIMANDS = {
    "none": "no weights, no covariates: each arm's own patients (the paper's comparison)",
    "ate": "average treatment effect over all patients of the cohort (tilting $h = 1$)",
    "ato": (
        "average effect in the overlap population, the patients who could plausibly have "
        "received any arm ($h = 1 / \\sum_k 1/e_k(x)$; Li & Li 2019)"
    ),
    "att": "average effect among the patients of one arm ($h = e_t(x)$)",
}

_REFERENCES = [
    "Hainmueller J. Entropy balancing for causal effects. Polit Anal 2012;20:25-46.",
    "Li F, Li F. Propensity score weighting for causal inference with multiple treatments. "
    "Ann Appl Stat 2019;13:2389-2415.",
    "Robins JM. A new approach to causal inference in mortality studies with a sustained "
    "exposure period. Math Model 1986;7:1393-1512.",
    "Savitsky TD, Toth D. Bayesian estimation under informative sampling. Electron J Stat "
    "2016;10:1677-1708.",
    "Prentice RL, Gloeckler LA. Regression analysis of grouped survival data with application "
    "to breast cancer data. Biometrics 1978;34:57-67.",
    "Royston P, Parmar MKB. Restricted mean survival time. BMC Med Res Methodol 2013;13:152.",
    "Lewandowski D, Kurowicka D, Joe H. Generating random correlation matrices based on vines "
    "and extended onion method. J Multivar Anal 2009;100:1989-2001.",
    "Vehtari A, Gelman A, Simpson D, Carpenter B, Bürkner P-C. Rank-normalization, folding, "
    "and localization: an improved R-hat. Bayesian Anal 2021;16:667-718.",
    "VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the "
    "E-value. Ann Intern Med 2017;167:268-274.",
    "McCandless LC, Gustafson P, Levy A. Bayesian sensitivity analysis for unmeasured "
    "confounding in observational studies. Stat Med 2007;26:2331-2347.",
    "Gustafson P. On model expansion, model contraction, identifiability and prior information. "
    "Stat Sci 2005;20:111-140.",
    "Zhou X, Reiter JP. A note on Bayesian inference after multiple imputation. Am Stat "
    "2010;64:159-163.",
    "Kruschke JK. Bayesian analysis reporting guidelines. Nat Hum Behav 2021;5:1282-1291.",
    "Hernán MA, Robins JM. Using big data to emulate a target trial when a randomized trial is "
    "not available. Am J Epidemiol 2016;183:758-764.",
    "Cashin AG, Hansford HJ, Hernán MA, et al. Transparent reporting of observational studies "
    "emulating a target trial: the TARGET statement. JAMA 2025 (doi:10.1001/jama.2025.13350).",
]


def supplement_title(ctx: ReportContext) -> str:
    """The supplement's title (the plan's title where the plan is known).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cit_bayes.report.supplement import supplement_title
    >>> supplement_title(SimpleNamespace(plan=SimpleNamespace(title="CIT cohort, 2024")))
    'Methods supplement: CIT cohort, 2024'
    """
    title = getattr(ctx.plan, "title", None) or "Adjusted Bayesian reanalysis"
    return f"Methods supplement: {title}"


def _per_arm(ctx: ReportContext, *path, style: str = "int") -> list:
    runs: list = []
    for i, arm in enumerate(ctx.arms):
        runs += [", " if i else "", f"{arm} ", ctx.num(*path, arm, style=style)]
    return runs


def _data_blocks(ctx: ReportContext) -> list:
    meta, p = ctx.results["meta"], ctx.primary
    data = meta.get("data", {})
    rule = str(data.get("response_rule", "any"))
    blocks: list = [
        Heading(2, "Data and derived outcomes"),
        Paragraph(
            ["The cohort file ", Code(str(data.get("file", "—"))), " (SHA-256 fingerprint ",
             Code(str(data.get("fingerprint", "—"))), ") was validated and its outcomes derived "
             "by cit-bayes. Patients per arm: ", *_per_arm(ctx, "meta", "data", "patients"),
             ". Rows dropped at validation, per arm: ",
             *_per_arm(ctx, "meta", "data", "n_dropped_by_arm"), "."]
        ),
    ]  # fmt: skip
    if meta.get("synthetic"):
        blocks.append(
            Paragraph(
                ["The cohort is synthetic (reconstructed from the published tables or simulated); "
                 "it is not patient data."]
            )
        )  # fmt: skip
    for extra in (lab_paragraph(ctx), imputation_paragraph(ctx)):
        if extra is not None:
            blocks.append(extra)
    days = list(ctx.results["plt"][p].get("mean", {}))
    recovery = ctx.results["recovery"][p]
    blocks.append(
        Items(
            [
                [f"Response (rule {rule}): {response_rule_text(rule, ctx.planned_days)}. "
                 "Patients analysed: ",
                 *_per_arm(ctx, "response", p, "n_analysed"), "."],
                ["Platelet count (×10⁹/L) at baseline and on ", ", ".join(days),
                 "; patients with a follow-up count: ", *_per_arm(ctx, "plt", p, "n_analysed"),
                 "."],
                ["Time to platelet recovery: ", str(recovery.get("population", "")),
                 ". Patients analysed: ", *_per_arm(ctx, "recovery", p, "n_analysed"), "."],
                ["Safety events: ", ", ".join(ctx.results["safety"][p].get("rate", {})),
                 " (patients with each event recorded in the table below)."],
            ]
        )
    )  # fmt: skip
    recorded = ctx.results["safety"][p].get("n_recorded", {})
    blocks.append(
        Table(
            ["event", *ctx.arms],
            [
                [event]
                + [ctx.num("safety", p, "n_recorded", event, arm, style="int") for arm in ctx.arms]
                for event in recorded
            ],
            caption="Patients with each safety event recorded",
        )
    )
    return blocks


def _weighting_blocks(ctx: ReportContext) -> list:
    adjusted = ctx.adjusted_analyses()
    blocks: list = [Heading(2, "Weighting and balance achieved")]
    if not adjusted:
        return blocks + [Paragraph(["No adjusted analysis was run."])]
    methods = sorted({str(ctx.value("weighting", a, "method")) for a in adjusted})
    covariates = ", ".join(ctx.results["meta"].get("data", {}).get("covariates", []))
    blocks.append(
        Paragraph(
            [f"Covariates: {covariates}. Weights: "]
            + [_METHODS.get(m, f"method {m}.") + " " for m in methods]
            + ["Balance is measured by the absolute standardised mean difference (SMD) of every "
               "covariate level between every pair of arms; the goal was a largest |SMD| below ",
               ctx.num("weighting", adjusted[0], "balance_threshold", style="f2"), "."]
        )
    )  # fmt: skip
    rows = []
    for analysis in adjusted:
        rows.append(
            [
                ctx.label(analysis),
                str(ctx.value("weighting", analysis, "target_population")),
                ctx.num("weighting", analysis, "max_abs_smd_unweighted", style="f3"),
                ctx.num("weighting", analysis, "max_abs_smd_weighted", style="f3"),
                "yes" if ctx.value("weighting", analysis, "balanced") else "no",
            ]
            + [ctx.num("weighting", analysis, "ess", arm, style="f1") for arm in ctx.arms]
        )
    blocks.append(
        Table(
            ["analysis", "target population", "max |SMD| before", "max |SMD| after", "balanced",
             *[f"ESS {arm}" for arm in ctx.arms]],
            rows,
            caption="Balance and effective sample size (Kish) achieved",
        )
    )  # fmt: skip
    warnings = [
        [f"{ctx.label(a)}: ", w] for a in adjusted for w in ctx.value("weighting", a, "warnings")
    ]
    if warnings:
        blocks += [Paragraph(["The weighting warned:"]), Items(warnings)]
    return blocks


def _pooling_limitation(ctx: ReportContext) -> str:
    priors = getattr(ctx.plan, "priors", None) or {}
    pooled = [name for name, prior in priors.items() if getattr(prior, "pool_arms", False)]
    if pooled:
        return (
            "In the " + ", ".join(pooled) + " model(s) the plan pools the arms: their effects "
            "are shrunk toward each other by a between-arm SD learned from the arms, which pulls "
            "an arm with a distinct effect (or a small Kish effective sample size) toward the "
            "others; the differences then depend on that pooling as much as on the data."
        )
    return (
        "The arms are small and each arm's effects are estimated on their own (independent, "
        "weakly informative priors; no pooling across regimens): where an arm's data are thin, "
        "its posterior leans on its own prior, not on the other arms."
    )


def _estimand_blocks(ctx: ReportContext) -> list:
    level = ctx.level_text()
    items = []
    for analysis in ctx.analyses:
        estimand = ctx.estimands.get(analysis, "none")
        mark = " (primary)" if analysis == ctx.primary else ""
        items.append(
            [
                Code(analysis),
                f"{mark}: ",
                *prose(_ESTIMANDS.get(estimand, f"estimand {estimand}")),
                ".",
            ]
        )
    return [
        Heading(2, "Estimands and g-computation"),
        Items(items),
        Paragraph(
            ["Each arm's marginal quantity (response rate, mean platelet count, cumulative "
             "recovery and RMTR) is the model's prediction for every patient under that arm, "
             "averaged over the target population with the tilting h (g-computation; Robins "
             "1986), in every posterior draw. Comparisons are computed draw by draw: differences "
             "and ratios of arms, P(A > B) as the share of draws in which it holds, and "
             "non-inferiority of A to B as P(rate A − rate B > −margin) with the plan's margin of ",
             ctx.num("meta", "noninferiority_margin", style="pp0"),
             " percentage points. Credible intervals are equal-tailed at ", level, ". Safety "
             "rates are adjusted by weighting alone."]
        ),
        *_cross_check_blocks(ctx),
    ]  # fmt: skip


def _cross_check_blocks(ctx: ReportContext) -> list:
    """The frequentist cross-checks as recorded (their methods are words in the results)."""
    p = ctx.primary
    items = []
    for endpoint, what in (("response", "Response"), ("recovery", "Recovery")):
        if ctx.has(endpoint, p, "frequentist", "method"):
            items.append([f"{what}: ", str(ctx.value(endpoint, p, "frequentist", "method")), "."])
    if not items:
        return []
    return [
        Paragraph(["Frequentist cross-checks reported beside the posteriors (same weights):"]),
        Items(items),
    ]


def _software_blocks(ctx: ReportContext) -> list:
    meta = ctx.results["meta"]
    versions = [f"{k} {v}" for k, v in meta.get("software", {}).items()]
    return [
        Heading(2, "Software"),
        Paragraph(
            ["cit-bayes ", Code(str(meta.get("package_version", "—"))), "; ", ", ".join(versions),
             ". The fits are saved as ArviZ InferenceData (", Code("idata/"), ") with their "
             "provenance (plan hash, seed, sampler settings, data fingerprint)."]
        ),
    ]  # fmt: skip


def _limitations_blocks(ctx: ReportContext) -> list:
    meta = ctx.results["meta"]
    covariates = ", ".join(meta.get("data", {}).get("covariates", []))
    text = []
    if meta.get("synthetic"):
        text.append(
            "The data are synthetic: the cohort was reconstructed from the paper's published "
            "tables (or simulated), so patient-level associations that the tables do not pin "
            "down are assumptions of the reconstruction; the numbers illustrate the method and "
            "are not clinical evidence."
        )
    text += [
        "The study is observational. The adjusted estimates are causal only if, given the "
        f"covariates ({covariates}), the arm received is independent of the potential outcomes "
        "(no unmeasured confounding), every patient could have received every arm (positivity) "
        "and the treatments are well defined (consistency); none of these can be checked from "
        "the data, and an unmeasured prognostic factor that influenced the choice of arm would "
        "bias every comparison.",
        "Weights enter the models as a weighted pseudo-likelihood, rescaled within arm to the "
        "Kish effective sample size; the weights are treated as fixed, so the posterior does "
        "not carry their estimation uncertainty and is an approximation to a full Bayesian "
        "treatment (Savitsky & Toth 2016). The frequentist weighted estimates beside the "
        "posteriors are a cross-check.",
        "Missing follow-up platelet counts are assumed missing at random given the arm, the "
        "covariates and the recorded counts, and a patient whose counts stop early is censored "
        "at the last recorded day (non-informative censoring).",
        "Time zero is not in the data: the cohort file holds no dates, and day 0 (the "
        "baseline count) is taken as the start of treatment. A patient who became eligible "
        "before starting an arm, or started it before the baseline count, would bring "
        "immortal-time or prevalent-user bias that the design cannot rule out.",
        _pooling_limitation(ctx),
    ]
    if ctx.failed_fits():
        text.append(
            "Some fits missed the diagnostics gates (listed above); their numbers are not "
            "reliable until re-run."
        )
    assumptions = meta.get("assumptions", [])
    blocks: list = [Heading(2, "Limitations")] + [Paragraph([t]) for t in text]
    if assumptions:
        blocks += [
            Paragraph(["The assumptions as recorded with the results:"]),
            Items([[a] for a in assumptions]),
        ]
    return blocks


def supplement_blocks(ctx: ReportContext, *, published: Mapping | None = None) -> list:
    """Every block of the methods supplement, banners first (``published``: its failed fits).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> from cit_bayes.report.supplement_models import ENDPOINTS
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, **{e: {"x": {}} for e in ENDPOINTS}}})
    >>> blocks = supplement_blocks(build_context(ledger, {}, None, "."))
    >>> [b.text for b in blocks if isinstance(b, Heading) and b.level == 2][:3]
    ['Data and derived outcomes', 'Weighting and balance achieved', 'Models and priors']
    """
    intro = Paragraph(
        ["Written by cit-bayes from the run it describes. Every number is read from ", Code("results.json"),
         "; ", Code("tables/supplement_numbers.csv"), " lists each with its key. Prior values "
         "are read from the analysis plan that was run."]
    )  # fmt: skip
    references = [Heading(2, "References"), Items([[r] for r in _REFERENCES])]
    return [
        *banners(ctx, published),
        intro,
        *_data_blocks(ctx),
        *_weighting_blocks(ctx),
        *model_blocks(ctx),
        *_estimand_blocks(ctx),
        *computation_blocks(ctx),
        *calibration_blocks(ctx, heading=2),
        *confounding_blocks(ctx, heading=2),
        *_software_blocks(ctx),
        *_limitations_blocks(ctx),
        *target_blocks(ctx),
        *barg_blocks(ctx),
        *references,
    ]
