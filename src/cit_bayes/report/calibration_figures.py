"""Figures of a calibration: the SBC ECDF-difference plots with simultaneous bands.

One panel per test quantity: the ECDF of the replicates' PITs minus the uniform CDF, inside the
simultaneous band computed by ``arviz_stats.ecdf_utils.ecdf_pit`` (Säilynoja, Bürkner & Vehtari
2022) at the family-wise level the summary uses (:func:`cit_bayes.calibration.sbc.sbc_bands`
hands the points and bands over as plain arrays); a quantity whose ECDF leaves its band is drawn
in red. ArviZ's ``plot_ecdf_pit`` draws the same difference, but its band option
(``method="envelope"``) fails in arviz-plots 1.x on a dataset (``np.linspace`` of a DataArray)
and is marked for removal, so the panels are drawn here from ArviZ's bands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

__all__ = ["sbc_figure"]

#: Panels per row.
COLUMNS = 6


def sbc_figure(bands: Mapping, replicates: int, band_prob: float, title: str) -> Figure:
    """The ECDF-difference plot of one model's SBC.

    Parameters
    ----------
    bands : mapping of quantity to (points, ECDF, lower, upper)
        As :func:`cit_bayes.calibration.sbc.sbc_bands` returns them.
    replicates : int
    band_prob : float
    title : str

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> bands = {"a": (x, x, x - 0.2, x + 0.2), "b": (x, x**2, x - 0.2, x + 0.2)}
    >>> fig = sbc_figure(bands, 10, 0.975, "SBC of a model")
    >>> len(fig.axes), fig.axes[1].get_title(), fig.axes[1].lines[0].get_color()
    (2, 'b', 'C3')
    """
    n = len(bands)
    columns = min(COLUMNS, n)
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(2.4 * columns, 1.9 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for k, (quantity, (x, ecdf, lower, upper)) in enumerate(bands.items()):
        ax = axes.flat[k]
        inside = bool(np.all((ecdf >= lower) & (ecdf <= upper)))
        ax.fill_between(x, lower - x, upper - x, step="post", color="0.85", linewidth=0)
        ax.step(x, ecdf - x, where="post", color="C0" if inside else "C3", linewidth=1.2)
        ax.axhline(0.0, color="0.4", linewidth=0.6, linestyle="--")
        ax.set_title(str(quantity), fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(
        f"{title}\nECDF of the PITs minus uniform; grey: simultaneous {band_prob:.2%} band "
        f"({replicates} replicates); red: outside it",
        fontsize=8,
    )
    fig.supxlabel("PIT", fontsize=7)
    return fig
