"""Document blocks rendered as a LaTeX body (``methods_supplement.tex``): escaping, names that
may break inside a word, numbered ``longtable``s whose columns wrap to the text width, displayed
equations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cit_bayes.report.blocks import (
    _TYPOGRAPHY,
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
from cit_bayes.report.markdown_render import _md_runs, _relative

__all__ = ["tex_escape", "to_latex"]

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


#: How LaTeX sets the relations and count unit that :data:`~cit_bayes.report.blocks._TYPOGRAPHY`
#: finds in plain text.
_TYPOGRAPHY_TEX = {
    ">=": r"$\geq$",
    "<=": r"$\leq$",
    "x10^9": r"$\times 10^9$",
    "x 10^9": r"$\times 10^9$",
}


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
