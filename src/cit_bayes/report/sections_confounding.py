"""The report's section "How robust is the conclusion?": E-values, the bias analysis with a
latent confounder U and the tipping-point figure.

Every number comes from the ``unmeasured_confounding`` block of ``results.json`` through the
context's ledger (:mod:`cit_bayes.confounding.summary` computes it); the words are chosen from
those numbers' values, never computed here.
"""

from __future__ import annotations

import math

from cit_bayes.report.confounding_figures import tipping_point_figure
from cit_bayes.report.document import Heading, Paragraph, Table
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section
from cit_bayes.report.sections_patient import figure_block, split_pair

__all__ = ["TITLE", "confounding_blocks", "confounding_section"]

#: The section's title.
TITLE = "How robust is the conclusion?"
_BLOCK = "unmeasured_confounding"
_ENDPOINTS = {
    "response": "response",
    "plt": "mean PLT on the last day",
    "recovery": "recovered by the horizon",
}


def confounding_section(ctx: ReportContext) -> Section:
    """The section (empty paragraph list when the run has no such block).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> section = confounding_section(build_context(ledger, {}, None, "."))
    >>> section.anchor, len(section.blocks)
    ('robust-conclusion', 1)
    """
    return Section("robust-conclusion", TITLE, confounding_blocks(ctx))


def confounding_blocks(ctx: ReportContext, *, heading: int | None = None) -> list:
    """The section's blocks (a heading of that level first, for the supplement).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> confounding_blocks(build_context(ledger, {}, None, "."))[0].runs[0][:40]
    'No analysis of unmeasured confounding ac'
    """
    head = [] if heading is None else [Heading(heading, TITLE)]
    if not ctx.has(_BLOCK, "evalues"):
        return head + [
            Paragraph(
                [
                    "No analysis of unmeasured confounding accompanies this run (it needs "
                    "the primary adjusted analysis's fits)."
                ]
            )  # fmt: skip
        ]
    a, b = ctx.focus, ctx.reference
    blocks = head + _plain_words(ctx, a, b) + _evalue_table(ctx) + _bias_table(ctx, a, b)
    blocks += _tipping(ctx, a, b)
    blocks += _reconstruction_blocks(ctx)
    return blocks


def _num(ctx: ReportContext, *path, style: str):
    return ctx.num(_BLOCK, *path, style=style)


def _plain_words(ctx: ReportContext, a: str, b: str) -> list:
    """What the E-values and the bias analysis say about the key pair, in words."""
    key = f"{a}/{b}"
    paragraphs = [
        Paragraph(
            ["The adjusted answers assume no unmeasured confounding: given the measured "
             "covariates, the arm a patient received says nothing more about her prognosis. "
             "A retrospective cohort cannot show that. This section asks how strong a "
             "confounder that was not measured would have to be to change the answers, from "
             "the primary analysis's posterior draws (no refit)."]
        )
    ]  # fmt: skip
    parts: list = []
    for endpoint, what in (("response", "response"), ("recovery", "recovery by the horizon")):
        path = ("evalues", endpoint, key)
        if not ctx.has(_BLOCK, *path):
            continue
        contains_null = str(ctx.value(_BLOCK, *path, "limit")).startswith("none")
        parts += [
            f"For {what}, {a} against {b} (risk ratio ",
            _num(ctx, *path, "ratio", "median", style="f2"),
            "), an unmeasured confounder associated with both the arm and the outcome by a "
            "risk ratio of ",
            _num(ctx, *path, "evalue_point", style="f2"),
            " each could explain the whole point estimate away; ",
        ]
        if contains_null:
            parts += ["the credible interval already contains 1 (E-value of the interval 1). "]
        else:
            parts += [
                "one of ",
                _num(ctx, *path, "evalue_limit", style="f2"),
                " each would bring the credible interval to include 1. ",
            ]
        bias = ("bias_analysis", endpoint, f"{a}-{b}")
        if ctx.has(_BLOCK, *bias):
            parts += [
                f"With a confounder U of the stated priors, commoner in the arm the data favour, "
                f"P({a} > {b}) moves from ",
                _num(ctx, *bias, "prob_superior", style="prob"),
                " to ",
                _num(ctx, *bias, "prob_superior_bias_adjusted", style="prob"),
                ". ",
            ]
    if parts:
        paragraphs.append(Paragraph(parts))
    prior = ctx.value(_BLOCK, "prior")
    paragraphs.append(
        Paragraph(
            [
                "The priors of U (plan section [unmeasured_confounding]; "
                "cit_bayes.confounding.bias): prevalence in the second arm of each pair uniform on ",
                _num(ctx, "prior", "prevalence_reference", 0, style="f2"),
                " to ",
                _num(ctx, "prior", "prevalence_reference", 1, style="f2"),
                "; prevalence difference (toward the arm the posterior favours) uniform on ",
                _num(ctx, "prior", "prevalence_difference", 0, style="f2"),
                " to ",
                _num(ctx, "prior", "prevalence_difference", 1, style="f2"),
                "; log odds ratio of U on the favourable outcome normal with mean ",
                _num(ctx, "prior", "log_odds_ratio_mean", style="f2"),
                " and SD ",
                _num(ctx, "prior", "log_odds_ratio_sd", style="f2"),
                f" (odds ratio {_odds(prior['log_odds_ratio_mean'])}). U is assumed independent of "
                "the measured covariates within each arm, with the same effect in both arms on "
                "each arm's marginal log odds; the adjusted risks are standardised to U's mean "
                "prevalence over the pair's patients. Each posterior draw is paired with one draw "
                "of U's parameters (McCandless, Gustafson & Levy 2007, in the transparent "
                "parametrisation where the data leave U's priors unchanged).",
            ]
        )  # fmt: skip
    )
    return paragraphs


def _odds(log_odds_ratio: float) -> str:
    return f"{math.exp(float(log_odds_ratio)):.1f}"


def _evalue_table(ctx: ReportContext) -> list:
    rows = []
    for endpoint, what in _ENDPOINTS.items():
        for key in ctx.value(_BLOCK, "evalues").get(endpoint, {}):
            path = ("evalues", endpoint, key)
            rows.append(
                [what, key.replace("/", " vs "),
                 ctx.interval(_BLOCK, *path, "ratio", style="f2", centre="median"),
                 _num(ctx, *path, "evalue_point", style="f2"),
                 _num(ctx, *path, "evalue_limit", style="f2")]
            )  # fmt: skip
    return [
        Table(
            [
                "outcome",
                "pair",
                f"risk ratio (median, {ctx.level_text()} CrI)",
                "E-value, point",
                "E-value, interval",
            ],
            rows,
            caption="E-values of every pair (VanderWeele & Ding 2017), primary adjusted analysis",
            note="Risk ratios: of the marginal response rates and of the shares recovered by the "
            "horizon in the estimand's target population (posterior median and equal-tailed "
            "interval; no conversion); for the PLT count, exp(0.91 d) with d the difference in "
            "the mean count on the last day over the pooled within-arm SD of the observed "
            "counts that day (an approximation). E-value, interval: of the limit nearest 1, "
            "1 when the interval contains 1.",
        )
    ]


def _bias_table(ctx: ReportContext, a: str, b: str) -> list:
    rows = []
    for endpoint in ("response", "recovery"):
        for key in ctx.value(_BLOCK, "bias_analysis").get(endpoint, {}):
            path = ("bias_analysis", endpoint, key)
            rows.append(
                [_ENDPOINTS[endpoint], key.replace("-", " vs ", 1),
                 _num(ctx, *path, "prob_superior", style="prob"),
                 _num(ctx, *path, "prob_superior_bias_adjusted", style="prob"),
                 [*ctx.interval(_BLOCK, *path, "difference", style="points"), " pp"],
                 [*ctx.interval(_BLOCK, *path, "difference_bias_adjusted", style="points"),
                  " pp"]]
            )  # fmt: skip
    return [
        Table(
            [
                "outcome",
                "pair",
                "P(first > second)",
                "P, adjusted for U",
                "difference",
                "difference, adjusted for U",
            ],
            rows,
            caption="Bayesian bias analysis with a latent binary confounder U (stated priors)",
            note=f"Differences: posterior means with {ctx.level_text()} credible intervals of the "
            "first arm's "
            "risk minus the second's. U is commoner in the arm the posterior favours, so the "
            "adjusted numbers show how far each answer could fall, not whether it could rise.",
        )  # fmt: skip
    ]


def _tipping(ctx: ReportContext, a: str, b: str) -> list:
    tipping = ctx.value(_BLOCK, "tipping")
    if not tipping:
        return []
    synthetic = bool(ctx.results["meta"].get("synthetic"))
    note = (
        "SYNTHETIC cohort: the benchmarks' strengths are the reconstruction's assumptions"
        if synthetic
        else ""
    )
    paths = tipping_point_figure(
        tipping, ctx.value(_BLOCK, "benchmarks"), ctx.figures / "tipping_point",
        focus=a, reference=b, note=note,
    )  # fmt: skip
    words: list = []
    for endpoint in ("response", "recovery"):
        if endpoint not in tipping:
            continue
        differences = tipping[endpoint]["prevalence_differences"]
        ratios = tipping[endpoint]["tipping_odds_ratio"]["0.95"]
        j = min(range(len(differences)), key=lambda k: abs(differences[k] - 0.2))
        shown = ratios[j]
        lead = f"For {_ENDPOINTS[endpoint]}, a U 20 points commoner in {a} than in {b} "
        if isinstance(shown, str):  # no odds ratio on the grid brings it below 0.95
            words += [
                lead + f"keeps P({a} > {b}) at 0.95 or above up to the largest odds ratio shown (",
                _num(
                    ctx,
                    "tipping",
                    endpoint,
                    "odds_ratios",
                    len(tipping[endpoint]["odds_ratios"]) - 1,
                    style="f2",
                ),  # fmt: skip
                "). ",
            ]
        else:
            words += [
                lead + f"brings P({a} > {b}) below 0.95 from an odds ratio of ",
                _num(ctx, "tipping", endpoint, "tipping_odds_ratio", "0.95", j, style="f2"),
                ". ",
            ]
        marks = ctx.value(_BLOCK, "benchmarks").get(endpoint, [])
        if marks:
            words += [
                "The measured covariate that would bias most if it had been left out is ",
                str(marks[0]["covariate"]),
                " (prevalence difference ",
                _num(ctx, "benchmarks", endpoint, 0, "prevalence_difference", style="f2"),
                " before weighting, odds ratio ",
                _num(ctx, "benchmarks", endpoint, 0, "odds_ratio", style="f2"),
                "). ",
            ]
    caption = (
        f"P({a} > {b}) after adjusting for an unmeasured binary confounder U of fixed "
        f"strength: U's prevalence 0.5 + d/2 in {a} and 0.5 - d/2 in {b} (x: d), its odds "
        "ratio on the outcome (y); black lines: 0.5, 0.8, 0.9, 0.95. Points: the measured "
        "covariates that would bias most if left out (|prevalence difference| before "
        "weighting, odds ratio from the adjusted model; for recovery a log hazard ratio read "
        "as a log odds ratio)." + (" SYNTHETIC cohort." if synthetic else "")
    )
    return [Paragraph(words), figure_block(ctx, "tipping_point", paths, caption, wide=True)]


def _reconstruction_blocks(ctx: ReportContext) -> list:
    """What a reconstructed cohort rests on: its provenance's assumptions, as a table."""
    if not ctx.results["meta"].get("synthetic"):
        return [
            Paragraph(
                ["No reconstruction is involved: the cohort's own records; the measured "
                 "covariates' strengths are estimated from them."]
            )
        ]  # fmt: skip
    blocks: list = [
        Paragraph(
            ["On a reconstructed (synthetic) cohort every patient-level association, the "
             "benchmarks' strengths among them, is an assumption of the reconstruction plan; "
             "these numbers say how the analysis of this one cohort responds to a confounder, "
             "not how the study's would."]
        )
    ]  # fmt: skip
    if ctx.has("meta", "data", "reconstructions"):
        return blocks + _pooled_reconstruction_blocks(ctx)
    if not ctx.has("meta", "data", "provenance", "assumptions"):
        return blocks
    provenance = ctx.value("meta", "data", "provenance")
    path = ("meta", "data", "provenance", "assumptions")
    assumptions = provenance["assumptions"]
    rows = []
    for term in assumptions.get("prognosis", {}):
        rows.append(["prognostic log odds ratio", term,
                     ctx.num(*path, "prognosis", term, style="f2")])  # fmt: skip
    for name in assumptions.get("loadings", {}):
        rows.append(["copula loading", name, ctx.num(*path, "loadings", name, style="f2")])
    for arm in assumptions.get("recovered", {}):
        rows.append(["recovered by day 14 (patients)", arm,
                     ctx.num(*path, "recovered", arm, style="int")])  # fmt: skip
    if "order_noise" in assumptions:
        rows.append(["order noise (Gumbel scale)", "", ctx.num(*path, "order_noise", style="f2")])
    if "plusminus_read_as" in assumptions:
        rows.append(["Table 4's ± read as", "", str(assumptions["plusminus_read_as"])])
    plan = provenance.get("plan", {})
    blocks.append(
        Table(
            ["assumption", "of", "value"],
            rows,
            caption="What the reconstructed cohort rests on (its provenance sidecar)",
            note=f"Reconstruction plan {plan.get('name', '—')!r} ({plan.get('file', '—')}, "
            f"SHA-256 {str(plan.get('sha256', '—'))[:12]}…), seed {provenance.get('seed')}, "
            f"draw {provenance.get('draw')}"
            + ("" if not provenance.get("drawn") else ", assumptions drawn from their priors")
            + ". None of these values comes from the study's patients.",
        )
    )
    return blocks


_ANSWER_NAMES = {
    "response_difference": ("response difference", "points"),
    "plt_difference": ("PLT difference on the last day (×10⁹/L)", "f1"),
    "recovered_difference": ("recovered by the horizon: difference", "points"),
}


def _pooled_reconstruction_blocks(ctx: ReportContext) -> list:
    """The key answers pooled over M reconstructed cohorts: how far the reconstruction's open
    choices move them, and what each cohort rested on."""
    path = ("meta", "data", "reconstructions")
    block = ctx.value(*path)
    m = block["m"]
    a, b = split_pair(block["pair"], ctx.arms, "-")
    rows = []
    for name in block["key_answers"]:
        what, style = _ANSWER_NAMES.get(name, (name, "f2"))
        at = (*path, "key_answers", name)
        rows.append(
            [what,
             ctx.num(*at, "pooled_mean", style=style),
             [ctx.num(*at, "range_of_means", 0, style=style), " to ",
              ctx.num(*at, "range_of_means", 1, style=style)],
             ctx.num(*at, "pooled_prob_superior", style="prob"),
             [ctx.num(*at, "range_of_prob_superior", 0, style="prob"), " to ",
              ctx.num(*at, "range_of_prob_superior", 1, style="prob")],
             ctx.num(*at, "reconstruction_share", style="pct0")]
        )  # fmt: skip
    blocks: list = [
        Paragraph(
            [
                f"These results pool {m} reconstructed cohorts whose open choices were drawn from "
                "stated priors (",
                str(block["uncertainty"]["file"]),
                ", SHA-256 ",
                str(block["uncertainty"]["sha256"])[:12],
                "…): prognostic effects ",
                str(block["uncertainty"]["prognosis"]),
                "; copula loadings ",
                str(block["uncertainty"]["loadings"]),
                "; recovered patients ",
                str(block["uncertainty"]["recovered"]),
                "; order noise ",
                str(block["uncertainty"]["order_noise"]),
                ". Each cohort reproduces every "
                "published table; each was weighted and fitted on its own and the posterior draws "
                f"were pooled by mixing. {len(block['failed_draws'])} draw(s) failed to meet the "
                "published targets and were replaced by the next seed.",
            ]
        ),  # fmt: skip
        Table(
            [
                "key answer",
                "pooled mean",
                f"range over the {m} cohorts",
                f"P({a} > {b}), pooled",
                "range over the cohorts",
                "share of variance from the reconstruction",
            ],
            rows,
            caption=f"How much the reconstruction's open choices move the key answers ({a} vs {b})",
            note="Range: of each cohort's own posterior mean and probability. Share: the "
            "between-cohort part of the pooled posterior variance (corrected for Monte Carlo "
            "error). The unadjusted answers do not depend on these choices: every cohort "
            "reproduces the published per-arm counts.",
        ),  # fmt: skip
    ]
    cohorts = []
    for k, cohort in enumerate(block["cohorts"]):
        at = (*path, "cohorts", k, "assumptions")
        row = [str(cohort["draw"]),
               ctx.num(*at, "prognosis", "stage_iv", style="f2"),
               ctx.num(*at, "prognosis", "bone_metastasis", style="f2"),
               ctx.num(*at, "loadings", "stage", style="f2"),
               " / ".join(str(v) for v in cohort["assumptions"]["recovered"].values()),
               ctx.num(*at, "order_noise", style="f2")]  # fmt: skip
        for name in block["key_answers"]:
            _, style = _ANSWER_NAMES.get(name, (name, "f2"))
            row.append(ctx.num(*path, "key_answers", name, "per_cohort_mean", k, style=style))
        cohorts.append(row)
    arms = " / ".join(block["cohorts"][0]["assumptions"]["recovered"]) if block["cohorts"] else ""
    blocks.append(
        Table(
            [
                "draw",
                "stage IV log OR",
                "bone metastasis log OR",
                "stage loading",
                f"recovered ({arms})",
                "order noise",
                *(_ANSWER_NAMES.get(n, (n, ""))[0] for n in block["key_answers"]),
            ],
            cohorts,
            caption="What each pooled cohort rested on, and its own key answers (SYNTHETIC)",
            note="A selection of each cohort's drawn assumptions; all of them (every prognostic "
            "log odds ratio and loading) are in results.json, meta.data.reconstructions.cohorts, "
            "with each cohort's data fingerprint.",
        )  # fmt: skip
    )
    return blocks
