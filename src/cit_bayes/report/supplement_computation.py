"""The supplement's computation: how the posteriors were sampled (sampler, chains, draws,
target acceptance, seeds), the gates every fit had to meet, the arms' prior structure, and the
diagnostics achieved, worst over the analyses.
"""

from __future__ import annotations

from cit_bayes.report.document import Code, Heading, Paragraph, Table
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.sections_checks import gates_text
from cit_bayes.report.supplement_models import ENDPOINTS

__all__ = ["computation_blocks"]


def _arm_structure_text(ctx: ReportContext) -> str:
    priors = getattr(ctx.plan, "priors", None) or {}
    pooled = [name for name, prior in priors.items() if getattr(prior, "pool_arms", False)]
    text = (
        "Arm effects are independent across arms (no partial pooling of regimens)"
        if not pooled
        else "Arm effects are partially pooled (non-centred) in the "
        + ", ".join(pooled)
        + " model(s), as the plan sets; independent elsewhere"
    )
    text += "; the smooth recovery baselines are non-centred."
    exact = sorted(
        {name.split("/")[0] for name, entry in ctx.results.get("diagnostics", {}).items()
         if entry.get("sampler") == "exact"}
    )  # fmt: skip
    if exact:
        text += (
            f" The {', '.join(exact)} posterior is known in closed form (Beta, by conjugacy) and "
            'was drawn directly, without a sampler (sampler "exact"); its R-hat and ESS are '
            "those of independent draws."
        )
    return text


def _worst(ctx: ReportContext, names: list[str], field: str, largest: bool) -> list:
    values = {n: ctx.value("diagnostics", n, field) for n in names}
    known = {n: v for n, v in values.items() if v is not None}
    if not known:
        return ["—"]
    pick = (max if largest else min)(known, key=known.get)
    style = {"max_rhat": "rhat", "divergences": "int"}.get(field, "f0")
    return [ctx.num("diagnostics", pick, field, style=style), f" ({pick.split('/', 1)[1]})"]


def computation_blocks(ctx: ReportContext) -> list:
    """The supplement's "Computation and diagnostics achieved": the sampler settings, the gates
    every fit had to meet, the arms' prior structure, and the worst diagnostics of each model
    over the analyses, with the fits that missed a gate.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> from cit_bayes.report.supplement_computation import computation_blocks
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> blocks = computation_blocks(build_context(ledger, {}, None, "."))
    >>> blocks[0].text, blocks[-1].runs
    ('Computation and diagnostics achieved', ['Every fit met every gate.'])
    """
    sampler = ctx.results["meta"].get("sampler", {})
    accept: list = []
    for i, model in enumerate(sampler.get("target_accept_by_model", {})):
        accept += [", " if i else "", f"{model} ",
                   ctx.num("meta", "sampler", "target_accept_by_model", model, style="f2")]  # fmt: skip
    rows = []
    for endpoint in ENDPOINTS:
        names = [n for n in ctx.fits() if n.startswith(endpoint + "/")]
        if not names:
            continue
        failed = [n.split("/", 1)[1] for n in names if n in ctx.failed_fits()]
        rows.append(
            [
                endpoint,
                _worst(ctx, names, "max_rhat", largest=True),
                _worst(ctx, names, "min_ess_bulk", largest=False),
                _worst(ctx, names, "min_ess_tail", largest=False),
                _worst(ctx, names, "divergences", largest=True),
                "all passed" if not failed else "FAILED: " + ", ".join(failed),
            ]
        )
    failed = ctx.failed_fits()
    return [
        Heading(2, "Computation and diagnostics achieved"),
        Paragraph(
            ["Posteriors were sampled with ", Code(str(sampler.get("sampler", "—"))), " (NUTS): ",
             ctx.num("meta", "sampler", "chains", style="int"), " chains of ",
             ctx.num("meta", "sampler", "draws", style="int"), " draws after ",
             ctx.num("meta", "sampler", "tune", style="int"), " tuning steps, target acceptance ",
             *(accept or [ctx.num("meta", "sampler", "target_accept", style="f2")]),
             ". Every fit had to meet: ", *gates_text(ctx), " (rank-normalised split R-hat, bulk "
             "and tail effective sample size over every model parameter; Vehtari et al. 2021). ",
             _arm_structure_text(ctx), " Seeds: master seed ",
             ctx.num("meta", "seed", style="int"), ", each fit's derived from it and its name."]
        ),
        Table(
            ["model", "worst R-hat (analysis)", "smallest bulk ESS", "smallest tail ESS",
             "most divergences", "gates"],
            rows,
            caption="Diagnostics achieved, worst over the analyses",
        ),
        Paragraph(
            ["Fits that missed a gate: " + ", ".join(failed) + ". Their results are reported but "
             "flagged and should not be used until they pass: divergent transitions call for a "
             "higher target acceptance or a reparameterisation (longer chains do not remove "
             "them); a high R-hat or a low ESS for longer chains. The diagnostics table says "
             "which gate each fit missed."]
            if failed else ["Every fit met every gate."]
        ),
    ]  # fmt: skip
