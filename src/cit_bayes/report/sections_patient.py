"""The outcome sections of the patient-level report: response, PLT, safety (recovery: its own).

Every number is looked up in ``results.json`` through the context's ledger
(:class:`~cit_bayes.report.patient_context.ReportContext`); figures are drawn from the tidy tables
of the analysis by :mod:`cit_bayes.report.outcome_figures`. Nothing here computes a statistic.
"""

from __future__ import annotations

from cit_bayes.report.document import Code, Figure, Paragraph, Table
from cit_bayes.report.outcome_figures import (
    plt_trajectory_figure,
    response_rates_figure,
    safety_rates_figure,
)
from cit_bayes.report.patient_context import ReportContext
from cit_bayes.report.render import Section

__all__ = [
    "plt_section",
    "raw_count",
    "response_section",
    "safety_section",
]


def figure_block(
    ctx: ReportContext, name: str, paths, caption: str, *, wide: bool = False
) -> Figure:
    """The report's figure of drawn ``paths`` (PNG first), registered under ``name``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pathlib import Path
    >>> ctx = SimpleNamespace(figure_files={}, out_dir=Path("out"))
    >>> block = figure_block(ctx, "curves", [Path("out/figures/curves.png")], "Curves")
    >>> ctx.figure_files["curves"].name, block.caption
    ('curves.png', 'Curves')
    """
    png = paths[0]
    ctx.figure_files[name] = png
    return Figure(png, caption, relative_to=ctx.out_dir, css_class="wide" if wide else "")


def raw_count(
    ctx: ReportContext, endpoint: str, analysis: str, *block, arm: str, total: str = "n_analysed"
) -> list:
    """``k/n``: the patients with the event and those counted, from ``n_events`` and ``total``
    (``n_analysed`` or, for safety, ``n_recorded``) of ``results.json``; ``block`` is the
    event for safety.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> r = {"x": {"n_events": {"A": 3}, "n_analysed": {"A": 9}}}
    >>> ctx = build_context(Ledger({"results": {"meta": meta, "response": r}}), {}, None, ".")
    >>> [str(part) for part in raw_count(ctx, "response", "x", arm="A")]
    ['3', '/', '9']
    """  # fmt: skip
    return [
        ctx.num(endpoint, analysis, "n_events", *block, arm, style="int"),
        "/",
        ctx.num(endpoint, analysis, total, *block, arm, style="int"),
    ]


def threshold_keys(keys, prefix: str) -> list[str]:
    """The thresholds of keys ``"<prefix> > d"`` in their order (``d`` as written)."""
    return [key.removeprefix(prefix + " > ") for key in keys if key.startswith(prefix + " > ")]


# ---------------------------------------------------------------------------------- response
def response_section(ctx: ReportContext) -> Section:
    """Response: rates per arm (Bayesian and weighted frequentist), differences, figures.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}}})
    >>> response_section(build_context(ledger, tables={}, plan=None, out_dir="."))
    Traceback (most recent call last):
    ...
    KeyError: 'response/rate'
    """
    p, level = ctx.primary, ctx.level_text()
    blocks: list = [
        Paragraph(
            [
                "Response by the cohort's rule (",
                Code(str(ctx.value("meta", "data", "response_rule")))
                if ctx.has("meta", "data", "response_rule")
                else "—",
                "), ",
                ctx.label(p),
                ". The frequentist cross-check is the weighted share per arm with its "
                "confidence interval (",
                ctx.value("response", p, "frequentist", "method")
                if ctx.has("response", p, "frequentist", "method")
                else "not available",
                ").",
            ]
        )
    ]
    blocks += _response_tables(ctx, p, level)
    paths = response_rates_figure(
        ctx.tables["response/rate"],
        ctx.figures / "response_rates",
        analyses=ctx.analyses,
        labels={a: ctx.label(a) for a in ctx.analyses},
        arms=ctx.arms,
        level_text=level,
    )
    blocks.append(
        figure_block(
            ctx,
            "response_rates",
            paths,
            f"Posterior response rate per arm ({level} credible intervals) under each analysis: "
            "unadjusted, and adjusted for each estimand.",
        )
    )
    return Section("response", "Response", blocks)


def _response_tables(ctx: ReportContext, p: str, level: str) -> list:
    """The response section's tables: rates, pairwise comparisons, thresholds, margins."""
    blocks: list = []
    rows = []
    for arm in ctx.arms:
        rows.append(
            [
                arm,
                ctx.num("response", p, "n_analysed", arm, style="int"),
                ctx.interval("response", p, "rate", arm, style="pct1"),
                ctx.num("response", p, "prob_best", arm, style="prob"),
                ctx.interval("response", p, "frequentist", "rate", arm, centre="estimate",
                             style="pct1"),
            ]
        )  # fmt: skip
    blocks.append(
        Table(
            ["arm", "patients analysed", f"posterior rate ({level} CrI)", "P(best)",
             "weighted share (CI)"],
            rows,
            caption=f"Response rate per arm ({ctx.label(p)})",
        )
    )  # fmt: skip
    rows = []
    for key in ctx.results["response"][p].get("risk_difference", {}):
        a, b = split_pair(key, ctx.arms, "-")
        rows.append(
            [
                f"{a} − {b}",
                [*ctx.interval("response", p, "risk_difference", key, style="points"), " pp"],
                ctx.interval("response", p, "odds_ratio", f"{a}/{b}", centre="median",
                             style="f2"),
                ctx.num("response", p, "prob_superior", f"{a}>{b}", style="prob"),
                _frequentist_difference(ctx, p, a, b),
            ]
        )  # fmt: skip
    blocks.append(
        Table(
            ["comparison", f"risk difference ({level} CrI)", f"odds ratio (median, {level} CrI)", "P(A > B)",
             "weighted difference (CI)"],
            rows,
            caption="Pairwise comparisons (A − B)",
        )
    )  # fmt: skip
    exceeds = ctx.results["response"][p].get("prob_difference_exceeds", {})
    thresholds = threshold_keys(exceeds, f"{ctx.focus}-{ctx.others()[0]}")
    if thresholds:
        rows = [
            [f"{ctx.focus} − {arm}"]
            + [
                ctx.num("response", p, "prob_difference_exceeds", f"{ctx.focus}-{arm} > {t}",
                        style="prob")
                for t in thresholds
            ]
            for arm in ctx.others()
        ]  # fmt: skip
        blocks.append(
            Table(
                ["comparison", *[f"P(difference > {t})" for t in thresholds]],
                rows,
                caption=f"Probability that {ctx.focus}'s advantage exceeds a threshold "
                "(thresholds as proportions)",
            )
        )
    noninferiority = ctx.results["response"][p].get("prob_noninferior", {})
    if ctx.noninferiority_pairs:
        margins = [k.split(" @ ")[1] for k in noninferiority if k.startswith(" vs ".join(
            ctx.noninferiority_pairs[0]) + " @ ")]  # fmt: skip
        rows = [
            [f"{a} vs {b}"]
            + [ctx.num("response", p, "prob_noninferior", f"{a} vs {b} @ {m}", style="prob")
               for m in margins]
            for a, b in ctx.noninferiority_pairs
        ]  # fmt: skip
        blocks.append(
            Table(
                ["non-inferiority", *[f"margin {m}" for m in margins]],
                rows,
                caption="P(non-inferior): P(rate A − rate B > −margin), margins as proportions",
            )
        )
    return blocks


def _frequentist_difference(ctx: ReportContext, analysis: str, a: str, b: str) -> list:
    """The weighted difference A − B, or B − A (so labelled) where only that one is recorded."""
    path = ("response", analysis, "frequentist", "risk_difference")
    for first, second, label in ((a, b, ""), (b, a, f"{b} − {a}: ")):
        if ctx.has(*path, f"{first}-{second}"):
            interval = ctx.interval(*path, f"{first}-{second}", centre="estimate", style="points")
            return [label, *interval, " pp"]
    return ["—"]


def split_pair(key: str, arms, separator: str) -> tuple[str, str]:
    """Split ``"A-B"`` (arm labels may contain the separator) into known arms.

    Examples
    --------
    >>> split_pair("rhIL-11-rhTPO", ("rhTPO", "rhIL-11"), "-")
    ('rhIL-11', 'rhTPO')
    """
    for a in arms:
        if key.startswith(a + separator) and key[len(a) + len(separator) :] in arms:
            return a, key[len(a) + len(separator) :]
    head, _, tail = key.partition(separator)
    return head, tail


# ---------------------------------------------------------------------------------------- PLT
def plt_section(ctx: ReportContext) -> Section:
    """Platelet trajectories: figure per analysis, means per day, differences, ΔPLT.

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}, "plt": {"x": {}}}})
    >>> plt_section(build_context(ledger, tables={}, plan=None, out_dir="."))
    Traceback (most recent call last):
    ...
    KeyError: 'plt/mean'
    """
    p, level = ctx.primary, ctx.level_text()
    section = ctx.results["plt"][p]
    days = list(section.get("mean", {}))
    paths = plt_trajectory_figure(
        ctx.tables["plt/mean"],
        ctx.tables["plt/observed"],
        {a: ctx.results["plt"][a]["baseline_mean"] for a in ctx.analyses},
        ctx.figures / "plt_trajectories",
        analyses=ctx.analyses,
        labels={a: ctx.label(a) for a in ctx.analyses},
        arms=ctx.arms,
        level_text=level,
    )
    blocks: list = [
        figure_block(
            ctx,
            "plt_trajectories",
            paths,
            f"Posterior mean platelet count per arm with its {level} credible band (lines), "
            "starting at the observed baseline mean of the analysis's target population; open "
            "circles: observed (unweighted) mean count per arm and day.",
            wide=True,
        )
    ]
    rows = []
    for arm in ctx.arms:
        rows.append(
            [arm, ctx.num("plt", p, "n_analysed", arm, style="int"),
             ctx.num("plt", p, "baseline_mean", arm, style="f0")]
            + [ctx.interval("plt", p, "mean", day, arm, style="f0") for day in days]
            + [ctx.interval("plt", p, "delta_plt", arm, style="f0")]
        )  # fmt: skip
    last = section.get("delta_day", days[-1] if days else "")
    blocks.append(
        Table(
            ["arm", "patients", "baseline mean", *[f"{d} ({level} CrI)" for d in days],
             f"ΔPLT to {last}"],
            rows,
            caption=f"Mean platelet count, ×10⁹/L ({ctx.label(p)})",
        )
    )  # fmt: skip
    contrast_days = list(section.get("difference", {}))
    rows = []
    for key in section.get("delta_plt_difference", {}):
        a, b = split_pair(key, ctx.arms, "-")
        row: list = [f"{a} − {b}"]
        for day in contrast_days:
            row += [
                ctx.interval("plt", p, "difference", day, key, style="f0"),
                ctx.num("plt", p, "prob_superior", day, f"{a}>{b}", style="prob"),
            ]
        row.append(ctx.interval("plt", p, "delta_plt_difference", key, style="f0"))
        rows.append(row)
    header = ["comparison"]
    for day in contrast_days:
        header += [f"{day}: difference", f"{day}: P(A > B)"]
    blocks.append(
        Table(
            [*header, "ΔPLT difference"],
            rows,
            caption="Pairwise differences in mean platelet count (A − B, ×10⁹/L)",
        )
    )
    return Section("plt", "Platelet trajectories", blocks)


# ------------------------------------------------------------------------------------- safety
def safety_section(ctx: ReportContext) -> Section:
    """Safety: rate of each event per arm, differences from the reference arm, P(harm).

    Examples
    --------
    >>> from cit_bayes.report.ledger import Ledger
    >>> from cit_bayes.report.patient_context import build_context
    >>> meta = {"analyses": [{"name": "x"}], "data": {"arms": ["A", "B"]}}
    >>> ledger = Ledger({"results": {"meta": meta, "response": {"x": {}}, "safety": {"x": {}}}})
    >>> safety_section(build_context(ledger, tables={}, plan=None, out_dir="."))
    Traceback (most recent call last):
    ...
    KeyError: 'safety/rate'
    """
    p, level = ctx.primary, ctx.level_text()
    section = ctx.results["safety"][p]
    events = list(section.get("rate", {}))
    paths = safety_rates_figure(
        ctx.tables["safety/rate"],
        ctx.figures / "safety_rates",
        analysis=p,
        events=events,
        arms=ctx.arms,
        title=f"Safety events per arm ({ctx.label(p)})",
        level_text=level,
    )
    blocks: list = [
        Paragraph(
            [
                "Each event's rate per arm among the patients with the event recorded, adjusted "
                "by weighting alone (a weighted binomial model with a Beta prior)."
            ]
        ),
        figure_block(
            ctx,
            "safety_rates",
            paths,
            f"Posterior rate of each safety event per arm ({level} credible intervals).",
        ),
    ]
    rows = [
        [event.removeprefix("ae_")]
        + [[*ctx.interval("safety", p, "rate", event, arm, style="pct1"), "; ",
            *raw_count(ctx, "safety", p, event, arm=arm, total="n_recorded")]
           for arm in ctx.arms]
        for event in events
    ]  # fmt: skip
    blocks.append(
        Table(
            ["event", *ctx.arms],
            rows,
            caption=f"Event rate per arm ({level} CrI; patients with the event / recorded)",
        )
    )
    rows = []
    for event in events:
        for key in section.get("risk_difference", {}).get(event, {}):
            rows.append(
                [
                    event.removeprefix("ae_"),
                    " − ".join(split_pair(key, ctx.arms, "-")),
                    [*ctx.interval("safety", p, "risk_difference", event, key, style="points"),
                     " pp"],
                    *[
                        ctx.num("safety", p, "prob_difference_exceeds", event, k, style="prob")
                        for k in section.get("prob_difference_exceeds", {}).get(event, {})
                        if k.startswith(key + " > ")
                    ],
                ]
            )  # fmt: skip
    first = next(iter(section.get("prob_difference_exceeds", {}).values()), {})
    pair = next(iter(first), "").rpartition(" > ")[0]
    thresholds = [k.rpartition(" > ")[2] for k in first if k.startswith(pair + " > ")]
    blocks.append(
        Table(
            ["event", "comparison", f"risk difference ({level} CrI)",
             *("P(higher risk)" if float(t) == 0 else f"P(excess > {t})" for t in thresholds)],
            rows,
            caption="Differences from the reference arm (excess risk as a proportion)",
        )
    )  # fmt: skip
    return Section("safety", "Safety", blocks)
