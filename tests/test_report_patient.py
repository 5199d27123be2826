"""The report of ``cit-bayes run``: report.html, the methods supplement, figures, number ledgers.

Built on the shared ``small_analysis`` fixture (simulated cohort of 120 patients, short chains:
the gates are expected to fail, which exercises the failed-fit banner). Reference values: every
printed number is compared with the value at its JSON pointer in the JSON files on disk beside
the report (``results.json``; the audit of the paper's tables, run here, as ``audit/audit.json``;
a small hand-written published-reanalysis document as ``published/results.json``), formatted
with the style the span names; the weighted Table 1's cells with the CSV written beside the
report; the prior values with the plan object; the banners with the diagnostics and ``meta``
entries of ``results.json`` (flipped on disk to exercise both branches).
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import fields
from pathlib import Path

import pytest

from cit_bayes.analyses.patient import write_fit_outputs
from cit_bayes.bayes.recovery import RecoveryPrior
from cit_bayes.bayes.response import ResponsePrior
from cit_bayes.bayes.safety import SafetyPrior
from cit_bayes.bayes.trajectory_prior import TrajectoryPrior
from cit_bayes.report.document import tex_escape
from cit_bayes.report.ledger import format_value, pointer, resolve
from cit_bayes.report.model_equations import (
    GROUP_EQUATION,
    GROUP_TEXT,
    MODEL_EQUATIONS,
    MODEL_TEXT,
    PRIOR_SYMBOLS,
)
from cit_bayes.report.patient_report import write_report
from cit_bayes.report.supplement_models import prior_value_text

SPAN = re.compile(
    r'<span class="num" data-doc="([^"]*)" data-key="([^"]*)" data-style="([^"]*)">([^<]*)</span>'
)
CELL = re.compile(
    r'<span class="cell" data-table="([^"]*)" data-row="(\d+)" data-column="([^"]*)">([^<]*)</span>'
)
BANNER = re.compile(r'<div class="banner banner-(\w+)" role="alert">(.*?)</div>', re.S)

#: A published-reanalysis document in the shared layout, written by hand: two prior sets, the
#: keys the report reads, and one failed fit (so the published part of the banner shows).
PUBLISHED = {
    "meta": {"schema_version": "1.0", "source": "published"},
    "response": {
        prior: {
            "prob_superior": {
                "combination>rhTPO": p,
                "combination>hetrombopag": p - 0.01,
                "combination>rhIL-11": p - 0.02,
            },
            "prob_noninferior": {
                "hetrombopag vs rhTPO @ 0.10": 0.8123,
                "hetrombopag vs rhIL-11 @ 0.10": 0.9345,
            },
        }
        for prior, p in (("flat", 0.9876), ("skeptical", 0.9512))
    },
    "diagnostics": {
        "response/flat": {
            "max_rhat": 1.0021,
            "min_ess_bulk": 5604.1,
            "min_ess_tail": 2597.5,
            "divergences": 0,
            "passed": True,
            "failures": [],
            "sampler": "nutpie",
        },
        "response/skeptical": {
            "max_rhat": 1.0312,
            "min_ess_bulk": 210.4,
            "min_ess_tail": 190.2,
            "divergences": 3,
            "passed": False,
            "failures": ["max R-hat 1.0312 > 1.01", "3 divergences"],
            "sampler": "nutpie",
        },
    },
}


def _documents(folder: Path) -> dict:
    documents = {"results": json.loads((folder / "results.json").read_text(encoding="utf-8"))}
    for name in ("published/results", "audit/audit"):
        path = folder / f"{name}.json"
        if path.is_file():
            documents[name] = json.loads(path.read_text(encoding="utf-8"))
    return documents


def _ledger_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


#: What writing each full report warned, by its folder.
WARNED: dict[Path, list[str]] = {}


def _write_full_report(out: Path, small_analysis) -> dict:
    from cit_bayes.paper.audit import DEFAULT_SEED, run_audit, write_audit
    from cit_bayes.paper.tables import load_tables

    write_fit_outputs(small_analysis, out)
    records = run_audit(load_tables(), seed=DEFAULT_SEED)
    write_audit(records, out / "audit")
    audit = json.loads((out / "audit" / "audit.json").read_text(encoding="utf-8"))
    (out / "published").mkdir()
    (out / "published" / "results.json").write_text(json.dumps(PUBLISHED), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = write_report(
            out,
            small_analysis,
            published=PUBLISHED,
            audit=audit,
            command="cit-bayes run --data small.csv",
        )  # compiles methods_supplement.pdf: the suite's real supplement through TeX
    WARNED[out] = [str(w.message) for w in caught]
    return written


@pytest.fixture(scope="module")
def report(tmp_path_factory, small_analysis):
    """The report of the small analysis, with the audit and a published document beside it."""
    out = tmp_path_factory.mktemp("report")
    return out, _write_full_report(out, small_analysis)


def _variant(tmp_path, analysis, change) -> tuple[Path, str, str]:
    """A report from the same analysis with ``change`` applied to results.json on disk."""
    out = tmp_path / "variant"
    write_fit_outputs(analysis, out)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    change(results)
    (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    write_report(out, analysis, pdf=False)
    page = (out / "report.html").read_text(encoding="utf-8")
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    return out, page, markdown


def test_every_file_is_written_and_figures_are_300_dpi_png_with_svg(report):
    from PIL import Image

    out, written = report
    for name in ("report.html", "methods_supplement.md", "methods_supplement.tex"):
        assert (out / name).is_file() and (out / name).stat().st_size > 1000, name
    for name in ("report_numbers.csv", "supplement_numbers.csv"):
        assert _ledger_rows(out / "tables" / name), name
    figures = {k: v for k, v in written.items() if k.startswith("figure:")}
    expected = {"response_rates", "plt_trajectories", "recovery_curves", "safety_rates",
                "predictive_checks",
                "overlap", "love_plot_adjusted", "tipping_point"}  # fmt: skip
    assert {k.removeprefix("figure:") for k in figures} == expected
    for png in figures.values():
        assert png.parent == out / "figures" and png.with_suffix(".svg").is_file()
        with Image.open(png) as image:
            dpi = image.info["dpi"]
        assert dpi == pytest.approx((300, 300), abs=0.5)
    assert all(Path(p).is_file() for p in written.values())


def test_every_number_on_the_page_equals_the_json_on_disk(report):
    out, _ = report
    documents = _documents(out)
    page = (out / "report.html").read_text(encoding="utf-8")
    spans = SPAN.findall(page)
    assert len(spans) > 300
    for doc, key, style, text in spans:
        value = resolve(documents[html.unescape(doc)], html.unescape(key))
        assert format_value(value, style) == html.unescape(text), (doc, key)
    assert {html.unescape(doc) for doc, *_ in spans} == {
        "results",
        "published/results",
        "audit/audit",
    }


def test_the_ledger_lists_every_number_of_the_page(report):
    out, _ = report
    documents = _documents(out)
    page = (out / "report.html").read_text(encoding="utf-8")
    rows = _ledger_rows(out / "tables" / "report_numbers.csv")
    recorded = {(r["document"], r["key"], r["style"], r["text"]) for r in rows}
    printed = {tuple(html.unescape(x) for x in span) for span in SPAN.findall(page)}
    assert printed <= recorded
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for row in rows:
        value = resolve(documents[row["document"]], row["key"])
        assert format_value(value, row["style"]) == row["text"], row
        assert row["text"] in text, row


def test_key_answers_come_first_and_answer_the_papers_questions(report, small_analysis):
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    sections = re.findall(r'<section id="section-([\w-]+)"', page)
    assert sections[:6] == ["key-answers", "cohort", "response", "plt", "recovery", "safety"]
    assert sections[-2:] == ["diagnostics", "reproducibility"]
    assert {"sensitivity", "audit"} <= set(sections)
    first = page[page.index('id="section-key-answers"') : page.index('id="section-cohort"')]
    keys = {html.unescape(key) for _, key, _, _ in SPAN.findall(first)}
    primary = next(
        a["name"] for a in results["meta"]["analyses"]
        if a["estimand"] == results["meta"]["primary_estimand"]
    )  # fmt: skip
    margin = "{:.2f}".format(results["meta"]["noninferiority_margin"])
    for arm in ("rhTPO", "hetrombopag", "rhIL-11"):
        assert pointer("response", primary, "prob_superior", f"combination>{arm}") in keys
        assert pointer("recovery", primary, "difference", f"combination-{arm}", "mean") in keys
    for arm in ("rhTPO", "rhIL-11"):
        key = pointer("response", primary, "prob_noninferior", f"hetrombopag vs {arm} @ {margin}")
        assert key in keys
    for arm in small_analysis.results["meta"]["data"]["arms"]:
        assert pointer("response", primary, "rate", arm, "mean") in keys
    assert "non-inferior" in first


def test_table_one_cells_equal_the_csv_beside_the_report(report):
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    cells = CELL.findall(page)
    assert len(cells) > 40
    tables: dict[str, list[dict]] = {}
    for table, row, column, text in cells:
        rows = tables.setdefault(table, _ledger_rows(out / html.unescape(table)))
        assert rows[int(row)][html.unescape(column)] == html.unescape(text), (row, column)


def test_supplement_numbers_equal_the_json_and_appear_in_md_and_tex(report, small_analysis):
    out, _ = report
    documents = _documents(out)
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    latex = (out / "methods_supplement.tex").read_text(encoding="utf-8")
    rows = _ledger_rows(out / "tables" / "supplement_numbers.csv")
    assert len(rows) > 40
    for row in rows:
        value = resolve(documents[row["document"]], row["key"])
        assert format_value(value, row["style"]) == row["text"], row
        assert row["text"] in markdown and tex_escape(row["text"]) in latex, row
    # the priors are the plan's, every field of every model
    for endpoint, prior in small_analysis.plan.priors.items():
        section = markdown.split(f"plan section [priors.{endpoint}]")[1].split("###")[0]
        for field in fields(prior):
            assert f"| `{field.name}` |" in section
            assert f"| {prior_value_text(getattr(prior, field.name))} |" in section
    for equation in MODEL_EQUATIONS["plt"]:  # set one part per line (gather*)
        for part in re.split(r",\s*\\quad\s*", equation.latex):
            assert part.strip() in latex, part
    assert "synthetic" in markdown.lower() and "unmeasured confounding" in markdown
    assert latex.count("\\begin{") == latex.count("\\end{")


def test_failed_fits_are_named_in_a_banner_in_the_page_and_the_supplement(report):
    out, _ = report
    page = (out / "report.html").read_text(encoding="utf-8")
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    failed = [name for name, d in results["diagnostics"].items() if not d["passed"]]
    failed.append("published:response/skeptical")
    banners = dict(BANNER.findall(page))
    assert "failed" in banners and "passed" not in banners
    failed_line = next(line for line in markdown.splitlines() if line.startswith("> **FAILED"))
    for name in failed:
        assert html.escape(name) in banners["failed"]
        assert name in failed_line
    assert "published:response/flat" not in banners["failed"]


def test_banners_follow_the_results_on_disk(tmp_path, small_analysis):
    def all_passed_real_data(results):
        results["meta"]["synthetic"] = False
        for entry in results["diagnostics"].values():
            entry["passed"] = True

    _, page, markdown = _variant(tmp_path, small_analysis, all_passed_real_data)
    banners = dict(BANNER.findall(page))
    assert "synthetic" not in banners and "failed" not in banners and "passed" in banners
    assert "The data are synthetic" not in markdown and "> **FAILED" not in markdown
    assert "audit" not in re.findall(r'<section id="section-([\w-]+)"', page)

    def one_failed(results):
        for entry in results["diagnostics"].values():
            entry["passed"] = True
        results["diagnostics"]["recovery/adjusted"]["passed"] = False

    shutil.rmtree(tmp_path / "variant")
    _, page, _ = _variant(tmp_path, small_analysis, one_failed)
    banners = dict(BANNER.findall(page))
    assert "recovery/adjusted" in banners["failed"]
    assert "response/adjusted" not in banners["failed"] and "synthetic" in banners


def test_the_supplement_states_a_grouping_when_the_analysis_had_one(tmp_path, small_analysis):
    def grouped(results):
        grouping = {"column": "centre", "n_groups": 3, "groups_in_one_arm": 1}
        results["meta"]["data"]["grouping"] = grouping

    out, _, markdown = _variant(tmp_path, small_analysis, grouped)
    latex = (out / "methods_supplement.tex").read_text(encoding="utf-8")
    text = GROUP_TEXT.format(group="centre", n_groups=3)
    assert markdown.count(text) == 3  # response, PLT and recovery; not safety
    assert markdown.count("1 of the groups hold patients of one arm only") == 3
    # the equation is set one part per line (gather*): its last part appears once per model
    assert latex.count(GROUP_EQUATION.latex.split(r",\quad")[-1].strip()) == 3
    _, _, plain = _variant(tmp_path / "plain", small_analysis, lambda results: None)
    assert "groups the patients by" not in plain


def test_page_is_self_contained_and_names_no_patient(report, small_cohort_csv):
    import pandas as pd

    out, written = report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "<script" not in page
    sources = re.findall(r'<img src="([^"]{0,40})', page)
    figures = [k for k in written if k.startswith("figure:")]
    assert len(sources) == len(figures)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    cohort = pd.read_csv(small_cohort_csv)
    identifiers = [str(v) for v in cohort["patient_id"]]
    outputs = [page] + [
        (out / name).read_text(encoding="utf-8")
        for name in ("methods_supplement.md", "methods_supplement.tex")
    ]
    for text in outputs:
        assert not any(re.search(rf"\b{re.escape(i)}\b", text) for i in identifiers)


def test_prior_symbols_name_every_field_of_every_models_prior():
    classes = {
        "response": ResponsePrior,
        "plt": TrajectoryPrior,
        "recovery": RecoveryPrior,
        "safety": SafetyPrior,
    }
    for endpoint, prior in classes.items():
        assert set(PRIOR_SYMBOLS[endpoint]) == {f.name for f in fields(prior)}, endpoint
        assert MODEL_TEXT[endpoint] and MODEL_EQUATIONS[endpoint]


def test_every_figure_and_table_of_a_synthetic_run_says_so(tmp_path, report, small_analysis):
    """Issue 20, item 4: the figures carry the stamp as visible text (in the SVG, matplotlib
    writes each text beside its glyphs), every CSV a ``synthetic`` column of 1s; a run on real
    data (meta.synthetic false on disk) carries neither."""
    out, written = report
    figures = [v for k, v in written.items() if k.startswith("figure:")]
    assert figures
    for png in figures:
        assert "SYNTHETIC DATA" in png.with_suffix(".svg").read_text(encoding="utf-8"), png.name
    tables = sorted((out / "tables").glob("*.csv"))
    assert len(tables) > 10
    for path in tables:
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert rows and all(row["synthetic"] == "1" for row in rows), path.name

    def real(results):
        results["meta"]["synthetic"] = False

    plain, _, _ = _variant(tmp_path, small_analysis, real)
    for svg in (plain / "figures").glob("*.svg"):
        assert "SYNTHETIC DATA" not in svg.read_text(encoding="utf-8"), svg.name
    with (plain / "tables" / "report_numbers.csv").open(encoding="utf-8") as handle:
        assert "synthetic" not in next(csv.reader(handle))


def test_the_supplement_carries_the_barg_checklist_filled_from_the_run(report):
    """Issue 20, item 1 (BARG part): every item listed, with this run's worst R-hat and its
    fit, and the sections it points to present in the supplement."""
    out, _ = report
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    assert "## Reporting checklist: Bayesian Analysis Reporting Guidelines (BARG)" in markdown
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    worst = max(results["diagnostics"], key=lambda n: results["diagnostics"][n]["max_rhat"])
    value = f"{results['diagnostics'][worst]['max_rhat']:.4f}"
    assert f"| 2b. Convergence: R-hat (worst over every fit) | {value} ({worst}) |" in markdown
    for item in ("1a.", "1b.", "1c.", "2a.", "2c.", "2d.", "3a.", "3b.", "3c.", "4.", "5.",
                 "6a.", "6b."):  # fmt: skip
        assert f"| {item} " in markdown, item
    for heading in ("Models and priors", "Computation and diagnostics achieved", "Software"):
        assert f"## {heading}" in markdown


def test_the_supplement_opens_in_word_with_its_headings_tables_and_figures(report):
    """Issue 20, item 3: methods_supplement.docx, opened with python-docx, has the Markdown
    supplement's headings, as many tables, every figure, and numbered captions."""
    import docx

    out, written = report
    assert written["supplement_docx"] == out / "methods_supplement.docx"
    document = docx.Document(str(written["supplement_docx"]))
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    expected = [
        line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("## ")
    ]
    assert expected and all(h in headings for h in expected)
    tables = sum(1 for line in markdown.splitlines() if line.startswith("|---"))
    assert len(document.tables) == tables
    figures = markdown.count("![")
    assert figures and len(document.inline_shapes) == figures
    captions = [p.text for p in document.paragraphs if p.text.startswith(("Table ", "Figure "))]
    assert f"Table {tables}." in " ".join(captions) and f"Figure {figures}." in " ".join(captions)


def test_the_supplement_compiles_to_a_pdf_with_no_box_past_the_margin(report):
    """Issue 20, item 2: the real run's supplement compiles with pdflatex (make test installs
    TeX Live): no overfull box over 1 pt (write_report warns of any), numbered tables and
    figures with their captions, the TARGET and BARG checklists, the fingerprints whole, no
    ASCII pseudo-maths, and the synthetic banner, read back from the PDF with pdftotext."""
    if os.environ.get("CIT_BAYES_PDF_TEST") == "off":
        pytest.skip("CIT_BAYES_PDF_TEST=off: the PDF check was switched off explicitly")
    out, written = report
    assert shutil.which("pdflatex") and shutil.which("pdftotext"), (
        "TeX Live or poppler is missing: `make test` installs them "
        "(scripts/ensure-debian-packages.sh)"
    )
    assert not [w for w in WARNED[out] if "methods_supplement.pdf" in w]
    assert written["supplement_pdf"] == out / "methods_supplement.pdf"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the build folder is gone
    text = subprocess.run(
        ["pdftotext", "-layout", str(written["supplement_pdf"]), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    tables = sum(1 for line in markdown.splitlines() if line.startswith("|---"))
    figures = markdown.count("![")
    for n in range(1, tables + 1):
        assert f"Table {n}:" in text, n
    for n in range(1, figures + 1):
        assert f"Figure {n}:" in text, n
    for title in ("Target trial and its emulation", "TARGET checklist", "BARG checklist"):
        assert title in text
    assert "SYNTHETIC" in text
    fingerprint = json.loads((out / "results.json").read_text())["meta"]["data"]["fingerprint"]
    assert fingerprint in "".join(text.split())  # wrapped, but every character there
    for ascii_maths in ("s_mu", "expit(alpha_a)", ">= 100", "x10^9", "constraints_"):
        assert ascii_maths not in text, ascii_maths


def test_the_supplement_sets_the_target_trial_beside_its_emulation(
    tmp_path, report, small_analysis
):
    """Issue 20, item 1 (TARGET part): the plan's sidecar fills the target column, the run the
    emulation column (its numbers traced); time zero of a cohort without dates is "not
    reported" with why; a plan without a sidecar says "not stated"; 21 checklist items."""
    from dataclasses import replace

    from cit_bayes._paths import models_dir
    from cit_bayes.target_trial import load_target_trial

    out, _ = report
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    section = markdown.split("## Target trial emulation and the TARGET checklist")[1]
    emulation = section.split("*TARGET checklist*")[0]
    assert emulation.count("| not stated (the plan has no <plan>.target-trial.toml") == 8
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    primary = next(
        a["name"]
        for a in results["meta"]["analyses"]
        if a["estimand"] == results["meta"]["primary_estimand"]
    )
    before = format_value(results["weighting"][primary]["max_abs_smd_unweighted"], "f2")
    assert f"largest \\|SMD\\| {before} before" in emulation
    assert (
        "| Time zero | not stated" in emulation
        and "not reported: the cohort file has no dates" in emulation
    )
    checklist = section.split("*TARGET checklist*")[1].split("## ")[0]
    assert (
        sum(1 for line in checklist.splitlines() if line.startswith("| ") and "---" not in line)
        == 22
    )

    trial = load_target_trial(models_dir() / "default.toml")
    stated = replace(small_analysis, plan=replace(small_analysis.plan, target_trial=trial))
    _, _, markdown = _variant(tmp_path, stated, lambda results: None)
    assert trial.eligibility.split(";")[0] in markdown
    assert "not stated (the plan has no" not in markdown
