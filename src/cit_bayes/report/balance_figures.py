"""Figures of propensity-score weighting: a love plot and a propensity overlap plot.

Each function takes a table produced by :mod:`cit_bayes.weighting` and a path stem, writes a PNG
(300 dpi) and an SVG and returns the two paths. Figures are built with
:class:`matplotlib.figure.Figure` directly (no pyplot state, no backend switch), so importing this
module does not disturb a notebook's plotting. Nothing here computes a statistic (the histograms of the overlap plot are drawn by matplotlib from the propensities as
given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import rcParams
from matplotlib.figure import Figure

from cit_bayes.report.figure_files import save_figure

__all__ = ["love_plot", "overlap_summary_plot", "propensity_overlap_plot"]


def love_plot(
    summary: pd.DataFrame,
    path,
    *,
    threshold: float = 0.1,
    title: str | None = None,
) -> tuple[Path, Path]:
    """Love plot: the largest pairwise |SMD| of each covariate (or level) before and after weighting.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`cit_bayes.weighting.balance_summary` output (columns ``covariate``, ``level``,
        ``max_smd_unweighted``, ``max_smd_weighted``).
    path : str or Path
        Path stem; ``.png`` and ``.svg`` are written beside each other.
    threshold : float, default 0.1
        Dashed reference line (Austin & Stuart 2015).
    title : str, optional

    Returns
    -------
    (Path, Path)
        The PNG and SVG paths.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from cit_bayes.report.balance_figures import love_plot
    >>> summary = pd.DataFrame({"covariate": ["age", "sex"], "level": ["", "F"],
    ...                         "max_smd_unweighted": [0.3, 0.2], "max_smd_weighted": [0.05, 0.02]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print([path.name for path in love_plot(summary, f"{tmp}/love_plot")])
    ['love_plot.png', 'love_plot.svg']
    """
    table = summary.sort_values("max_smd_unweighted").reset_index(drop=True)
    labels = [
        f"{row.covariate}: {row.level}" if row.level else str(row.covariate)
        for row in table.itertuples(index=False)
    ]
    positions = np.arange(len(table))
    fig = Figure(figsize=(6.5, max(2.5, 0.28 * len(table) + 1.2)))
    ax = fig.subplots()
    for row, y in zip(table.itertuples(index=False), positions, strict=True):
        ax.plot([row.max_smd_unweighted, row.max_smd_weighted], [y, y], color="0.8", lw=1, zorder=1)
    ax.scatter(table["max_smd_unweighted"], positions, marker="o", facecolors="white",
               edgecolors="tab:red", label="unweighted", zorder=2)  # fmt: skip
    ax.scatter(table["max_smd_weighted"], positions, marker="o", color="tab:blue",
               label="weighted", zorder=3)  # fmt: skip
    ax.axvline(threshold, color="0.3", ls="--", lw=1, label=f"|SMD| = {threshold:g}")
    ax.set_yticks(positions, labels)
    ax.set_xlabel("largest absolute standardised mean difference over pairs of arms")
    ax.set_xlim(left=0)
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def propensity_overlap_plot(
    propensity: pd.DataFrame,
    path,
    *,
    arm_column: str = "arm",
    arms: Sequence | None = None,
    bins: int = 20,
    title: str | None = None,
) -> tuple[Path, Path]:
    """Propensity overlap: one panel per arm k, the distribution of e_k by actual arm.

    Parameters
    ----------
    propensity : pandas.DataFrame
        One row per patient: the actual arm in ``arm_column`` and one propensity column per arm,
        named ``propensity_<label>`` (as in ``weights.csv``) or by the arm label itself (then
        no other column may be present besides ``arm_column``, unless ``arms`` is given).
    path : str or Path
        Path stem; ``.png`` and ``.svg`` are written.
    arms : sequence, optional
        Arm order (default: the order of the propensity columns).
    bins : int, default 20
        Histogram bins on [0, 1].

    Returns
    -------
    (Path, Path)

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.balance_figures import propensity_overlap_plot
    >>> propensity = pd.DataFrame({"arm": ["A", "B"], "propensity_A": [0.7, 0.4]})
    >>> propensity_overlap_plot(propensity, "unused", arms=["A", "B"])
    Traceback (most recent call last):
    ...
    KeyError: 'propensity_B'
    """
    if arms is None:
        prefixed = [str(c) for c in propensity.columns if str(c).startswith("propensity_")]
        if prefixed:
            arms = [c.removeprefix("propensity_") for c in prefixed]
        else:
            arms = [c for c in propensity.columns if c != arm_column]
    arms = list(arms)

    def column(label):
        return label if label in propensity.columns else f"propensity_{label}"

    actual = propensity[arm_column].astype(str).to_numpy()
    k = len(arms)
    ncols = min(k, 2)
    nrows = int(np.ceil(k / ncols))
    fig = Figure(figsize=(5.0 * ncols, 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    for panel, target in enumerate(arms):
        ax = axes.flat[panel]
        values = propensity[column(target)].to_numpy(dtype=float)
        for j, label in enumerate(arms):
            ax.hist(values[actual == str(label)], bins=edges, density=True, histtype="step",
                    lw=1.5, color=colors[j % len(colors)], label=f"actual arm {label}")  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"propensity of {target}")
        ax.set_ylabel("density")
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    axes.flat[0].legend(frameon=False, fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def overlap_summary_plot(
    overlap: pd.DataFrame,
    path,
    *,
    arms: Sequence | None = None,
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
) -> tuple[Path, Path]:
    """Propensity overlap from its summary table: one panel per arm k, e_k by actual arm.

    Draws, for each actual arm, the 5th-95th percentile range (thin), the interquartile range
    (thick) and the median of the generalised propensity of arm k, over the shaded common
    support. Unlike :func:`propensity_overlap_plot` it needs no patient-level value: the
    quantiles come computed in the weighting's overlap table, so a report can show overlap
    without carrying row-level propensities.

    Parameters
    ----------
    overlap : pandas.DataFrame
        The weighting's overlap table for one analysis: columns ``propensity_arm``, ``arm``,
        ``p05``, ``p25``, ``median``, ``p75``, ``p95``, ``support_low``, ``support_high``.
    path : str or Path
        Path stem; ``.png`` and ``.svg`` are written.
    arms : sequence, optional
        Arm order (default: the order of ``propensity_arm``).
    colours : mapping, optional
        A colour per arm (default: matplotlib's colour cycle in arm order).

    Returns
    -------
    (Path, Path)

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.balance_figures import overlap_summary_plot
    >>> columns = ["propensity_arm", "arm", "p05", "p25", "median", "p75", "p95"]
    >>> overlap_summary_plot(pd.DataFrame(columns=columns), "unused")
    Traceback (most recent call last):
    ...
    ValueError: overlap_summary_plot: table lacks column(s) [] or is empty
    """
    needed = ["propensity_arm", "arm", "p05", "p25", "median", "p75", "p95"]
    missing = [c for c in needed if c not in overlap.columns]
    if missing or overlap.empty:
        raise ValueError(f"overlap_summary_plot: table lacks column(s) {missing} or is empty")
    arms = list(arms) if arms is not None else list(dict.fromkeys(overlap["propensity_arm"]))
    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    k = len(arms)
    ncols = min(k, 2)
    nrows = int(np.ceil(k / ncols))
    fig = Figure(figsize=(4.8 * ncols, 0.5 + 0.42 * k * nrows + 0.6 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    positions = np.arange(k)
    for panel, target in enumerate(arms):
        ax = axes.flat[panel]
        rows = overlap[overlap["propensity_arm"] == target].set_index("arm").reindex(arms)
        if {"support_low", "support_high"} <= set(rows.columns):
            low, high = rows["support_low"].dropna(), rows["support_high"].dropna()
            if len(low) and len(high):
                ax.axvspan(low.iloc[0], high.iloc[0], color="0.92", zorder=0,
                           label="common support")  # fmt: skip
        for j, label in enumerate(arms):
            row = rows.loc[label]
            colour = (colours or {}).get(label) or colors[j % len(colors)]
            ax.plot([row["p05"], row["p95"]], [j, j], color=colour, lw=1.2)
            ax.plot([row["p25"], row["p75"]], [j, j], color=colour, lw=5, solid_capstyle="butt")
            ax.plot([row["median"]], [j], marker="|", color="black", markersize=10)
        ax.set_yticks(positions, [str(a) for a in arms])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"propensity of {target}")
        ax.set_ylabel("actual arm")
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    axes.flat[0].legend(frameon=False, fontsize="small", loc="lower right")
    fig.suptitle(
        title or "Propensity overlap: median, interquartile and 5-95% range by actual arm",
        fontsize=10.5,
    )
    fig.tight_layout()
    return save_figure(fig, path)
