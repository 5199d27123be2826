"""Writing a figure to disk: PNG at 300 dpi (for pages and print) and SVG (for editing)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["DPI", "save_figure"]

#: Resolution of every PNG the package writes.
DPI = 300


def save_figure(fig: Figure, path) -> tuple[Path, Path]:
    """Save ``fig`` as ``<stem>.png`` (300 dpi) and ``<stem>.svg``; return both paths.

    ``path`` may end in ``.png``, ``.svg`` or nothing; its folder is created if missing.
    """
    stem = Path(path)
    if stem.suffix.lower() in {".png", ".svg"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    return png, svg
