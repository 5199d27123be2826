"""The methods supplement as a Word document (issue 20, item 3): many clinical journals take Word.

:func:`write_docx` renders the same blocks as the Markdown and LaTeX supplements
(:mod:`cit_bayes.report.document`) with python-docx (a maintained library; no converter binary
needed): headings, paragraphs with monospace names, bulleted lists, notices, numbered tables
with their captions and notes, numbered figures (the PNGs, 6 inches wide) with their captions,
and equations as text. Nothing is computed here.

Like every file of the report, the same numbers give the same bytes: the document's
properties carry a fixed date (no clock time) and the archive's entries fixed timestamps.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Sequence
from pathlib import Path

from cit_bayes.report.document import (
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

__all__ = ["write_docx"]

_MONO = "Courier New"
#: The date a document's properties and archive entries carry (no clock time in the report).
_FIXED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _fixed_archive(path: Path) -> None:
    """Rewrite the .docx (a zip) with fixed entry timestamps, in the same order."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)


def _runs(paragraph, runs) -> None:
    """Add runs (text, numbers, :class:`Code`, :class:`Math` as plain text) to a paragraph."""
    if isinstance(runs, str | Code | Math) or not isinstance(runs, Sequence):
        runs = [runs]
    for run in runs:
        if isinstance(run, Code):
            paragraph.add_run(run.text).font.name = _MONO
        elif isinstance(run, Math):
            paragraph.add_run(run.text()).italic = True
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
    ...     first = write_docx("Supplement", blocks, f"{tmp}/one.docx").read_bytes()
    ...     print(first == write_docx("Supplement", blocks, f"{tmp}/two.docx").read_bytes())
    ...     [p.text for p in document.paragraphs], document.tables[0].cell(1, 1).text
    True
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
    properties = document.core_properties
    properties.title, properties.author, properties.last_modified_by = title, "cit-bayes", ""
    properties.created = properties.modified = _FIXED
    properties.revision = 1
    path = Path(path)
    document.save(path)
    _fixed_archive(path)
    return path
