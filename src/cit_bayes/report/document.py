"""A small document model rendered to HTML, Markdown and LaTeX.

The report (``report.html``) and the methods supplement (``methods_supplement.md`` / ``.tex``) are
built from the same blocks, so a number or a table reads the same in every format. Inline text is
a sequence of runs: plain strings, :class:`~cit_bayes.report.ledger.Number` objects (numbers
traced to a results document) and :class:`Code` (literal names). Nothing here computes a
statistic.
"""

from __future__ import annotations

import base64
import html
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
    "Paragraph",
    "Table",
    "tex_escape",
    "to_html",
    "to_latex",
    "to_markdown",
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


Inline = Sequence[Run | Code]


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


# ----------------------------------------------------------------------------------------- HTML
def _html_runs(runs) -> str:
    if isinstance(runs, str | Number | Cell | Code):
        runs = [runs]
    out = []
    for run in runs:
        if isinstance(run, Number | Cell):
            out.append(run.html())
        elif isinstance(run, Code):
            out.append(f"<code>{html.escape(run.text)}</code>")
        else:
            out.append(html.escape(str(run)))
    return "".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def to_html(blocks: Sequence) -> str:
    """Render blocks as an HTML fragment; figures are embedded (``data:`` URIs), self-contained.

    Examples
    --------
    >>> from cit_bayes.report.document import Heading, Paragraph, to_html
    >>> print(to_html([Heading(2, "Results"), Paragraph(["a < b"])]))
    <h2 id="results">Results</h2>
    <p>a &lt; b</p>
    """
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            anchor = block.anchor or _slug(block.text)
            level = min(max(block.level, 1), 6)
            parts.append(f'<h{level} id="{anchor}">{html.escape(block.text)}</h{level}>')
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{_html_runs(block.runs)}</p>")
        elif isinstance(block, Items):
            items = "".join(f"<li>{_html_runs(item)}</li>" for item in block.items)
            parts.append(f"<ul>{items}</ul>")
        elif isinstance(block, Banner):
            parts.append(
                f'<div class="banner banner-{html.escape(block.kind)}" role="alert">'
                f"{_html_runs(block.runs)}</div>"
            )
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in block.columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{_html_runs(cell)}</td>" for cell in row) + "</tr>"
                for row in block.rows
            )
            caption = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
            note = f'<p class="table-note">{html.escape(block.note)}</p>' if block.note else ""
            css = f' class="{block.css_class}"' if block.css_class else ""
            parts.append(
                f"<table{css}>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                f"</table>{note}"
            )
        elif isinstance(block, Figure):
            data = base64.b64encode(Path(block.png).read_bytes()).decode("ascii")
            alt = html.escape(block.alt or block.caption)
            css = f' class="{html.escape(block.css_class)}"' if block.css_class else ""
            parts.append(
                f'<figure{css}><img src="data:image/png;base64,{data}" alt="{alt}">'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
            )
        elif isinstance(block, Equation):
            parts.append(f'<pre class="equation">{html.escape(block.plain or block.latex)}</pre>')
        else:
            raise TypeError(f"cannot render {type(block).__name__}")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- Markdown
def _md_escape_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_runs(runs) -> str:
    if isinstance(runs, str | Number | Cell | Code):
        runs = [runs]
    out = []
    for run in runs:
        if isinstance(run, Code):
            out.append(f"`{run.text}`")
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


# ---------------------------------------------------------------------------------------- LaTeX
_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_TEX_UNICODE = {
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "×": r"$\times$",
    "−": "-",
    "–": "--",
    "—": "---",
    "Δ": r"$\Delta$",
    "²": r"\textsuperscript{2}",
    "⁹": r"\textsuperscript{9}",
    "χ": r"$\chi$",
    "β": r"$\beta$",
    "α": r"$\alpha$",
    "τ": r"$\tau$",
    "σ": r"$\sigma$",
    "μ": r"$\mu$",
    "·": r"$\cdot$",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\dots{}",
}


def tex_escape(text: str) -> str:
    """Escape text for LaTeX (special characters and the few non-ASCII symbols used here).

    Examples
    --------
    >>> from cit_bayes.report.document import tex_escape
    >>> print(tex_escape("50% of x_1 ≥ 2"))
    50\\% of x\\_1 $\\geq$ 2
    """
    out = []
    for char in str(text):
        out.append(_TEX_SPECIAL.get(char) or _TEX_UNICODE.get(char) or char)
    return "".join(out)


def _tex_runs(runs) -> str:
    if isinstance(runs, str | Number | Cell | Code):
        runs = [runs]
    out = []
    for run in runs:
        if isinstance(run, Code):
            out.append(r"\texttt{" + tex_escape(run.text) + "}")
        else:
            out.append(tex_escape(str(run)))
    return "".join(out)


def to_latex(blocks: Sequence) -> str:
    """Render blocks as a LaTeX body (for ``\\begin{document}``; needs booktabs, graphicx).

    Examples
    --------
    >>> from cit_bayes.report.document import Heading, Paragraph, to_latex
    >>> print(to_latex([Heading(2, "Methods"), Paragraph(["5% of runs"])]), end="")
    \\section{Methods}
    <BLANKLINE>
    5\\% of runs
    """
    commands = {1: "section*", 2: "section", 3: "subsection", 4: "subsubsection"}
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            command = commands.get(block.level, "paragraph")
            parts.append(f"\\{command}{{{tex_escape(block.text)}}}")
        elif isinstance(block, Paragraph):
            parts.append(_tex_runs(block.runs))
        elif isinstance(block, Items):
            items = "\n".join(r"  \item " + _tex_runs(item) for item in block.items)
            parts.append("\\begin{itemize}\n" + items + "\n\\end{itemize}")
        elif isinstance(block, Banner):
            parts.append(
                r"\noindent\fbox{\parbox{\linewidth}{\textbf{"
                + tex_escape(block.kind.upper())
                + ".} "
                + _tex_runs(block.runs)
                + "}}"
            )
        elif isinstance(block, Table):
            spec = "l" * len(block.columns)
            head = " & ".join(tex_escape(c) for c in block.columns) + r" \\"
            body = "\n".join(" & ".join(_tex_runs(c) for c in row) + r" \\" for row in block.rows)
            caption = f"\\caption*{{{tex_escape(block.caption)}}}\n" if block.caption else ""
            note = f"\n\\par\\footnotesize {tex_escape(block.note)}" if block.note else ""
            parts.append(
                "\\begin{table}[htbp]\n\\centering\\small\n"
                + caption
                + f"\\resizebox{{\\linewidth}}{{!}}{{\\begin{{tabular}}{{{spec}}}\n\\toprule\n"
                + head
                + "\n\\midrule\n"
                + body
                + "\n\\bottomrule\n\\end{tabular}}"
                + note
                + "\n\\end{table}"
            )
        elif isinstance(block, Figure):
            path = _relative(block.png, block.relative_to)
            parts.append(
                "\\begin{figure}[htbp]\n\\centering\n"
                f"\\includegraphics[width=0.9\\linewidth]{{{path}}}\n"
                f"\\caption*{{{tex_escape(block.caption)}}}\n\\end{{figure}}"
            )
        elif isinstance(block, Equation):
            parts.append("\\begin{equation*}\n" + block.latex + "\n\\end{equation*}")
        else:
            raise TypeError(f"cannot render {type(block).__name__}")
    return "\n\n".join(parts) + "\n"
