"""The supplement's models and priors: each patient-level model's equations
(:mod:`cit_bayes.report.model_equations`) with the terms the plan sets, the prior values of the
analysis plan that was run (``PatientAnalysis.plan.priors``; the supplement names the plan file
and its hash), and the patient-level prior sets refitted for prior sensitivity.
"""

from __future__ import annotations

from dataclasses import fields

from cit_bayes.report.document import Code, Heading, Items, Paragraph, Table, prose
from cit_bayes.report.model_equations import (
    ARM_SLOPES_EQUATION,
    ARM_SLOPES_TEXT,
    GROUP_EQUATION,
    GROUP_TEXT,
    MODEL_EQUATIONS,
    MODEL_TEXT,
    MODEL_TITLES,
    POOLED_EQUATIONS,
    POOLED_TEXT,
    PRIOR_SYMBOLS,
    PROPORTIONAL_HAZARDS_EQUATION,
    PROPORTIONAL_HAZARDS_TEXT,
)
from cit_bayes.report.patient_context import ReportContext

__all__ = ["ENDPOINTS", "model_blocks", "prior_value_text"]

#: The patient-level models, in the order the supplement describes them.
ENDPOINTS = ("response", "plt", "recovery", "safety")


def prior_value_text(value) -> str:
    """A plan's prior setting as the TOML that sets it: ``true``/``false``, a quoted word, or a
    number with every digit it has (a whole number without a decimal point, which the plan's
    loader reads for a float field too; otherwise Python's shortest text that reads back as the
    same float), so that the supplement's table sets exactly the plan's value.

    Examples
    --------
    >>> from cit_bayes.report.supplement_models import prior_value_text
    >>> [prior_value_text(value) for value in (True, "student_t", 2.5, 10, 10.0, 1e-06)]
    ['true', '"student_t"', '2.5', '10', '10', '1e-06']
    >>> prior_value_text(0.123456789), prior_value_text(1e6)  # %g would print 0.123457, 1e+06
    ('0.123456789', '1000000')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _prior_table(ctx: ReportContext, endpoint: str) -> Table | Paragraph:
    priors = getattr(ctx.plan, "priors", None) or {}
    prior = priors.get(endpoint)
    if prior is None:
        return Paragraph(["(The plan's prior values were not available to the report.)"])
    symbols = PRIOR_SYMBOLS.get(endpoint, {})
    rows = [
        [Code(f.name), prose(symbols.get(f.name, "")), prior_value_text(getattr(prior, f.name))]
        for f in fields(prior)
    ]
    return Table(
        ["plan field", "sets", "value"],
        rows,
        caption=f"Priors of the {endpoint} model (plan section [priors.{endpoint}])",
    )


def model_blocks(ctx: ReportContext) -> list:
    """The supplement's "Models and priors": each model's equations (with the grouping, pooling,
    proportional-hazards and arm-slope terms the plan sets), the plan's prior values, and the
    patient-level prior sets refitted.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cit_bayes.report.supplement_models import model_blocks
    >>> blocks = model_blocks(SimpleNamespace(results={"meta": {}}, plan=None))
    >>> blocks[0].text, len(blocks)
    ('Models and priors', 2)
    """
    plan = ctx.results["meta"].get("plan", {})
    blocks: list = [
        Heading(2, "Models and priors"),
        Paragraph(
            ["The same four models were fitted under every analysis (unadjusted: no weights, no "
             "covariates). The prior values below are those of the analysis plan as run (",
             Code(str(plan.get("file", "—"))), ", SHA-256 ", Code(str(plan.get("sha256", "—"))),
             "), read from the plan itself; the plan's comments explain each choice."]
        ),
    ]  # fmt: skip
    grouping = ctx.results["meta"].get("data", {}).get("grouping")
    for endpoint in ENDPOINTS:
        if endpoint not in ctx.results:
            continue
        title = MODEL_TITLES[endpoint]
        if endpoint == "plt":  # the plan's follow-up days
            means = ctx.results["plt"][ctx.primary].get("mean", {})
            days = ", ".join(day.removeprefix("day") for day in means)
            title = f"{title} (days {days})"
        blocks += [Heading(3, title), Paragraph(prose(MODEL_TEXT[endpoint]))]
        blocks += list(MODEL_EQUATIONS[endpoint])
        if grouping and endpoint != "safety":
            text = GROUP_TEXT.format(group=grouping["column"], n_groups=grouping["n_groups"])
            if grouping.get("groups_in_one_arm"):
                text += (
                    f" {grouping['groups_in_one_arm']} of the groups hold patients of one arm "
                    "only: for them the arm and the group effect are told apart by the spread "
                    "$\\sigma_g$ alone, not by the data."
                )
            blocks += [Paragraph(prose(text)), GROUP_EQUATION]
        prior = (getattr(ctx.plan, "priors", None) or {}).get(endpoint)
        if getattr(prior, "proportional_hazards", False):
            blocks += [Paragraph(prose(PROPORTIONAL_HAZARDS_TEXT)), PROPORTIONAL_HAZARDS_EQUATION]
        if getattr(prior, "pool_arms", False):
            blocks += [Paragraph(prose(POOLED_TEXT[endpoint])), POOLED_EQUATIONS[endpoint]]
        if getattr(prior, "arm_slopes", False):
            blocks += [Paragraph(prose(ARM_SLOPES_TEXT)), ARM_SLOPES_EQUATION]
        blocks.append(_prior_table(ctx, endpoint))
    return blocks + _prior_set_blocks(ctx)


def _prior_set_blocks(ctx: ReportContext) -> list:
    """Prior sensitivity: the patient-level prior sets refitted, with their values."""
    sets = ctx.results.get("robustness", {}).get("prior_sets", {})
    if not sets:
        return []
    items = []
    for name, prior_set in sets.items():
        values = "; ".join(
            f"{model}: "
            + ", ".join(f"{key} = {prior_value_text(value)}" for key, value in changes.items())
            for model, changes in prior_set.get("changes", {}).items()
        )
        items.append(
            [f"{name} (", Code(str(prior_set.get("file", "—"))), ", SHA-256 ",
             Code(str(prior_set.get("sha256", "—"))), f"): {prior_set.get('title', '')}. "
             f"{prior_set.get('rationale', '')} Values replacing the plan's: {values}."]
        )  # fmt: skip
    return [
        Heading(3, "Prior sensitivity"),
        Paragraph(
            prose("The models of the primary analysis (its weights and covariates) that a "
             "patient-level prior set below changes were refitted under it; the robustness "
             "table of the report shows how the key answers move with them (a model a set "
             "leaves as planned is not refitted, and its answers are blank in that row). A set "
             "changes prior values, or pools the arms of the response and trajectory models "
             "with a fixed between-arm SD (pool_arms and arm_sd_fixed: a sceptical prior on "
             "the differences between arms, $\\tau = s_\\tau$, not estimated).")
        ),
        Items(items),
    ]  # fmt: skip
