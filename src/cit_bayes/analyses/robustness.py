"""How the key answers move with the analysis choices: the robustness table.

The key answers compare the focus arm (the combination) with the recovery reference arm: the
response difference and P(focus > reference), the difference in the mean count on the last day,
and the difference in the share recovered by the last day with P(shorter RMTR). They are read
from the plan's analyses (unadjusted; adjusted, i.e. weights and covariates, under each
estimand) and from the robustness variants the plan asks for (``[robustness] variants``), fitted
on the primary estimand's weights:

``regression only``
    covariates in the outcome models, no weights (g-computation over every patient);
``weights only``
    the weights, no covariates (the weighted difference of arm means, model-based);
``pooled arms``
    weights and covariates with the arms partially pooled (the sensitivity prior of each
    model; recovery then with one shared baseline shape, which pooling needs);
``proportional hazards``
    weights and covariates, the recovery model with proportional hazards (recovery only);
``arm-specific slopes``
    weights and covariates, the PLT model with each arm's own covariate and baseline slopes
    (``arm_slopes``; PLT only): whether a covariate that acts differently under each regimen
    moves the answer;
``no Kish rescaling``
    weights and covariates, each arm's weights rescaled to sum to its number of patients
    instead of its Kish effective sample size (:class:`~cit_bayes.bayes.patient_base.PatientData`
    ``weight_scale``): the same estimates to first order, narrower intervals that overstate
    what weights that vary a lot can tell.

``design uncertainty``
    weights and covariates, the weighting step's own uncertainty in the posterior: each model
    refitted under ``[robustness] design_draws`` Bayesian-bootstrap draws of the design stage
    and the draws pooled (:mod:`cit_bayes.analyses.design_uncertainty`); each answer then also
    gives the share of its posterior variance that comes from the design stage
    (``design_share``).

``prior: <name>``
    weights and covariates under a patient-level prior set of ``[robustness] prior_sets``
    (:mod:`cit_bayes.analyses.prior_sets`: each replaces some prior values of the plan): the
    prior sensitivity of the key answers on the cohort analysed.

Every variant's fits pass through the same gates and are named ``<endpoint>/robustness:
<variant>``. Each row of the table says which answer it moves and by what; the sentence under
the table in the report names the choice that moves P(focus > reference) most. Variants share
the compiled models of the analyses where their structure is the same (regression only,
weights only), so they cost little more than their sampling.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cit_bayes import contrasts
from cit_bayes.analyses.design_uncertainty import design_share, fit_design_uncertainty
from cit_bayes.analyses.prior_sets import apply_prior_set
from cit_bayes.plan import Analysis, AnalysisPlan

__all__ = [
    "PRIOR_SET_ENDPOINTS",
    "VARIANT_ENDPOINTS",
    "fit_robustness",
    "prior_row",
    "robustness_summary",
    "variant_analysis",
]

#: The models each variant fits.
VARIANT_ENDPOINTS = {
    "regression only": ("response", "plt", "recovery"),
    "weights only": ("response", "plt", "recovery"),
    "pooled arms": ("response", "plt", "recovery"),
    "proportional hazards": ("recovery",),
    "arm-specific slopes": ("plt",),
    "no Kish rescaling": ("response", "plt", "recovery"),
    "design uncertainty": ("response", "plt", "recovery"),
}

#: What moves between two rows of the table, for the sentence under it.
DRIVERS = (
    ("unadjusted", "regression only", "adjusting for the covariates (no weights)"),
    ("unadjusted", "weights only", "weighting (no covariates)"),
    ("weights only", "adjusted", "adding the covariates to the weights"),
    ("regression only", "adjusted", "adding the weights to the covariates"),
    ("adjusted", "pooled arms", "pooling the arms"),
    ("adjusted", "proportional hazards", "forcing proportional hazards"),
    ("adjusted", "arm-specific slopes", "giving each arm its own covariate slopes (PLT)"),
    ("adjusted", "no Kish rescaling", "rescaling the weights to the arm sizes, not the Kish ESS"),
    ("adjusted", "design uncertainty", "adding the weighting step's uncertainty"),
)


#: The models a prior set refits (those of the key answers).
PRIOR_SET_ENDPOINTS = ("response", "plt", "recovery")


def prior_row(name: str) -> str:
    """The robustness row (and variant name) of a patient-level prior set.

    Examples
    --------
    >>> prior_row("wide")
    'prior: wide'
    """
    return f"prior: {name}"


def variant_analysis(variant: str, primary: Analysis) -> Analysis:
    """The analysis under which a variant's fits are named (the primary's estimand).

    Examples
    --------
    >>> variant_analysis("weights only", Analysis("adjusted", "ate"))
    Analysis(name='robustness: weights only', estimand='ate')
    """
    return Analysis(f"robustness: {variant}", primary.estimand)


def _variant_priors(variant: str, plan: AnalysisPlan) -> dict:
    priors = dict(plan.priors)
    if variant == "pooled arms":
        for model in ("response", "plt"):
            priors[model] = dataclasses.replace(priors[model], pool_arms=True)
        priors["recovery"] = dataclasses.replace(
            priors["recovery"], pool_arms=True, proportional_hazards=True
        )
    if variant == "proportional hazards":
        priors["recovery"] = dataclasses.replace(priors["recovery"], proportional_hazards=True)
    if variant == "arm-specific slopes":
        priors["plt"] = dataclasses.replace(priors["plt"], arm_slopes=True)
    return priors


def fit_robustness(runner, plan: AnalysisPlan, weighting: dict) -> None:
    """Fit the plan's robustness variants with the runner (each fit kept under its name).

    Examples
    --------
    Without variants nothing is fitted:

    >>> from types import SimpleNamespace
    >>> fit_robustness(None, SimpleNamespace(robustness=()), {})
    """
    prior_sets = getattr(plan, "prior_sets", ())
    if not plan.robustness and not prior_sets:
        return
    primary = next(a for a in plan.analyses() if a.adjusted)
    weighted = weighting[primary.name]
    base = runner.patient_data(weighted)
    for name in prior_sets:  # the primary analysis under each prior set, the models it changes
        prior_set = plan.prior_set_values[name]
        runner.fit(
            variant_analysis(prior_row(name), primary),
            weighted,
            tuple(e for e in PRIOR_SET_ENDPOINTS if e in prior_set.changes),
            data=base,
            priors=apply_prior_set(plan.priors, prior_set),
        )
    for variant in plan.robustness:
        if variant == "design uncertainty":
            fit_design_uncertainty(
                runner,
                variant_analysis(variant, primary),
                weighted,
                base,
                VARIANT_ENDPOINTS[variant],
                plan.design_draws,
            )
            continue
        data, adjust_baseline = base, True
        if variant == "regression only":
            n = base.n
            data = dataclasses.replace(base, weights=np.ones(n), tilt=np.ones(n))
        elif variant == "no Kish rescaling":
            data = dataclasses.replace(base, weight_scale="arm size")
        elif variant == "weights only":
            # no covariates, and no grouping either (it adjusts for the grouping column)
            data, adjust_baseline = (
                dataclasses.replace(
                    base, design=np.zeros_like(base.design), groups=(), group_codes=None
                ),
                False,
            )
        runner.fit(
            variant_analysis(variant, primary),
            weighted,
            VARIANT_ENDPOINTS[variant],
            data=data,
            priors=_variant_priors(variant, plan),
            adjust_baseline=adjust_baseline,
        )


def _difference(draws, focus: str, reference: str, ci_level: float) -> dict:
    """Focus minus reference: mean, SD and credible interval (:func:`contrasts.pairwise`)."""
    data = contrasts.as_draws(draws, [focus, reference])
    table = contrasts.pairwise(data, pairs=[(focus, reference)], ci_level=ci_level)
    return contrasts.interval_fragment(table)[f"{focus}-{reference}"]


def _probability(draws, focus: str, reference: str, *, higher_is_better: bool) -> float:
    """P(focus better than reference) (:func:`contrasts.prob_superior`)."""
    data = contrasts.as_draws(draws, [focus, reference])
    table = contrasts.prob_superior(
        data, pairs=[(focus, reference)], higher_is_better=higher_is_better
    )
    return float(table["prob"].iloc[0])


def _with_share(answer: dict, draws, focus: str, reference: str, fit) -> dict:
    """The answer, and for a pooled design-draws fit the design stage's variance share."""
    design_draws = int(fit.fit.attrs.get("design_draws", 0))
    if design_draws:
        difference = draws.sel(arm=focus, drop=True) - draws.sel(arm=reference, drop=True)
        answer = answer | {"design_share": design_share(difference, design_draws)}
    return answer


def _answers(fits: dict, analysis: str, focus: str, reference: str, plan: AnalysisPlan) -> dict:
    out: dict = {}
    level = plan.spec.ci_level
    fit = fits.get(f"response/{analysis}")
    if fit is not None:
        rate = fit.draws["rate"]
        out["response_difference"] = _with_share(
            _difference(rate, focus, reference, level), rate, focus, reference, fit
        )
        out["prob_response_superior"] = _probability(rate, focus, reference, higher_is_better=True)
    fit = fits.get(f"plt/{analysis}")
    if fit is not None:
        mean = fit.draws["mean"].sel(day=plan.days[-1], drop=True)
        out["plt_difference"] = _with_share(
            _difference(mean, focus, reference, level), mean, focus, reference, fit
        )
    fit = fits.get(f"recovery/{analysis}")
    if fit is not None:
        curve = fit.draws["cumulative_recovery"].isel(day=-1, drop=True)
        out["recovered_difference"] = _with_share(
            _difference(curve, focus, reference, level), curve, focus, reference, fit
        )
        out["prob_faster"] = _probability(
            fit.draws["rmtr"], focus, reference, higher_is_better=False
        )
    passed = [
        fits[f"{e}/{analysis}"].passed
        for e in ("response", "plt", "recovery")
        if f"{e}/{analysis}" in fits
    ]
    return out | {"passed": bool(all(passed))}


def robustness_summary(fits: dict, plan: AnalysisPlan, arms) -> dict | None:
    """The key answers under every analysis and variant, for ``results.json["robustness"]``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> robustness_summary({}, SimpleNamespace(robustness=(), spec=None), ("A",)) is None
    True
    """
    prior_sets = getattr(plan, "prior_sets", ())
    if not plan.robustness and not prior_sets:
        return None
    focus, reference = plan.spec.focus_arm, plan.recovery_reference
    if focus not in arms or reference not in arms or focus == reference:
        return None
    primary = next(a for a in plan.analyses() if a.adjusted)
    rows = {}
    for analysis in plan.analyses():
        label = "adjusted" if analysis == primary else analysis.name
        rows[label] = _answers(fits, analysis.name, focus, reference, plan)
    for variant in (*plan.robustness, *map(prior_row, prior_sets)):
        name = variant_analysis(variant, primary).name
        rows[variant] = _answers(fits, name, focus, reference, plan)
    sets = {name: plan.prior_set_values[name] for name in prior_sets}
    drivers = DRIVERS + tuple(
        ("adjusted", prior_row(name), f"the {name} prior set ({sets[name].title[0].lower()}"
         f"{sets[name].title[1:]})")
        for name in prior_sets
    )  # fmt: skip
    moves = []
    for a, b, driver in drivers:
        pa = rows.get(a, {}).get("prob_response_superior")
        pb = rows.get(b, {}).get("prob_response_superior")
        if pa is not None and pb is not None:
            moves.append({"from": a, "to": b, "driver": driver, "change": pb - pa})
    summary = {
        "pair": f"{focus}-{reference}",
        "primary_estimand": primary.estimand,
        "last_day": plan.days[-1],
        "rows": rows,
    }
    if "design uncertainty" in plan.robustness:
        summary["design_draws"] = int(plan.design_draws)
    if sets:
        summary["prior_sets"] = {name: prior_set.as_dict() for name, prior_set in sets.items()}
    if moves:
        summary["largest_move"] = max(moves, key=lambda m: abs(m["change"]))
    return summary
