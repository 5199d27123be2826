"""Document blocks rendered as Markdown (``methods_supplement.md``), figures linked by path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cit_bayes.report.blocks import (
    Banner,
    Code,
    Equation,
    Figure,
    Heading,
    Items,
    Math,
    Paragraph,
    Table,
)
from cit_bayes.report.ledger import Cell, Number

__all__ = ["to_markdown"]


def _md_escape_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_runs(runs) -> str:
    if isinstance(runs, str | Number | Cell | Code | Math):
        runs = [runs]
    out = []
    for run in runs:
        if isinstance(run, Code):
            out.append(f"`{run.text}`")
        elif isinstance(run, Math):
            out.append(f"${run.latex}$")
        else:
            out.append(str(run))
    return "".join(out)


def _relative(path: Path, base: Path | None) -> str:
    if base is None:
        return Path(path).name
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(path).name


def to_markdown(blocks: Sequence) -> str:
    """Render blocks as Markdown (figures linked by path relative to their ``relative_to``).

    Examples
    --------
    >>> from cit_bayes.report.document import Code, Heading, Paragraph, to_markdown
    >>> print(to_markdown([Heading(1, "Title"), Paragraph(["See ", Code("run.json"), "."])]))
    # Title
    <BLANKLINE>
    See `run.json`.
    <BLANKLINE>
    """
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * min(max(block.level, 1), 6) + " " + block.text)
        elif isinstance(block, Paragraph):
            parts.append(_md_runs(block.runs))
        elif isinstance(block, Items):
            parts.append("\n".join("- " + _md_runs(item) for item in block.items))
        elif isinstance(block, Banner):
            parts.append("> **" + block.kind.upper() + ".** " + _md_runs(block.runs))
        elif isinstance(block, Table):
            lines = []
            if block.caption:
                lines.append(f"*{block.caption}*\n")
            lines.append("| " + " | ".join(_md_escape_cell(c) for c in block.columns) + " |")
            lines.append("|" + "---|" * len(block.columns))
            for row in block.rows:
                cells = (_md_escape_cell(_md_runs(cell)) for cell in row)
                lines.append("| " + " | ".join(cells) + " |")
            if block.note:
                lines.append(f"\n{block.note}")
            parts.append("\n".join(lines))
        elif isinstance(block, Figure):
            path = _relative(block.png, block.relative_to)
            parts.append(f"![{block.alt or block.caption}]({path})\n\n*{block.caption}*")
        elif isinstance(block, Equation):
            parts.append(f"$$\n{block.latex}\n$$")
        else:
            raise TypeError(f"cannot render {type(block).__name__}")
    return "\n\n".join(parts) + "\n"
