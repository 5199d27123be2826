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


# ----------------------------------------------------------------------------------------- HTML
def _html_runs(runs) -> str:
    if isinstance(runs, str | Number | Cell | Code | Math):
        runs = [runs]
    out = []
    for run in runs:
        if isinstance(run, Number | Cell):
            out.append(run.html())
        elif isinstance(run, Code):
            out.append(f"<code>{html.escape(run.text)}</code>")
        elif isinstance(run, Math):
            out.append(_html_math(run.text()))
        else:
            for i, piece in enumerate(_TYPOGRAPHY.split(str(run))):
                out.append(_TYPOGRAPHY_HTML[piece] if i % 2 else html.escape(piece))
    return "".join(out)


def _html_math(plain: str) -> str:
    """Plain mathematics in italics, ``_x`` and ``^x`` set as sub- and superscripts."""
    text = html.escape(plain)
    text = re.sub(r"_([\w·α-ωΑ-Ω,]+)", r"<sub>\1</sub>", text)
    text = re.sub(r"\^([\w·α-ωΑ-Ω−-]+)", r"<sup>\1</sup>", text)
    return f'<span class="math">{text}</span>'


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


#: ASCII relations and the count unit in plain text (``PLT >= 100 x10^9/L``), set as mathematics.
_TYPOGRAPHY = re.compile(r"(>=|<=|\bx ?10\^9)")
_TYPOGRAPHY_TEX = {
    ">=": r"$\geq$",
    "<=": r"$\leq$",
    "x10^9": r"$\times 10^9$",
    "x 10^9": r"$\times 10^9$",
}
_TYPOGRAPHY_HTML = {">=": "≥", "<=": "≤", "x10^9": "×10<sup>9</sup>", "x 10^9": "×10<sup>9</sup>"}


def _tex_breakable(text: str, *, code: bool = False) -> str:
    """Escaped text that may break after ``_``, and after ``/`` before 3 or more characters (a
    path, not ``x10^9/L``), inside a word; in code (``code``) after any ``_``, ``/``, ``.``, ``-``
    and every 8 characters of a run of 13 or more (SHA-256 fingerprints). Texts of 16
    characters or fewer are left whole; ordinary words are left to TeX's hyphenation."""
    if len(text) <= 16:  # short enough never to run past a margin
        return tex_escape(text)
    separators = r"(?<=[_/.\-])(?=\S)" if code else r"(?<=_)(?=\S)|(?<=/)(?=[^\s/]{3,})"
    out = []
    for token in re.split(separators, text):
        if code and len(token) > 12 and not re.search(r"\s", token):
            pieces = [token[i : i + 8] for i in range(0, len(token), 8)]
            out.append(r"\allowbreak{}".join(tex_escape(piece) for piece in pieces))
        else:
            out.append(tex_escape(token))
    return r"\allowbreak{}".join(out)


def _tex_runs(runs) -> str:
    if isinstance(runs, str | Number | Cell | Code | Math):
        runs = [runs]
    out = []
    for run in runs:
        if isinstance(run, Code):
            out.append(r"\texttt{" + _tex_breakable(run.text, code=True) + "}")
        elif isinstance(run, Math):
            out.append(f"${run.latex}$")
        else:
            for i, piece in enumerate(_TYPOGRAPHY.split(str(run))):
                out.append(_TYPOGRAPHY_TEX[piece] if i % 2 else _tex_breakable(piece))
    return "".join(out)


#: Table font sizes, smallest last, with about how many characters of average width fit across
#: the text (A4, 2.2 cm margins, 11 pt document) less 2 per column for the column gaps.
_TABLE_SIZES = (("small", 92), ("footnotesize", 104), ("scriptsize", 118))
_COLUMN = r">{\raggedright\arraybackslash\hspace{0pt}}p{\dimexpr %.4f\linewidth-2\tabcolsep\relax}"


def _width(text: str) -> float:
    """A text's width in average characters (capitals and ``m``/``w`` wider, ``i``/``l`` and
    punctuation narrower), enough to size a table's columns."""
    wide = sum(1 for ch in text if ch.isupper() or ch in "mwMW%")
    narrow = sum(1 for ch in text if ch in "ijlft.,;:!|'()[] ")
    return len(text) + 0.5 * wide - 0.3 * narrow


def _fill_widths(natural: list[float], floors: list[float], budget: int) -> list[float]:
    """Column widths (characters) summing to ``budget``: each column gets its natural width up to
    a common cap (water filling), never less than its floor."""
    low, high = 0.0, float(max(natural))
    for _ in range(60):
        cap = (low + high) / 2
        total = sum(max(f, min(n, cap)) for n, f in zip(natural, floors, strict=True))
        low, high = (cap, high) if total < budget else (low, cap)
    widths = [max(f, min(n, low)) for n, f in zip(natural, floors, strict=True)]
    scale = budget / sum(widths)
    return [w * scale for w in widths]


def _table_size(natural: list[float], floors: list[float]) -> tuple[str, int, bool]:
    """The largest font at which the columns fit at their natural widths (``True``) or at least
    their longest words fit (``False``); the smallest font when neither does."""
    for size, per_line in _TABLE_SIZES:
        budget = per_line - 2 * len(natural)
        if sum(natural) <= budget:
            return size, budget, True
        if sum(floors) <= budget:
            return size, budget, False
    return size, budget, False


def _tex_table(block: Table, caption: str) -> str:
    """A numbered ``longtable`` (breaks across pages, head repeated) whose columns wrap to the
    text width: natural widths where they fit, else widths shared by water filling; the font
    steps down from small to scriptsize (8 pt) only as far as the longest words need. Widths
    are in fractions of the text width (each less the column gaps)."""
    n = len(block.columns)
    cells = [list(block.columns), *([_md_runs(c) for c in row] for row in block.rows)]
    natural = [max(_width(row[j]) for row in cells) + 1 for j in range(n)]
    words = [
        max((_width(w) for row in cells for w in row[j].split()), default=1.0) for j in range(n)
    ]
    floors = [min(w, 14.0) + 1 for w in words]
    size, budget, fits = _table_size(natural, floors)
    # fixed column widths throughout (no ``l`` columns), so longtable needs no second pass to
    # agree on them
    if fits:  # each column its natural width and its gap: the table narrower than the text
        fractions = [(w + 2) / (budget + 2 * n) for w in natural]
    else:  # the text width shared by water filling, gaps included
        widths = _fill_widths(natural, floors, budget)
        fractions = [w / sum(widths) for w in widths]
    spec = "".join(_COLUMN % f for f in fractions)
    head = " & ".join(_tex_runs(c) for c in block.columns) + r" \\"
    body = "\n".join(" & ".join(_tex_runs(c) for c in row) + r" \\" for row in block.rows)
    lines = [
        "{\\" + size + r"\setlength{\tabcolsep}{4pt}",
        f"\\begin{{longtable}}{{@{{}}{spec}@{{}}}}",
        f"\\caption{{{tex_escape(caption)}}}\\\\" if caption else "",
        r"\toprule", head, r"\midrule", r"\endfirsthead",
        f"\\multicolumn{{{n}}}{{@{{}}l}}{{\\emph{{(continued)}}}}\\\\",
        r"\toprule", head, r"\midrule", r"\endhead",
        r"\bottomrule", r"\endlastfoot",
        body,
        r"\end{longtable}}",
    ]  # fmt: skip
    if block.note:
        lines.append(r"{\footnotesize\noindent " + _tex_runs(block.note) + r"\par}")
    return "\n".join(line for line in lines if line)


def _tex_equation(latex: str) -> str:
    """A displayed equation; a statement of several parts (joined by ``,\\quad``) is set one
    part per line (``gather*``) so that no line runs past the margin."""
    parts = [part.strip() for part in re.split(r",\s*\\quad\s*", latex)]
    if len(parts) == 1:
        return "\\begin{equation*}\n" + latex + "\n\\end{equation*}"
    return "\\begin{gather*}\n" + ",\\\\\n".join(parts) + "\n\\end{gather*}"


def to_latex(blocks: Sequence) -> str:
    """Render blocks as a LaTeX body (for ``\\begin{document}``; the packages are those of
    :func:`cit_bayes.report.render.render_latex_document`).

    Tables and figures are numbered; a table without a caption takes the heading above it.

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
    heading = ""
    for block in blocks:
        if isinstance(block, Heading):
            command = commands.get(block.level, "paragraph")
            parts.append(f"\\{command}{{{tex_escape(block.text)}}}")
            heading = block.text
        elif isinstance(block, Paragraph):
            parts.append(_tex_runs(block.runs))
        elif isinstance(block, Items):
            items = "\n".join(r"  \item " + _tex_runs(item) for item in block.items)
            parts.append("\\begin{itemize}\n" + items + "\n\\end{itemize}")
        elif isinstance(block, Banner):
            parts.append(
                r"\noindent\fbox{\parbox{\dimexpr\linewidth-2\fboxsep-2\fboxrule\relax}{\textbf{"
                + tex_escape(block.kind.upper())
                + ".} "
                + _tex_runs(block.runs)
                + "}}\\par\\smallskip"
            )
        elif isinstance(block, Table):
            parts.append(_tex_table(block, block.caption or heading))
        elif isinstance(block, Figure):
            path = _relative(block.png, block.relative_to)
            parts.append(
                "\\begin{figure}[htbp]\n\\centering\n"
                f"\\includegraphics[width=0.9\\linewidth,height=0.7\\textheight,"
                f"keepaspectratio]{{{path}}}\n"
                f"\\caption{{{_tex_runs(block.caption)}}}\n\\end{{figure}}"
            )
        elif isinstance(block, Equation):
            parts.append(_tex_equation(block.latex))
        else:
            raise TypeError(f"cannot render {type(block).__name__}")
    return "\n\n".join(parts) + "\n"
