"""What every figure module shares: the table check, interval rows, and writing to disk.

Figures are written as PNG at 300 dpi (for pages and print) and SVG (for editing). Both are
byte-for-byte the same for the same numbers: the SVG carries no date and its element ids are
salted with a fixed string (matplotlib's default salt is random), so a re-run with the same seed
rewrites identical files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "SYNTHETIC_STAMP",
    "dodged_intervals",
    "require_columns",
    "save_figure",
    "stamped",
]

#: Resolution of every PNG the package writes.
DPI = 300
#: Salt of the SVG element ids (fixed, so that the same figure gives the same file).
_SVG_SALT = "cit-bayes"
#: The line every figure of a synthetic run carries, visibly, under its plot.
SYNTHETIC_STAMP = (
    "SYNTHETIC DATA, not patients: the cohort was simulated or reconstructed; its assumptions "
    "are in results.json (meta.data) and the report"
)
_STAMP: ContextVar[str | None] = ContextVar("cit_bayes_figure_stamp", default=None)


@contextlib.contextmanager
def stamped(text: str | None) -> Iterator[None]:
    """Within the block, every figure :func:`save_figure` writes carries ``text`` under its
    plot (None: no stamp), e.g. :data:`SYNTHETIC_STAMP` for a synthetic cohort's report.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, stamped("SYNTHETIC"):
    ...     png, svg = save_figure(Figure(figsize=(2, 1)), f"{tmp}/one")
    ...     print("SYNTHETIC" in svg.read_text(encoding="utf-8"))
    True
    """
    token = _STAMP.set(text)
    try:
        yield
    finally:
        _STAMP.reset(token)


def save_figure(fig: Figure, path) -> tuple[Path, Path]:
    """Save ``fig`` as ``<stem>.png`` (300 dpi) and ``<stem>.svg``; return both paths.

    ``path`` may end in ``.png``, ``.svg`` or nothing; its folder is created if missing.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> from cit_bayes.report.figure_files import save_figure
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png, svg = save_figure(Figure(figsize=(1, 1)), f"{tmp}/figures/empty.png")
    >>> png.name, svg.name
    ('empty.png', 'empty.svg')
    """
    stem = Path(path)
    if stem.suffix.lower() in {".png", ".svg"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    stamp = _STAMP.get()
    if stamp:  # below everything drawn: the tight bounding box takes it in
        fig.text(0.99, -0.01, stamp, ha="right", va="top", fontsize=6.5, color="#b00020",
                 wrap=True)  # fmt: skip
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT}):
        fig.savefig(png, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return png, svg


def require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` naming ``what`` if ``table`` is empty or lacks one of ``columns``.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.report.figure_files import require_columns
    >>> require_columns(pd.DataFrame({"arm": ["A"]}), ["arm", "mean"], "demo")
    Traceback (most recent call last):
    ...
    ValueError: demo: table lacks column(s) ['mean']
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what}: table lacks column(s) {missing}")
    if table.empty:
        raise ValueError(f"{what}: empty table")


def dodged_intervals(
    ax,
    table: pd.DataFrame,
    *,
    rows: Sequence,
    row_key: str,
    series: Sequence,
    series_key: str,
    colours: Mapping,
    labels: Mapping | None = None,
    width: float = 0.7,
    markersize: float = 4,
) -> None:
    """Draw ``mean`` with its interval (``ci_low``, ``ci_high``) as horizontal error bars.

    One row of the axis per value of ``rows`` (matched in ``table[row_key]``, top to bottom
    once the caller inverts the axis), one marker per value of ``series`` (``table[series_key]``)
    within the row, spread over ``width``.

    Examples
    --------
    >>> ax = Figure().add_subplot()
    >>> table = pd.DataFrame({"arm": ["A", "B"], "fit": "x", "mean": [0.5, 0.6],
    ...                       "ci_low": [0.4, 0.5], "ci_high": [0.6, 0.7]})
    >>> dodged_intervals(ax, table, rows=["A", "B"], row_key="arm", series=["x"], series_key="fit",
    ...                  colours={"x": "black"})
    >>> len(ax.containers)
    1
    """
    labels = dict(labels or {})
    step = width / max(len(series), 1)
    for i, name in enumerate(series):
        part = table[table[series_key] == name].set_index(row_key).reindex(list(rows))
        y = np.arange(len(rows)) - width / 2 + step * (i + 0.5)
        ax.errorbar(
            part["mean"], y,
            xerr=[part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]],
            fmt="o", color=colours[name], label=labels.get(name, name), capsize=2,
            markersize=markersize,
        )  # fmt: skip
