"""Figures of posterior comparisons between arms, across prior sets (or analyses).

Each function takes a tidy table from :mod:`cit_bayes.contrasts` (with an ``analysis`` column, as
:func:`cit_bayes.analyses.published.run_published_reanalysis` returns them) and a path stem, writes a PNG
(300 dpi) and an SVG, and returns both paths. Figures are built on
:class:`matplotlib.figure.Figure` directly (no pyplot state). Nothing here computes a statistic:
intervals and probabilities come computed; the histograms are matplotlib's drawing of the draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cit_bayes.report.figure_files import dodged_intervals, require_columns, save_figure

__all__ = [
    "response_rate_figure",
    "prior_sensitivity_figure",
    "risk_difference_figure",
    "write_posterior_figures",
]


def _colours(names: Sequence[str]) -> dict[str, str]:
    palette = ["#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#3d405b"]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def response_rate_figure(
    rates: pd.DataFrame, path, *, title: str | None = None
) -> tuple[Path, Path]:
    """Posterior response rate per arm (mean and credible interval), one marker per analysis.

    ``rates`` has columns ``analysis``, ``arm``, ``mean``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from cit_bayes.report.posterior_figures import response_rate_figure
    >>> rates = pd.DataFrame({"analysis": "flat", "arm": ["A", "B"], "mean": [0.5, 0.7],
    ...                       "ci_low": [0.3, 0.5], "ci_high": [0.7, 0.9]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print([path.name for path in response_rate_figure(rates, f"{tmp}/response_rates")])
    ['response_rates.png', 'response_rates.svg']
    """
    require_columns(rates, ["analysis", "arm", "mean", "ci_low", "ci_high"], "response_rate_figure")
    analyses = list(dict.fromkeys(rates["analysis"]))
    arms = list(dict.fromkeys(rates["arm"]))
    colours = _colours(analyses)
    fig = Figure(figsize=(7.0, 1.0 + 0.9 * len(arms)))
    ax = fig.add_subplot()
    dodged_intervals(
        ax, rates, rows=arms, row_key="arm", series=analyses, series_key="analysis",
        colours=colours,
    )  # fmt: skip
    ax.set_yticks(np.arange(len(arms)), arms)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("response rate (posterior mean and 95 % credible interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(title="prior set", fontsize=8, loc="lower left")
    ax.set_title(title or "Posterior response rate per arm")
    return save_figure(fig, path)


def prior_sensitivity_figure(
    probabilities: pd.DataFrame,
    keys: Sequence[str],
    path,
    *,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> tuple[Path, Path]:
    """Posterior probabilities of chosen quantities across analyses (prior sensitivity).

    ``probabilities`` has columns ``analysis``, ``key``, ``prob``; ``keys`` picks and orders the
    rows shown; ``labels`` maps a key to a readable label.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.posterior_figures import prior_sensitivity_figure
    >>> table = pd.DataFrame({"analysis": ["flat"], "key": ["A>B"], "prob": [0.9]})
    >>> prior_sensitivity_figure(table, ["B>A"], "unused")
    Traceback (most recent call last):
    ...
    ValueError: prior_sensitivity_figure: none of the keys is in the table
    """
    require_columns(probabilities, ["analysis", "key", "prob"], "prior_sensitivity_figure")
    shown = probabilities[probabilities["key"].isin(keys)]
    if shown.empty:
        raise ValueError("prior_sensitivity_figure: none of the keys is in the table")
    keys = [k for k in keys if k in set(shown["key"])]
    analyses = list(dict.fromkeys(shown["analysis"]))
    colours = _colours(analyses)
    markers = "osD^vP*X"
    fig = Figure(figsize=(7.5, 1.0 + 0.38 * len(keys)))
    ax = fig.add_subplot()
    for i, analysis in enumerate(analyses):
        rows = (
            shown[shown["analysis"] == analysis]
            .drop_duplicates("key")
            .set_index("key")
            .reindex(keys)
        )
        ax.scatter(
            rows["prob"],
            np.arange(len(keys)),
            color=colours[analysis],
            marker=markers[i % len(markers)],
            label=analysis,
            zorder=3,
            s=22,
        )
    labels = dict(labels or {})
    ax.set_yticks(np.arange(len(keys)), [labels.get(k, k) for k in keys], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    for x in (0.5, 0.95):
        ax.axvline(x, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("posterior probability")
    ax.grid(axis="y", alpha=0.2)
    ax.legend(title="prior set", fontsize=8, loc="lower left")
    ax.set_title(title or "Prior sensitivity: P(superiority) and P(non-inferiority)")
    return save_figure(fig, path)


def risk_difference_figure(
    draws: pd.DataFrame,
    path,
    *,
    margins: Sequence[float] = (),
    keys: Sequence[str] | None = None,
    title: str | None = None,
) -> tuple[Path, Path]:
    """Posterior draws of risk differences, one panel per comparison, with margin lines.

    ``draws`` has columns ``analysis``, ``key`` (``"A-B"``) and ``value`` (one row per draw).
    A solid line marks 0 and dashed lines mark ``-margin`` for each non-inferiority margin.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.posterior_figures import risk_difference_figure
    >>> risk_difference_figure(pd.DataFrame({"analysis": ["flat"], "key": ["A-B"]}), "unused")
    Traceback (most recent call last):
    ...
    ValueError: risk_difference_figure: table lacks column(s) ['value']
    """
    require_columns(draws, ["analysis", "key", "value"], "risk_difference_figure")
    keys = list(keys) if keys is not None else list(dict.fromkeys(draws["key"]))
    analyses = list(dict.fromkeys(draws["analysis"]))
    colours = _colours(analyses)
    columns = 2 if len(keys) > 1 else 1
    rows = int(np.ceil(len(keys) / columns))
    fig = Figure(figsize=(9.0, 2.4 * rows + 0.6))
    axes = fig.subplots(rows, columns, squeeze=False)
    bins = np.linspace(-0.6, 0.8, 141)
    for index, key in enumerate(keys):
        ax = axes[index // columns][index % columns]
        for analysis in analyses:
            values = draws.loc[(draws["analysis"] == analysis) & (draws["key"] == key), "value"]
            ax.hist(
                values,
                bins=bins,
                density=True,
                histtype="step",
                color=colours[analysis],
                label=analysis,
            )
        ax.axvline(0.0, color="black", linewidth=0.9)
        for margin in margins:
            ax.axvline(-margin, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(key.replace("-", " \u2212 ", 1) if "-" in key else key, fontsize=9)
        ax.set_yticks([])
        ax.set_xlim(bins[0], bins[-1])
    for index in range(len(keys), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    axes[0][0].legend(title="prior set", fontsize=7)
    margin_text = ", ".join(f"\u2212{m:g}" for m in margins)
    fig.supxlabel(
        "risk difference (posterior draws)"
        + (f"; dashed: non-inferiority margins {margin_text}" if margins else ""),
        fontsize=9,
    )
    fig.suptitle(title or "Posterior risk differences in response")
    fig.tight_layout()
    return save_figure(fig, path)


def write_posterior_figures(
    tables: Mapping[str, pd.DataFrame],
    out_dir,
    *,
    superiority_keys: Sequence[str] | None = None,
    noninferiority_keys: Sequence[str] | None = None,
    margins: Sequence[float] = (0.05, 0.10, 0.15),
) -> list[Path]:
    """Write the three response figures of the published reanalysis into ``out_dir``.

    ``tables`` holds ``"response/rate"``, ``"response/probabilities"`` and
    ``"response/difference_draws"`` (see :func:`cit_bayes.analyses.published.run_published_reanalysis`).
    By default every ``prob_superior`` and ``prob_noninferior`` key is shown.

    Examples
    --------
    >>> from cit_bayes.report.posterior_figures import write_posterior_figures
    >>> write_posterior_figures({}, "unused")
    Traceback (most recent call last):
    ...
    KeyError: 'response/probabilities'
    """
    out = Path(out_dir)
    probabilities = tables["response/probabilities"]
    if superiority_keys is None:
        superiority_keys = list(
            dict.fromkeys(probabilities.loc[probabilities["quantity"] == "prob_superior", "key"])
        )
    if noninferiority_keys is None:
        noninferiority_keys = list(
            dict.fromkeys(probabilities.loc[probabilities["quantity"] == "prob_noninferior", "key"])
        )
    keys = [*superiority_keys, *noninferiority_keys]
    labels = {k: f"P({k.replace('>', ' > ')})" for k in superiority_keys}
    labels |= {
        k: f"P({k.split(' @ ')[0].replace(' vs ', ' non-inferior to ')}, margin {k.split(' @ ')[1]})"
        for k in noninferiority_keys
    }
    paths: list[Path] = []
    paths += response_rate_figure(tables["response/rate"], out / "response_rates")
    paths += prior_sensitivity_figure(
        probabilities[probabilities["quantity"].isin(["prob_superior", "prob_noninferior"])],
        keys,
        out / "prior_sensitivity",
        labels=labels,
    )
    paths += risk_difference_figure(
        tables["response/difference_draws"], out / "risk_differences", margins=margins
    )
    return paths
