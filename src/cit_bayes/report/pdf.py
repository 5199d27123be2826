"""Compile the methods supplement's LaTeX to PDF with pdflatex, and read what TeX said.

The supplement is plain LaTeX (:func:`cit_bayes.report.render.render_latex_document`); TeX Live
is a system program, not a Python package, so it is used when it is there
(:data:`cit_bayes.report.render.TEX_PACKAGES` names Debian's packages) and the run says so when
it is not. pdflatex runs once (the document has no cross-references, and its tables have fixed
column widths, so a second pass would change nothing; a log asking for a rerun gets one) in a
build folder inside the output folder, which is removed afterwards; only the PDF stays. The
document date, the PDF's dates and its trailer ID are fixed (``SOURCE_DATE_EPOCH``), so the same
``.tex`` gives the same PDF bytes.

The log is read for what a journal's production office would reject: overfull boxes (text or
tables running past the margin), with how far they run over, and TeX errors.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OVERFULL_TOLERANCE_PT", "PdfBuild", "compile_pdf", "overfull_boxes", "pdflatex_path"]

#: An overfull box up to this many points is invisible in print; beyond it the text runs past
#: the margin (the issue's and journals' criterion).
OVERFULL_TOLERANCE_PT = 1.0

#: 1980-01-01, the date the Word copy's archive also carries: no clock time in the documents.
_EPOCH = "315532800"
_OVERFULL = re.compile(r"^Overfull \\[hv]box \(([0-9.]+)pt too (?:wide|high)\)(.*)$", re.M)


@dataclass(frozen=True)
class PdfBuild:
    """What compiling a supplement gave.

    Attributes
    ----------
    pdf : Path
        The PDF written beside the ``.tex``.
    pages : int
        Pages of the PDF (from TeX's log).
    overfull : list of tuple (float, str)
        Each overfull box: how far it runs over (pt) and where (TeX's words, line numbers of the
        ``.tex``).

    Examples
    --------
    >>> from pathlib import Path
    >>> from cit_bayes.report.pdf import OVERFULL_TOLERANCE_PT, PdfBuild
    >>> build = PdfBuild(Path("supplement.pdf"), pages=12,
    ...                  overfull=[(0.4, "in paragraph at lines 15--16"),
    ...                            (6.8, "in alignment at lines 40--52")])
    >>> build.worst_overfull(), build.worst_overfull() > OVERFULL_TOLERANCE_PT
    (6.8, True)
    >>> PdfBuild(Path("supplement.pdf"), pages=12).worst_overfull()  # no overfull box
    0.0
    """

    pdf: Path
    pages: int
    overfull: list[tuple[float, str]] = field(default_factory=list)

    def worst_overfull(self) -> float:
        """The largest overrun in points (0 when none)."""
        return max((points for points, _ in self.overfull), default=0.0)


def pdflatex_path() -> str | None:
    """The pdflatex program on ``PATH``, or ``None``.

    Examples
    --------
    >>> from cit_bayes.report.pdf import pdflatex_path
    >>> pdflatex_path() is None or pdflatex_path().endswith("pdflatex")
    True
    """
    return shutil.which("pdflatex")


def overfull_boxes(log: str) -> list[tuple[float, str]]:
    """The overfull boxes a TeX log reports: (points over, TeX's description).

    Examples
    --------
    >>> from cit_bayes.report.pdf import overfull_boxes
    >>> overfull_boxes("Overfull \\\\hbox (6.8pt too wide) in paragraph at lines 15--16\\n")
    [(6.8, 'in paragraph at lines 15--16')]
    """
    return [(float(points), where.strip()) for points, where in _OVERFULL.findall(log)]


def compile_pdf(tex: str | Path, *, timeout: float = 300.0) -> PdfBuild:
    """Compile ``tex`` (in its own folder, where its figures are) to a PDF beside it.

    Parameters
    ----------
    tex : str or Path
        The ``.tex`` file; figures are looked up relative to its folder.
    timeout : float
        Seconds each pdflatex pass may take.

    Returns
    -------
    PdfBuild

    Raises
    ------
    FileNotFoundError
        When pdflatex is not installed (the message names the Debian packages).
    RuntimeError
        When TeX stops with an error (the message holds the log's error lines).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from cit_bayes.report.pdf import compile_pdf, pdflatex_path
    >>> from cit_bayes.report.render import render_latex_document
    >>> from cit_bayes.report.document import Paragraph
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     tex = Path(tmp) / "demo.tex"
    ...     _ = tex.write_text(render_latex_document("Demo", [Paragraph(["Hello."])]))
    ...     build = compile_pdf(tex) if pdflatex_path() else None
    ...     ok = build is None or (build.pages == 1 and build.worst_overfull() == 0)
    >>> ok
    True
    """
    from cit_bayes.report.render import TEX_PACKAGES

    program = pdflatex_path()
    tex = Path(tex).resolve()
    if program is None:
        raise FileNotFoundError(
            "pdflatex not found: install TeX Live (Debian: apt-get install "
            + " ".join(TEX_PACKAGES)
            + ") to have the supplement as PDF; the .tex is written either way"
        )
    build = tex.parent / f".{tex.stem}-latex"
    build.mkdir(exist_ok=False)
    env = {**os.environ, "SOURCE_DATE_EPOCH": _EPOCH, "FORCE_SOURCE_DATE": "1"}
    command = [program, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
               f"-output-directory={build}", tex.name]  # fmt: skip
    try:
        for _ in range(2):  # a second pass only when TeX asks for one
            done = subprocess.run(
                command, cwd=tex.parent, env=env, capture_output=True, timeout=timeout,
                check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            log_file = build / f"{tex.stem}.log"
            log = log_file.read_text(encoding="latin-1") if log_file.exists() else ""
            if done.returncode != 0:
                errors = [line for line in log.splitlines() if line.startswith("!")]
                raise RuntimeError(
                    f"pdflatex stopped on {tex.name}: " + ("; ".join(errors[:5]) or "no log")
                )
            if "Rerun LaTeX" not in log and "Rerun to get" not in log:
                break
        pages = re.search(r"Output written on[\s\S]*?\((\d+)\s+pages?", log)
        target = tex.with_suffix(".pdf")
        shutil.move(build / f"{tex.stem}.pdf", target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return PdfBuild(target, int(pages.group(1)) if pages else 0, overfull_boxes(log))
