"""Figures of the patient-level outcomes: platelet trajectories, recovery, response, safety.

Each function takes tidy tables of :class:`cit_bayes.analyses.patient.PatientAnalysis` (``tables``, with an
``analysis`` column) and a path stem, draws with :class:`matplotlib.figure.Figure` directly (no
pyplot state), writes a PNG (300 dpi) and an SVG (:func:`~cit_bayes.report.figure_files.save_figure`)
and returns both paths. Nothing here computes a statistic: posterior means and credible bounds,
Kaplan-Meier estimates and observed means come computed; the functions only place them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cit_bayes.report.figure_files import dodged_intervals, require_columns, save_figure

__all__ = [
    "arm_colours",
    "plt_trajectory_figure",
    "recovery_figure",
    "response_rates_figure",
    "safety_rates_figure",
]

#: Colours of the canonical arms (the combination, the arm of the paper's question, in red);
#: other labels take the remaining palette in order.
_ARM_COLOURS = {
    "rhTPO": "#1b6ca8",
    "hetrombopag": "#edae49",
    "combination": "#d1495b",
    "rhIL-11": "#66a182",
}
_PALETTE = ["#8d6a9f", "#00798c", "#3d405b", "#b56576", "#6d597a"]
_ANALYSIS_COLOURS = ["#7f7f7f", "#1f3b73", "#2a9d8f", "#e76f51", "#8d6a9f"]


def arm_colours(arms: Sequence[str]) -> dict[str, str]:
    """A colour per arm: fixed for the canonical arms, the palette in order for any other.

    Examples
    --------
    >>> from cit_bayes.report.outcome_figures import arm_colours
    >>> arm_colours(["combination", "placebo"])
    {'combination': '#d1495b', 'placebo': '#8d6a9f'}
    """
    spare = iter(_PALETTE * (1 + len(arms) // len(_PALETTE)))
    return {arm: _ARM_COLOURS.get(arm) or next(spare) for arm in arms}


def _day_number(day) -> int:
    return int(str(day).removeprefix("day"))


def _panels(count: int, width: float, height: float, *, sharey: bool = True):
    ncols = min(count, 3)
    nrows = int(np.ceil(count / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def plt_trajectory_figure(
    mean: pd.DataFrame,
    observed: pd.DataFrame,
    baseline: Mapping[str, Mapping[str, float]],
    path,
    *,
    analyses: Sequence[str],
    labels: Mapping[str, str] | None = None,
    arms: Sequence[str] | None = None,
    level_text: str = "95%",
) -> tuple[Path, Path]:
    """Posterior mean platelet count per arm over days, one panel per analysis.

    Each arm's line starts at day 0 at the analysis's observed baseline mean (``baseline``) and
    joins the posterior means of the follow-up days, with the credible band around them; the
    observed (unweighted) mean count per arm and day is drawn on top as open circles.

    Parameters
    ----------
    mean : pandas.DataFrame
        ``tables["plt/mean"]``: ``analysis``, ``day`` (``"day3"`` ...), ``arm``, ``mean``,
        ``ci_low``, ``ci_high``.
    observed : pandas.DataFrame
        ``tables["plt/observed"]``: ``analysis``, ``arm``, ``day`` (int), ``observed_mean``.
    baseline : mapping
        Analysis -> arm -> the baseline mean of ``results["plt"][analysis]["baseline_mean"]``.
    path : str or Path
        Path stem (``.png`` and ``.svg`` are written).
    analyses : sequence of str
        The analyses to draw, one panel each, in order.
    labels : mapping, optional
        Panel title per analysis.
    arms : sequence of str, optional
        Arm order (default: as in ``mean``).
    level_text : str
        The credible level as printed (from the results document).

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.outcome_figures import plt_trajectory_figure
    >>> mean = pd.DataFrame({"analysis": ["ATO"], "day": ["day7"], "arm": ["A"]})
    >>> plt_trajectory_figure(mean, pd.DataFrame(), {}, "unused", analyses=["ATO"])
    Traceback (most recent call last):
    ...
    ValueError: plt_trajectory: table lacks column(s) ['mean', 'ci_low', 'ci_high']
    """
    require_columns(mean, ["analysis", "day", "arm", "mean", "ci_low", "ci_high"], "plt_trajectory")
    require_columns(observed, ["analysis", "arm", "day", "observed_mean"], "plt_trajectory")
    arms = list(arms or dict.fromkeys(mean["arm"]))
    colours = arm_colours(arms)
    labels = dict(labels or {})
    fig, axes = _panels(len(analyses), 3.7, 3.5)
    offsets = {arm: 0.25 * (j - (len(arms) - 1) / 2) for j, arm in enumerate(arms)}
    for ax, analysis in zip(axes, analyses, strict=True):
        rows = mean[mean["analysis"] == analysis]
        seen = observed[observed["analysis"] == analysis]
        for arm in arms:
            curve = rows[rows["arm"] == arm].assign(x=lambda t: t["day"].map(_day_number))
            curve = curve.sort_values("x")
            start = float(baseline[analysis][arm])
            x = np.concatenate([[0.0], curve["x"].to_numpy(dtype=float)]) + offsets[arm]
            centre = np.concatenate([[start], curve["mean"].to_numpy(dtype=float)])
            low = np.concatenate([[start], curve["ci_low"].to_numpy(dtype=float)])
            high = np.concatenate([[start], curve["ci_high"].to_numpy(dtype=float)])
            colour = colours[arm]
            ax.fill_between(x, low, high, color=colour, alpha=0.18, lw=0)
            ax.plot(x, centre, color=colour, lw=1.8, marker="s", markersize=3.5, label=arm)
            points = seen[seen["arm"] == arm].sort_values("day")
            ax.plot(
                points["day"].to_numpy(dtype=float) + offsets[arm],
                points["observed_mean"].to_numpy(dtype=float),
                ls="none", marker="o", markersize=6, markerfacecolor="white",
                markeredgecolor=colour, markeredgewidth=1.4, zorder=4,
            )  # fmt: skip
        ticks = sorted({0, *(_day_number(d) for d in rows["day"])})
        ax.set_xticks(ticks)
        ax.set_xlabel("day")
        ax.set_title(labels.get(analysis, analysis), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("platelet count (×10⁹/L)")
    handles, names = axes[0].get_legend_handles_labels()
    observed_handle = axes[0].plot(
        [], [], ls="none", marker="o", markerfacecolor="white", markeredgecolor="0.3"
    )[0]
    axes[0].legend(
        [*handles, observed_handle],
        [*names, "observed mean"],
        fontsize=7.5,
        loc="upper left",
        frameon=False,
    )
    fig.suptitle(
        f"Platelet count: posterior mean and {level_text} credible band per arm "
        "(day 0: observed baseline mean)",
        fontsize=10.5,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def recovery_figure(
    curve: pd.DataFrame,
    kaplan_meier: pd.DataFrame,
    path,
    *,
    analysis: str,
    arms: Sequence[str] | None = None,
    title: str | None = None,
    level_text: str = "95%",
) -> tuple[Path, Path]:
    """Cumulative recovery per arm: the Bayesian curve and band over the weighted Kaplan-Meier steps.

    One panel per arm, for one analysis; day 0 at zero.

    Parameters
    ----------
    curve : pandas.DataFrame
        ``tables["recovery/cumulative_recovery"]``: ``analysis``, ``arm``, ``day`` (int),
        ``mean``, ``ci_low``, ``ci_high``.
    kaplan_meier : pandas.DataFrame
        ``tables["recovery/kaplan_meier"]``: ``analysis``, ``arm``, ``day`` (int),
        ``cumulative_recovery`` (1 - the weighted Kaplan-Meier survival).
    path : str or Path
    analysis : str
        The analysis drawn.
    arms : sequence of str, optional
    title : str, optional
    level_text : str
        The credible level as printed.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.outcome_figures import recovery_figure
    >>> curve = pd.DataFrame({"analysis": "ATE", "arm": ["A"], "day": [7], "mean": 0.5,
    ...                       "ci_low": 0.3, "ci_high": 0.7, "cumulative_recovery": 0.4})
    >>> recovery_figure(curve, curve, "unused", analysis="ATO")
    Traceback (most recent call last):
    ...
    ValueError: recovery_figure: no rows for analysis 'ATO'
    """
    require_columns(
        curve, ["analysis", "arm", "day", "mean", "ci_low", "ci_high"], "recovery_figure"
    )
    require_columns(
        kaplan_meier, ["analysis", "arm", "day", "cumulative_recovery"], "recovery_figure"
    )
    rows = curve[curve["analysis"] == analysis]
    steps = kaplan_meier[kaplan_meier["analysis"] == analysis]
    if rows.empty or steps.empty:
        raise ValueError(f"recovery_figure: no rows for analysis {analysis!r}")
    arms = list(arms or dict.fromkeys(rows["arm"]))
    colours = arm_colours(arms)
    if len(arms) == 4:  # a 2 x 2 grid reads better than 3 + 1
        fig = Figure(figsize=(7.4, 5.8))
        axes = list(fig.subplots(2, 2, squeeze=False, sharey=True).flat)
    else:
        fig, axes = _panels(len(arms), 3.3, 3.0)
    horizon = int(rows["day"].max())
    for ax, arm in zip(axes, arms, strict=True):
        bayes = rows[rows["arm"] == arm].sort_values("day")
        day = np.concatenate([[0], bayes["day"].to_numpy(dtype=int)])
        colour = colours[arm]
        ax.fill_between(
            day,
            np.concatenate([[0.0], bayes["ci_low"].to_numpy(dtype=float)]),
            np.concatenate([[0.0], bayes["ci_high"].to_numpy(dtype=float)]),
            step="post", color=colour, alpha=0.22, lw=0,
        )  # fmt: skip
        ax.step(
            day,
            np.concatenate([[0.0], bayes["mean"].to_numpy(dtype=float)]),
            where="post", color=colour, lw=2.0, label="Bayesian (posterior mean)",
        )  # fmt: skip
        km = steps[steps["arm"] == arm].sort_values("day")
        ax.step(
            np.concatenate([[0], km["day"].to_numpy(dtype=int)]),
            np.concatenate([[0.0], km["cumulative_recovery"].to_numpy(dtype=float)]),
            where="post", color="0.15", lw=1.1, ls="--", label="weighted Kaplan-Meier",
        )  # fmt: skip
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1)
        ax.set_title(arm, fontsize=10, color=colour)
        ax.grid(alpha=0.3)
    for ax in axes[-2:]:
        ax.set_xlabel("day")
    for ax in axes[:: 2 if len(axes) == 4 else 3]:
        ax.set_ylabel("recovered (PLT ≥ 100)")
    axes[0].legend(fontsize=7.5, loc="upper left", frameon=False)
    fig.suptitle(
        title or f"Cumulative recovery: posterior mean and {level_text} band vs Kaplan-Meier",
        fontsize=10.5,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def response_rates_figure(
    rates: pd.DataFrame,
    path,
    *,
    analyses: Sequence[str],
    labels: Mapping[str, str] | None = None,
    arms: Sequence[str] | None = None,
    level_text: str = "95%",
) -> tuple[Path, Path]:
    """Posterior response rate per arm, the analyses (estimands) side by side.

    ``rates`` is ``tables["response/rate"]`` (``analysis``, ``arm``, ``mean``, ``ci_low``,
    ``ci_high``).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from cit_bayes.report.outcome_figures import response_rates_figure
    >>> rates = pd.DataFrame({"analysis": "ATO", "arm": ["rhTPO", "combination"],
    ...                       "mean": [0.6, 0.8], "ci_low": [0.4, 0.6], "ci_high": [0.8, 0.9]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print([p.name for p in response_rates_figure(rates, f"{tmp}/rates", analyses=["ATO"])])
    ['rates.png', 'rates.svg']
    """
    require_columns(
        rates, ["analysis", "arm", "mean", "ci_low", "ci_high"], "response_rates_figure"
    )
    arms = list(arms or dict.fromkeys(rates["arm"]))
    fig = Figure(figsize=(8.0, 0.9 + 0.7 * len(arms)))
    ax = fig.add_subplot()
    dodged_intervals(
        ax, rates, rows=arms, row_key="arm", series=analyses, series_key="analysis",
        colours={a: _ANALYSIS_COLOURS[i % len(_ANALYSIS_COLOURS)] for i, a in enumerate(analyses)},
        labels=labels, width=0.72, markersize=4.5,
    )  # fmt: skip
    ax.set_yticks(np.arange(len(arms)), arms)
    for tick, arm in zip(ax.get_yticklabels(), arms, strict=True):
        tick.set_color(arm_colours(arms)[arm])
    ax.invert_yaxis()
    shown = rates[rates["analysis"].isin(list(analyses))]
    ax.set_xlim(
        max(0.0, np.floor(10 * shown["ci_low"].min()) / 10 - 0.05),
        min(1.0, np.ceil(10 * shown["ci_high"].max()) / 10 + 0.05),
    )
    ax.set_xlabel(f"response rate (posterior mean and {level_text} credible interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        title="analysis", fontsize=8, title_fontsize=8, frameon=False,
        loc="upper left", bbox_to_anchor=(1.01, 1.0),
    )  # fmt: skip
    ax.set_title("Response rate per arm under each estimand", fontsize=10.5)
    fig.tight_layout()
    return save_figure(fig, path)


def safety_rates_figure(
    rates: pd.DataFrame,
    path,
    *,
    analysis: str,
    events: Sequence[str] | None = None,
    arms: Sequence[str] | None = None,
    title: str | None = None,
    level_text: str = "95%",
) -> tuple[Path, Path]:
    """Posterior rate of each safety event per arm (mean and credible interval), one analysis.

    ``rates`` is ``tables["safety/rate"]`` (``analysis``, ``event``, ``arm``, ``mean``,
    ``ci_low``, ``ci_high``).

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.outcome_figures import safety_rates_figure
    >>> rates = pd.DataFrame({"analysis": "ATE", "event": "ae_fever", "arm": ["A"], "mean": 0.1,
    ...                       "ci_low": 0.05, "ci_high": 0.2})
    >>> safety_rates_figure(rates, "unused", analysis="ATO")
    Traceback (most recent call last):
    ...
    ValueError: safety_rates_figure: no rows for analysis 'ATO'
    """
    require_columns(
        rates, ["analysis", "event", "arm", "mean", "ci_low", "ci_high"], "safety_figure"
    )
    rows = rates[rates["analysis"] == analysis]
    if rows.empty:
        raise ValueError(f"safety_rates_figure: no rows for analysis {analysis!r}")
    events = list(events or dict.fromkeys(rows["event"]))
    arms = list(arms or dict.fromkeys(rows["arm"]))
    colours = arm_colours(arms)
    fig = Figure(figsize=(7.2, 0.9 + 0.75 * len(events)))
    ax = fig.add_subplot()
    dodged_intervals(
        ax, rows, rows=events, row_key="event", series=arms, series_key="arm", colours=colours
    )
    ax.set_yticks(np.arange(len(events)), [e.removeprefix("ae_") for e in events])
    for boundary in np.arange(len(events) - 1) + 0.5:
        ax.axhline(boundary, color="0.85", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel(f"rate (posterior mean and {level_text} credible interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    ax.set_title(title or "Safety events per arm", fontsize=10.5)
    fig.tight_layout()
    return save_figure(fig, path)
