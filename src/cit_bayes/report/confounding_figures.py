"""The tipping-point figure: P(focus better than reference) against the strength of an
unmeasured confounder U, with the measured covariates' own strengths marked as benchmarks.

Drawn from the ``unmeasured_confounding`` block of ``results.json`` only
(:mod:`cit_bayes.confounding.summary`): nothing is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cit_bayes.report.figure_files import save_figure

__all__ = ["ENDPOINT_TITLES", "tipping_point_figure"]

#: Panel titles of the endpoints whose bias analysis has a surface.
ENDPOINT_TITLES = {"response": "Response", "recovery": "Recovered by the horizon"}
_LEVELS = (0.5, 0.8, 0.9, 0.95)
_BENCHMARKS_SHOWN = 5


def tipping_point_figure(
    tipping: Mapping[str, Mapping],
    benchmarks: Mapping[str, Sequence[Mapping]],
    path,
    *,
    focus: str,
    reference: str,
    note: str = "",
) -> tuple[Path, Path]:
    """One panel per endpoint: P(focus > reference) over U's prevalence difference (x) and its
    odds ratio on the outcome (y, log scale); contours at 0.5, 0.8, 0.9 and 0.95; the
    strongest measured covariates as points (|prevalence difference| before weighting, odds
    ratio turned to >= 1).

    Examples
    --------
    >>> import tempfile
    >>> tipping = {"response": {"prevalence_differences": [0.0, 0.3, 0.6],
    ...            "odds_ratios": [1.0, 2.0, 4.0],
    ...            "prob_superior": [[0.97, 0.97, 0.97], [0.97, 0.9, 0.8], [0.97, 0.8, 0.5]]}}
    >>> marks = {"response": [{"covariate": "stage=IV", "prevalence_difference": -0.1,
    ...                        "odds_ratio": 0.6, "strength": 1.67}]}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = tipping_point_figure(tipping, marks, f"{tmp}/tip", focus="A", reference="B")
    ...     print([p.name for p in paths])
    ['tip.png', 'tip.svg']
    """
    endpoints = [e for e in ENDPOINT_TITLES if e in tipping]
    fig = Figure(figsize=(5.2 * max(len(endpoints), 1), 4.6))
    for k, endpoint in enumerate(endpoints):
        ax = fig.add_subplot(1, len(endpoints), k + 1)
        grid = tipping[endpoint]
        x = np.asarray(grid["prevalence_differences"], dtype=float)
        y = np.asarray(grid["odds_ratios"], dtype=float)
        z = np.asarray(grid["prob_superior"], dtype=float)
        shaded = ax.contourf(
            x, y, z, levels=np.linspace(0.0, 1.0, 21), cmap="RdYlGn", vmin=0, vmax=1
        )
        lines = ax.contour(x, y, z, levels=list(_LEVELS), colors="black", linewidths=0.8)
        ax.clabel(lines, fmt="%.2f", fontsize=7)
        marks = list(benchmarks.get(endpoint, []))[:_BENCHMARKS_SHOWN]
        for mark in marks:
            bx, by = abs(float(mark["prevalence_difference"])), float(mark["strength"])
            if bx <= x.max() and by <= y.max():
                ax.plot(bx, by, marker="o", color="navy", markersize=4)
                ax.annotate(str(mark["covariate"]), (bx, by), fontsize=6.5, color="navy",
                            xytext=(3, 3), textcoords="offset points")  # fmt: skip
        ax.set_yscale("log")
        ticks = [t for t in (1, 1.5, 2, 3, 4, 6, 8, 10) if y.min() <= t <= y.max()]
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(f"U's prevalence: {focus} minus {reference}")
        ax.set_ylabel("U's odds ratio on the outcome")
        ax.set_title(ENDPOINT_TITLES[endpoint], fontsize=10)
        fig.colorbar(shaded, ax=ax, label=f"P({focus} > {reference}) adjusted for U",
                     ticks=[0, 0.25, 0.5, 0.75, 1.0])  # fmt: skip
    fig.suptitle(
        f"How strong would an unmeasured confounder have to be? {focus} vs {reference}"
        + (f"\n{note}" if note else ""),
        fontsize=10.5,
    )
    fig.tight_layout()
    return save_figure(fig, path)
