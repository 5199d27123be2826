"""A small document model rendered to HTML, Markdown and LaTeX: the names to import it by.

The report (``report.html``) and the methods supplement (``methods_supplement.md`` / ``.tex``) are
built from the same blocks, so a number or a table reads the same in every format. Inline text is
a sequence of runs: plain strings, :class:`~cit_bayes.report.ledger.Number` objects (numbers
traced to a results document) and :class:`Code` (literal names). Nothing here computes a
statistic.

The blocks are defined in :mod:`cit_bayes.report.blocks`, their renderings in
:mod:`~cit_bayes.report.html_render`, :mod:`~cit_bayes.report.markdown_render` and
:mod:`~cit_bayes.report.latex_render` (Word: :mod:`~cit_bayes.report.docx_render`); this module
gathers them under one name.
"""

from __future__ import annotations

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
    math_plain,
    prose,
)
from cit_bayes.report.html_render import to_html
from cit_bayes.report.latex_render import tex_escape, to_latex
from cit_bayes.report.markdown_render import to_markdown

__all__ = [
    "Banner",
    "Code",
    "Equation",
    "Figure",
    "Heading",
    "Items",
    "Math",
    "Paragraph",
    "Table",
    "math_plain",
    "prose",
    "tex_escape",
    "to_html",
    "to_latex",
    "to_markdown",
]
