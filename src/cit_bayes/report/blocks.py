"""The blocks of a document and their inline runs; no rendering.

Headings, paragraphs, lists, banners, tables, figures and displayed equations; inline text is a
sequence of runs: plain strings, :class:`~cit_bayes.report.ledger.Number` objects (numbers
traced to a results document), :class:`Code` (literal names) and :class:`Math` (inline
mathematics). They are rendered by :mod:`cit_bayes.report.html_render`,
:mod:`~cit_bayes.report.markdown_render`, :mod:`~cit_bayes.report.latex_render` and
:mod:`~cit_bayes.report.docx_render`, and imported through :mod:`cit_bayes.report.document`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cit_bayes.report.ledger import Cell, Number

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
]

Run = str | Number | Cell


@dataclass(frozen=True)
class Code:
    """A literal name (file, column, key) set in monospace.

    Examples
    --------
    >>> from cit_bayes.report.document import Code, Paragraph, to_markdown
    >>> to_markdown([Paragraph(["see ", Code("results.json")])])
    'see `results.json`\\n'
    """

    text: str


#: LaTeX commands of the inline mathematics used here, and how plain text writes them.
_MATH_PLAIN = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "eta": "η", "theta": "θ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "sigma": "σ", "tau": "τ", "Delta": "Δ",
    "Lambda": "Λ", "Sigma": "Σ", "geq": "≥", "leq": "≤", "times": "×", "sim": "~",
    "cdot": "·", "top": "ᵀ", "pm": "±", "infty": "∞", "ne": "≠", "le": "≤", "ge": "≥",
}  # fmt: skip


def math_plain(latex: str) -> str:
    r"""The plain-text form of a little inline LaTeX (Greek letters and relations as Unicode).

    Subscripts and superscripts keep their ``_`` and ``^`` (the HTML page sets them as such).

    Examples
    --------
    >>> from cit_bayes.report.document import math_plain
    >>> math_plain(r"\operatorname{expit}(\alpha_a)"), math_plain(r"\mathrm{PLT} \geq 100")
    ('expit(α_a)', 'PLT ≥ 100')
    """
    text = re.sub(r"\\(?:operatorname|mathrm|text|mathit|mathbf)\{([^{}]*)\}", r"\1", latex)
    text = re.sub(r"\\(?:quad|qquad|,|;|!| )", " ", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _MATH_PLAIN.get(m.group(1), m.group(1)), text)
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    text = re.sub(r"\^\{([^{}]*)\}", r"^\1", text)
    return re.sub(r" {2,}", " ", text.replace("{", "").replace("}", ""))


@dataclass(frozen=True)
class Math:
    """Inline mathematics: LaTeX in the PDF and Markdown, plain text (Unicode) on the page and
    in Word; ``plain`` defaults to :func:`math_plain` of ``latex``.

    Examples
    --------
    >>> from cit_bayes.report.document import Math, Paragraph, to_latex
    >>> to_latex([Paragraph(["rate ", Math(r"p_a")])])
    'rate $p_a$\\n'
    """

    latex: str
    plain: str = ""

    def text(self) -> str:
        """The plain-text form."""
        return self.plain or math_plain(self.latex)


def prose(text: str) -> list:
    r"""Runs of ``text`` in which ``$...$`` marks inline mathematics (:class:`Math`).

    Examples
    --------
    >>> from cit_bayes.report.document import prose, to_markdown, Paragraph
    >>> to_markdown([Paragraph(prose(r"intercepts $\alpha_a$, one per arm"))])
    'intercepts $\\alpha_a$, one per arm\n'
    """
    parts = text.split("$")
    if len(parts) % 2 == 0:
        raise ValueError(f"unbalanced $ in {text!r}")
    return [Math(part) if i % 2 else part for i, part in enumerate(parts) if part]


Inline = Sequence[Run | Code | Math]


@dataclass(frozen=True)
class Heading:
    """A heading of ``level`` 1 to 6; ``anchor`` is its HTML id (default: from the text).

    Examples
    --------
    >>> from cit_bayes.report.document import Heading, to_html
    >>> to_html([Heading(2, "Key answers")])
    '<h2 id="key-answers">Key answers</h2>'
    """

    level: int
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph: a sequence of runs (strings, numbers, cells, :class:`Code`).

    Examples
    --------
    >>> from cit_bayes.report.document import Paragraph, to_markdown
    >>> to_markdown([Paragraph(["one run, ", "then another."])])
    'one run, then another.\\n'
    """

    runs: Inline


@dataclass(frozen=True)
class Items:
    """A bulleted list; each item is a sequence of runs.

    Examples
    --------
    >>> from cit_bayes.report.document import Items, to_markdown
    >>> to_markdown([Items([["first"], ["second"]])])
    '- first\\n- second\\n'
    """

    items: Sequence[Inline]


@dataclass(frozen=True)
class Banner:
    """A highlighted notice: ``kind`` is ``"synthetic"``, ``"failed"`` or ``"note"``.

    Examples
    --------
    >>> from cit_bayes.report.document import Banner, to_markdown
    >>> to_markdown([Banner("note", ["Synthetic data."])])
    '> **NOTE.** Synthetic data.\\n'
    """

    kind: str
    runs: Inline


@dataclass(frozen=True)
class Table:
    """A table of cells (each cell a run, a sequence of runs, or a :class:`Code`).

    Examples
    --------
    >>> from cit_bayes.report.document import Table, to_markdown
    >>> print(to_markdown([Table(["arm", "patients"], [["A", "12"], ["B", "9"]])]), end="")
    | arm | patients |
    |---|---|
    | A | 12 |
    | B | 9 |
    """

    columns: Sequence[str]
    rows: Sequence[Sequence]
    caption: str = ""
    note: str = ""
    css_class: str = ""


@dataclass(frozen=True)
class Figure:
    """A figure written by :mod:`cit_bayes.report` (PNG for the page, SVG beside it).

    Examples
    --------
    >>> from pathlib import Path
    >>> from cit_bayes.report.document import Figure, to_markdown
    >>> figure = Figure(Path("out/figures/rates.png"), "Rates.", relative_to=Path("out"))
    >>> to_markdown([figure])
    '![Rates.](figures/rates.png)\\n\\n*Rates.*\\n'
    """

    png: Path
    caption: str
    alt: str = ""
    relative_to: Path | None = field(default=None, compare=False)
    css_class: str = ""


@dataclass(frozen=True)
class Equation:
    """A displayed equation in LaTeX; ``plain`` is how the HTML page shows it.

    Examples
    --------
    >>> from cit_bayes.report.document import Equation, to_html
    >>> to_html([Equation("y = x^2", plain="y = x²")])
    '<pre class="equation">y = x²</pre>'
    """

    latex: str
    plain: str = ""


#: ASCII relations and the count unit in plain text (``PLT >= 100 x10^9/L``), set as mathematics
#: by the HTML and LaTeX renderings.
_TYPOGRAPHY = re.compile(r"(>=|<=|\bx ?10\^9)")
