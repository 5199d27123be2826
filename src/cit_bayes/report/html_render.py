"""Document blocks rendered as HTML (the page ``report.html``), figures embedded."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

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

__all__ = ["to_html"]

#: How HTML sets the relations and count unit that :data:`~cit_bayes.report.blocks._TYPOGRAPHY`
#: finds in plain text.
_TYPOGRAPHY_HTML = {">=": "≥", "<=": "≤", "x10^9": "×10<sup>9</sup>", "x 10^9": "×10<sup>9</sup>"}


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
