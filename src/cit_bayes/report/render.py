"""Render report sections into one self-contained HTML page, and documents into Markdown/LaTeX.

The page has no external resource: styles are inline and figures are embedded as ``data:`` URIs,
so ``report.html`` opens offline from any folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from cit_bayes.report.document import (
    Banner,
    Heading,
    tex_escape,
    to_html,
    to_latex,
    to_markdown,
)

__all__ = ["Section", "render_html", "render_latex_document", "render_markdown_document"]


@dataclass(frozen=True)
class Section:
    """A report section: an anchor, its navigation label, and its blocks.

    Examples
    --------
    >>> from cit_bayes.report.document import Paragraph
    >>> from cit_bayes.report.render import Section
    >>> section = Section("intro", "Introduction", [Paragraph(["Hello."])])
    >>> section.anchor, section.title, len(section.blocks)
    ('intro', 'Introduction', 1)
    """

    anchor: str
    title: str
    blocks: Sequence = field(default_factory=tuple)
    css: str = ""


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("cit_bayes.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def render_html(
    *,
    title: str,
    subtitle: Sequence[str],
    banners: Sequence[Banner],
    sections: Sequence[Section],
    version: str,
    has_published: bool = False,
    has_audit: bool = False,
) -> str:
    """Return the report page as a string.

    Examples
    --------
    >>> from cit_bayes.report.document import Paragraph
    >>> from cit_bayes.report.render import Section, render_html
    >>> section = Section("intro", "Introduction", [Paragraph(["a < b"])])
    >>> page = render_html(title="Demo", subtitle=[], banners=[], sections=[section], version="0")
    >>> page.startswith("<!DOCTYPE html>"), "<p>a &lt; b</p>" in page
    (True, True)
    """
    template = _environment().get_template("report.html.j2")
    rendered_sections = [
        {
            "anchor": section.anchor,
            "css": section.css,
            "body": Markup(to_html([Heading(2, section.title, section.anchor), *section.blocks])),
        }
        for section in sections
    ]
    return template.render(
        title=title,
        subtitle=list(subtitle),
        banners=Markup(to_html(list(banners))),
        sections=rendered_sections,
        navigation=[(f"section-{s.anchor}", s.title) for s in sections],
        version=version,
        has_published=has_published,
        has_audit=has_audit,
    )


def render_markdown_document(title: str, blocks: Sequence) -> str:
    """A Markdown document: a title, then the blocks.

    Examples
    --------
    >>> from cit_bayes.report.document import Paragraph
    >>> from cit_bayes.report.render import render_markdown_document
    >>> render_markdown_document("Demo", [Paragraph(["Hello."])])
    '# Demo\\n\\nHello.\\n'
    """
    return f"# {title}\n\n" + to_markdown(blocks)


_PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[utf8]{inputenc}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{array,booktabs,longtable}
\usepackage{graphicx}
\usepackage[font=small,labelfont=bf]{caption}
\usepackage{microtype}
\usepackage[hidelinks]{hyperref}
\setlength{\emergencystretch}{3em}
\setlength{\LTcapwidth}{\linewidth}
\setlength{\LTpre}{0.5\baselineskip}
\setlength{\LTpost}{0.5\baselineskip}
\ifdefined\pdftrailerid\pdftrailerid{}\fi
"""

#: The TeX Live packages (Debian) the document needs: pdflatex, the LaTeX packages of
#: :data:`_PREAMBLE` and the Latin Modern fonts (Type 1, not bitmaps).
TEX_PACKAGES = ("texlive-latex-base", "texlive-latex-recommended", "texlive-fonts-recommended",
                "lmodern")  # fmt: skip


def render_latex_document(title: str, blocks: Sequence) -> str:
    """A complete LaTeX document (article class, A4; booktabs, longtable, graphicx, amsmath,
    caption, microtype, Latin Modern; see :data:`TEX_PACKAGES`).

    Examples
    --------
    >>> from cit_bayes.report.document import Paragraph
    >>> from cit_bayes.report.render import render_latex_document
    >>> tex = render_latex_document("Demo", [Paragraph(["Hello."])])
    >>> tex.count("begin{document}"), tex.rstrip().endswith("end{document}")
    (1, True)
    """
    return (
        _PREAMBLE
        + f"\\title{{{tex_escape(title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n\n"
        + to_latex(blocks)
        + "\n\\end{document}\n"
    )
