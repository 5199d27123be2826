"""The report of ``cit-bayes run``: ``report.html``, the methods supplement, figures, ledgers.

:func:`write_report` is the pipeline's last step. It reads the numbers from the results documents
the pipeline has already written into the output folder (``results.json``, and on the bundled
data ``published/results.json`` and ``audit/audit.json``), so that every printed number can be
checked against a file on disk: each goes through a :class:`~cit_bayes.report.ledger.Ledger`
(``tables/report_numbers.csv`` for the page, ``tables/supplement_numbers.csv`` for the
supplement). Figures come from the analysis's tidy tables. Nothing here computes a statistic, and
nothing names a patient or prints a row of the cohort.

Sections of the page, in order: key answers (the plan's questions, primary analysis), cohort and
balance, response, platelet trajectories, recovery, safety, prior and estimand sensitivity, the
audit's findings (bundled data), the calibration of the intervals (the ``calibration`` block of
``results.json``, or one sentence that there is none), diagnostics, reproducibility. Banners on
top: synthetic data, failed fits (named), weighting warnings.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cit_bayes.exceptions import DocumentWarning
from cit_bayes.report.docx_render import write_docx
from cit_bayes.report.figure_files import SYNTHETIC_STAMP, stamped
from cit_bayes.report.ledger import Ledger
from cit_bayes.report.patient_context import (
    RESULTS_DOC,
    ReportContext,
    build_context,
    listing,
)
from cit_bayes.report.pdf import OVERFULL_TOLERANCE_PT, compile_pdf
from cit_bayes.report.render import render_html, render_latex_document, render_markdown_document
from cit_bayes.report.sections_answers import key_answers_section
from cit_bayes.report.sections_balance import cohort_section
from cit_bayes.report.sections_calibration import calibration_section
from cit_bayes.report.sections_checks import (
    banners,
    diagnostics_section,
    reproducibility_section,
    sensitivity_section,
)
from cit_bayes.report.sections_confounding import confounding_section
from cit_bayes.report.sections_patient import (
    plt_section,
    response_section,
    safety_section,
)
from cit_bayes.report.sections_predictive import predictive_section
from cit_bayes.report.sections_published import AUDIT_DOC, PUBLISHED_DOC, audit_section
from cit_bayes.report.sections_recovery import recovery_section
from cit_bayes.report.supplement import supplement_blocks, supplement_title

__all__ = ["read_documents", "write_report"]


def read_documents(out_dir: Path, *, published: bool, audit: bool) -> dict[str, object]:
    """The results documents as written on disk, by ledger name.

    The report reads the files rather than the objects in memory, so that what it prints is
    what a reader finds beside it (the JSON round trip is the reference).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from cit_bayes.report.patient_report import read_documents
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = pathlib.Path(tmp, "results.json").write_text('{"meta": {"seed": 1}}')
    ...     documents = read_documents(tmp, published=False, audit=False)
    >>> documents
    {'results': {'meta': {'seed': 1}}}
    """
    out_dir = Path(out_dir)
    documents: dict[str, object] = {
        RESULTS_DOC: json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    }
    for name, wanted in ((PUBLISHED_DOC, published), (AUDIT_DOC, audit)):
        if wanted:
            path = out_dir / f"{name}.json"
            if not path.is_file():
                raise FileNotFoundError(f"the report needs {path}, which the pipeline writes")
            documents[name] = json.loads(path.read_text(encoding="utf-8"))
    return documents


def _context(out_dir: Path, analysis, documents: Mapping) -> ReportContext:
    return build_context(Ledger(documents), analysis.tables, analysis.plan, out_dir)


def write_report(
    out_dir: Path,
    analysis,
    *,
    published: dict | None = None,
    audit: list | None = None,
    command: str = "",
    pdf: bool = True,
    alongside: Callable[[], object] | None = None,
) -> dict[str, Path]:
    """Write ``report.html``, ``methods_supplement.md``/``.tex``/``.docx`` (and ``.pdf`` where
    pdflatex is installed), figures and the number ledgers.

    Parameters
    ----------
    out_dir : Path
        The output folder, where the pipeline has written ``results.json`` (and, when
        ``published``/``audit`` are given, ``published/results.json`` and ``audit/audit.json``).
    analysis : PatientAnalysis
        The analysis the results come from (its tidy tables draw the figures; its plan gives
        the prior values of the supplement).
    published : dict, optional
        The published reanalysis's results document (its presence switches the prior-sensitivity
        blocks on; the numbers are read from the file on disk).
    audit : list, optional
        The audit's records (likewise).
    command : str
        The command line, for the reproducibility section. The page holds no clock time
        (when the run was made and how long it took are in ``run.json``, written by the
        pipeline), so the same seed writes the same page.
    pdf : bool
        Compile the supplement to ``methods_supplement.pdf`` (:func:`cit_bayes.report.pdf.compile_pdf`)
        when pdflatex is installed; without it a warning says how to install it.
    alongside : callable, optional
        Work of the caller's done while pdflatex compiles (it runs in a process of its own),
        or at the end without a PDF (the pipeline writes the fits' draws then).

    Returns
    -------
    dict of str to Path
        ``html``, ``supplement_md``, ``supplement_tex``, ``supplement_docx``, ``supplement_pdf``
        (when compiled), ``report_numbers``, ``supplement_numbers`` and ``figure:<name>`` for
        each figure (PNG; the SVG is beside it).

    Examples
    --------
    >>> import tempfile
    >>> from cit_bayes.report.patient_report import write_report
    >>> with tempfile.TemporaryDirectory() as tmp:  # an empty folder: no results.json to report
    ...     try: write_report(tmp, analysis=None)
    ...     except FileNotFoundError as error: print(type(error).__name__)
    FileNotFoundError
    """
    out_dir = Path(out_dir)
    documents = read_documents(out_dir, published=published is not None, audit=audit is not None)
    page = _context(out_dir, analysis, documents)
    synthetic = bool(page.results["meta"].get("synthetic"))
    # every figure of a synthetic cohort's report says so on the image itself
    with stamped(SYNTHETIC_STAMP if synthetic else None):
        written = _write_page(out_dir, analysis, page, documents, command, synthetic)
        written |= _write_supplement(
            out_dir, _context(out_dir, analysis, documents), documents, synthetic
        )
    if pdf:
        built = _supplement_pdf(written["supplement_tex"], alongside)
        if built is not None:
            written["supplement_pdf"] = built
    elif alongside is not None:
        alongside()
    return written


def _write_page(out_dir: Path, analysis, page, documents, command: str, synthetic: bool):
    """``report.html`` and its number ledger; the figures its sections drew."""
    has_published, has_audit = PUBLISHED_DOC in documents, AUDIT_DOC in documents
    sections = [
        key_answers_section(page),
        cohort_section(page),
        response_section(page),
        plt_section(page),
        recovery_section(page),
        safety_section(page),
        predictive_section(page),
        sensitivity_section(page, published=has_published),
        confounding_section(page),
    ]
    if has_audit:
        sections.append(audit_section(page.ledger))
    sections += [
        calibration_section(page),
        diagnostics_section(page, published=has_published),
        reproducibility_section(page, command=command),
    ]
    meta = page.results["meta"]
    title = getattr(analysis.plan, "title", None) or "Adjusted Bayesian reanalysis"
    subtitle = [
        f"{listing(page.arms)}: Bayesian, confounding-adjusted comparison of the arms.",
        f"Primary analysis: {page.label(page.primary)}. Data: {meta['data']['file']}"
        + (" (synthetic)." if meta.get("synthetic") else "."),
    ]
    html = render_html(
        title=title,
        subtitle=subtitle,
        banners=banners(page, published=documents.get(PUBLISHED_DOC)),
        sections=sections,
        version=str(meta.get("package_version", "")),
        has_published=has_published,
        has_audit=has_audit,
    )
    written: dict[str, Path] = {"html": out_dir / "report.html"}
    written["html"].write_text(html, encoding="utf-8")
    written["report_numbers"] = page.ledger.write_csv(
        out_dir / "tables" / "report_numbers.csv", synthetic=synthetic
    )
    for name, png in page.figure_files.items():
        written[f"figure:{name}"] = png
    return written


def _write_supplement(out_dir: Path, supplement, documents, synthetic: bool):
    """The methods supplement as Markdown, LaTeX and Word, and its number ledger."""
    blocks = supplement_blocks(supplement, published=documents.get(PUBLISHED_DOC))
    heading = supplement_title(supplement)
    written = {
        "supplement_md": out_dir / "methods_supplement.md",
        "supplement_tex": out_dir / "methods_supplement.tex",
    }
    written["supplement_md"].write_text(render_markdown_document(heading, blocks), encoding="utf-8")
    written["supplement_tex"].write_text(render_latex_document(heading, blocks), encoding="utf-8")
    written["supplement_docx"] = write_docx(heading, blocks, out_dir / "methods_supplement.docx")
    written["supplement_numbers"] = supplement.ledger.write_csv(
        out_dir / "tables" / "supplement_numbers.csv", synthetic=synthetic
    )
    return written


def _supplement_pdf(tex: Path, alongside: Callable[[], object] | None = None) -> Path | None:
    """Compile the supplement (``alongside`` runs meanwhile, here); warn (not fail) without TeX
    or when a box runs over the margin."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # the thread waits on pdflatex's process
        compiling = pool.submit(compile_pdf, tex)
        if alongside is not None:
            alongside()
    try:
        build = compiling.result()
    except FileNotFoundError as missing:
        warnings.warn(
            f"methods_supplement.pdf not written: {missing}", DocumentWarning, stacklevel=3
        )
        return None
    over = [points for points, _ in build.overfull if points > OVERFULL_TOLERANCE_PT]
    if over:
        warnings.warn(
            f"methods_supplement.pdf: {len(over)} overfull box(es) run past the margin by up to "
            f"{max(over):.1f} pt",
            DocumentWarning,
            stacklevel=3,
        )
    return build.pdf
