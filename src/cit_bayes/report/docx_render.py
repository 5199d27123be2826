"""The methods supplement as a Word document (issue 20, item 3): many clinical journals take Word.

:func:`write_docx` renders the same blocks as the Markdown and LaTeX supplements
(:mod:`cit_bayes.report.document`) with python-docx (a maintained library; no converter binary
needed): headings, paragraphs with monospace names, bulleted lists, notices, numbered tables
with their captions and notes, numbered figures (the PNGs, 6 inches wide) with their captions,
and equations as text. Nothing is computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cit_bayes.report.document import (
    Banner,
    Code,
    Equation,
    Figure,
    Heading,
    Items,
    Paragraph,
    Table,
)

__all__ = ["write_docx"]

_MONO = "Courier New"


def _runs(paragraph, runs) -> None:
    """Add runs (text, numbers, :class:`Code`) to a python-docx paragraph."""
    if isinstance(runs, str | Code) or not isinstance(runs, Sequence):
        runs = [runs]
    for run in runs:
        if isinstance(run, Code):
            paragraph.add_run(run.text).font.name = _MONO
        elif isinstance(run, Sequence) and not isinstance(run, str):
            _runs(paragraph, run)
        else:
            paragraph.add_run(str(run))


def _caption(document, label: str, text: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.add_run(f"{label}. ").bold = True
    paragraph.add_run(text).italic = True


def write_docx(title: str, blocks: Sequence, path: str | Path) -> Path:
    """Write ``blocks`` under ``title`` as a .docx file; return its path.

    Examples
    --------
    >>> import tempfile, docx
    >>> from cit_bayes.report.document import Heading, Paragraph, Table
    >>> blocks = [Heading(2, "Data"), Paragraph(["187 patients."]),
    ...           Table(["arm", "n"], [["A", "12"]], caption="Arms")]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     document = docx.Document(write_docx("Supplement", blocks, f"{tmp}/s.docx"))
    ...     [p.text for p in document.paragraphs], document.tables[0].cell(1, 1).text
    (['Supplement', 'Data', '187 patients.', 'Table 1. Arms'], '12')
    """
    import docx
    from docx.shared import Inches, Pt

    document = docx.Document()
    document.add_heading(title, level=0)
    tables = figures = 0
    for block in blocks:
        if isinstance(block, Heading):
            document.add_heading(block.text, level=min(max(block.level, 1), 9))
        elif isinstance(block, Paragraph):
            _runs(document.add_paragraph(), block.runs)
        elif isinstance(block, Items):
            for item in block.items:
                _runs(document.add_paragraph(style="List Bullet"), item)
        elif isinstance(block, Banner):
            paragraph = document.add_paragraph()
            paragraph.add_run(f"{block.kind.upper()}. ").bold = True
            _runs(paragraph, block.runs)
        elif isinstance(block, Table):
            tables += 1
            _caption(document, f"Table {tables}", block.caption or "")
            table = document.add_table(rows=1 + len(block.rows), cols=len(block.columns))
            table.style = "Table Grid"
            for j, column in enumerate(block.columns):
                cell = table.cell(0, j)
                cell.text = ""
                cell.paragraphs[0].add_run(str(column)).bold = True
            for i, row in enumerate(block.rows, start=1):
                for j, value in enumerate(row):
                    cell = table.cell(i, j)
                    cell.text = ""
                    _runs(cell.paragraphs[0], value)
            if block.note:
                note = document.add_paragraph()
                note.add_run(block.note).font.size = Pt(8)
        elif isinstance(block, Figure):
            figures += 1
            document.add_picture(str(block.png), width=Inches(6))
            _caption(document, f"Figure {figures}", block.caption)
        elif isinstance(block, Equation):
            paragraph = document.add_paragraph()
            paragraph.add_run(block.plain or block.latex).font.name = _MONO
        else:
            raise TypeError(f"cannot render {type(block).__name__}")
    path = Path(path)
    document.save(path)
    return path
