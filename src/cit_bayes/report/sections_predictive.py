"""The predictive-checks section of the patient-level report: observed vs replicated, per arm.

Every number is looked up in ``results.json`` through the context's ledger (the checks are
computed by :mod:`cit_bayes.analyses.predictive`); the figure places the tidy table's values.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from cit_bayes.report.document import Paragraph, Table
from cit_bayes.report.figure_files import require_columns, save_figure
from cit_bayes.report.outcome_figures import arm_colours
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section
from cit_bayes.report.sections_patient import figure_block

__all__ = ["predictive_section", "predictive_figure"]

_MODELS = (("response", "Response"), ("plt", "PLT trajectory"), ("recovery", "Recovery"))
_STYLE = {"response": "pct1", "plt": "f0", "recovery": "pct1"}


def predictive_figure(tables: dict, path, *, analysis: str, arms) -> tuple:
    """Observed value (dot) against the 95 % replicated interval (bar), per model and arm.

    ``tables`` maps an endpoint to its ``predictive_check`` table (``analysis``, ``block``,
    ``arm``, ``observed``, ``median``, ``ppi_low``, ``ppi_high``).

    Examples
    --------
    >>> import pandas as pd
    >>> predictive_figure({"response": pd.DataFrame({"analysis": ["x"]})}, "unused",
    ...                   analysis="x", arms=["A"])
    Traceback (most recent call last):
    ...
    ValueError: predictive_figure: table lacks column(s) ['block', 'arm', 'observed', 'median', 'ppi_low', 'ppi_high']
    """
    columns = ["analysis", "block", "arm", "observed", "median", "ppi_low", "ppi_high"]
    present = [(e, t) for e, t in ((e, tables.get(e)) for e, _ in _MODELS) if t is not None]
    for _, table in present:
        require_columns(table, columns, "predictive_figure")
    colours = arm_colours(list(arms))
    fig = Figure(figsize=(3.4 * max(1, len(present)), 3.4))
    axes = fig.subplots(1, max(1, len(present)), squeeze=False)[0]
    for ax, (endpoint, table) in zip(axes, present, strict=False):
        rows = table[table["analysis"] == analysis].reset_index(drop=True)
        labels = []
        for i, row in rows.iterrows():
            colour = colours.get(row["arm"], "black")
            ax.plot([row["ppi_low"], row["ppi_high"]], [i, i], color=colour, lw=4, alpha=0.35)
            ax.plot(row["median"], i, "|", color=colour, markersize=9)
            ax.plot(row["observed"], i, "o", color="black", markersize=4)
            labels.append(f"{row['block']} {row['arm']}" if row["block"] != "rate" else row["arm"])
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(dict(_MODELS)[endpoint], fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("Observed (dot) vs posterior predictive 95% interval (bar)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def predictive_section(ctx: ReportContext) -> Section:
    """Posterior predictive checks of the primary analysis's models: a figure and a table.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> predictive_section(build_context(ledger, {}, None, ".")).blocks[0].runs[0][:30]
    'Each model replicates the outc'
    """
    p = ctx.primary
    blocks: list = [
        Paragraph(
            ["Each model replicates the outcomes of the analysed patients from its posterior "
             "(each patient under the arm received, with the patient's covariates and "
             "follow-up), and the replicates are summarised as the data are: the share of "
             "responders, the mean count on each day, the share seen to recover by day 7 and "
             "by the last day. A check fails where the observed value is in the outer 1% of "
             "the replicates (two-sided posterior predictive p < 0.01), and is then named in "
             "the banner like a missed gate. The safety model has a rate per arm and event "
             "(saturated), so its check is not informative and is not made."]
        )
    ]  # fmt: skip
    tables = {e: ctx.tables.get(f"{e}/predictive_check") for e, _ in _MODELS}
    if any(t is not None for t in tables.values()):
        paths = predictive_figure(
            {e: t for e, t in tables.items() if t is not None},
            ctx.figures / "predictive_checks",
            analysis=p,
            arms=ctx.arms,
        )
        caption = f"Posterior predictive checks ({ctx.label(p)})"
        blocks.append(figure_block(ctx, "predictive_checks", paths, caption, wide=True))
    rows = []
    for endpoint, title in _MODELS:
        check = ctx.results.get(endpoint, {}).get(p, {}).get("predictive_check")
        if not check:
            continue
        style = _STYLE[endpoint]
        for block, by_arm in check["values"].items():
            for arm in by_arm:
                path = (endpoint, p, "predictive_check", "values", block, arm)
                rows.append(
                    [title, block if block != "rate" else "", arm,
                     ctx.num(*path, "observed", style=style),
                     ctx.interval(*path, centre="median", low="ppi_low", high="ppi_high",
                                  style=style),
                     ctx.num(*path, "p_value", style="f3")]
                )  # fmt: skip
    blocks.append(
        Table(
            ["model", "day", "arm", "observed", "replicated median (95% interval)",
             "predictive p"],
            rows,
            caption=f"Observed vs replicated ({ctx.label(p)})",
            css_class="compact",
        )
    )  # fmt: skip
    return Section("predictive-checks", "Predictive checks", blocks)
