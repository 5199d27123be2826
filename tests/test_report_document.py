"""The report's building blocks: number ledger, document renderers.

Reference values: RFC 6901 (JSON pointer escaping, its section 5 examples), hand-formatted
numbers, and the blocks' own inputs (what goes in must come out in each format).
"""

from __future__ import annotations

import csv
import math
import re

import matplotlib

matplotlib.use("Agg")
import pytest
from matplotlib.figure import Figure as MplFigure

from cit_bayes.report.document import (
    Banner,
    Code,
    Equation,
    Figure,
    Heading,
    Items,
    Paragraph,
    Table,
    tex_escape,
    to_html,
    to_latex,
    to_markdown,
)
from cit_bayes.report.figure_files import save_figure
from cit_bayes.report.ledger import Ledger, format_value, pointer, resolve
from cit_bayes.report.render import Section, render_html, render_latex_document

DOCUMENT = {
    "response": {
        "adjusted": {
            "rate": {"rhTPO": {"mean": 0.70312, "ci_low": 0.58, "ci_high": 0.81}},
            "odds_ratio": {"combination/rhIL-11": {"mean": 8.7581}},
            "prob_noninferior": {"hetrombopag vs rhTPO @ 0.10": 0.8712},
        }
    },
    "a/b": {"m~n": 1.5},
    "list": [10, 20],
}


def test_pointer_escapes_as_rfc6901_and_resolves():
    assert pointer("a/b", "m~n") == "/a~1b/m~0n"
    assert resolve(DOCUMENT, "/a~1b/m~0n") == 1.5  # exact: the stored value, not computed
    assert resolve(DOCUMENT, pointer("list", 1)) == 20
    key = pointer("response", "adjusted", "odds_ratio", "combination/rhIL-11", "mean")
    assert resolve(DOCUMENT, key) == 8.7581  # exact: the stored value, not computed
    with pytest.raises(KeyError, match="missing 'nope'"):
        resolve(DOCUMENT, "/response/nope")


@pytest.mark.parametrize(
    ("value", "style", "text"),
    [
        (0.70312, "pct1", "70.3%"),
        (0.70351, "pct0", "70%"),
        (0.8712, "prob", "0.871"),
        (0.99951, "prob", "> 0.999"),
        (0.0002, "prob", "< 0.001"),
        (-0.0523, "points", "-5.2"),
        (2.4286, "f2", "2.43"),
        (None, "f2", "—"),
        (math.nan, "f2", "—"),
        (True, "f2", "yes"),
        (12.6, "int", "13"),
        (-0.04, "f1", "0.0"),
        (-0.0004, "points", "0.0"),
        (0.0004, "points", "0.0"),
        (-0.0004, "pct1", "0.0%"),
        (-0.06, "f1", "-0.1"),
    ],
)
def test_number_styles(value, style, text):
    assert format_value(value, style) == text


def test_unknown_style_is_named():
    with pytest.raises(KeyError, match="unknown number style 'nope'"):
        format_value(1.0, "nope")


def test_ledger_records_every_printed_number_and_writes_it(tmp_path):
    ledger = Ledger({"results": DOCUMENT})
    key = pointer("response", "adjusted", "prob_noninferior", "hetrombopag vs rhTPO @ 0.10")
    number = ledger.number("results", key, "prob")
    assert str(number) == "0.871"
    assert 'data-key="/response/adjusted/prob_noninferior/hetrombopag vs rhTPO @ 0.10"' in (
        number.html()
    )
    assert ledger.has("results", key) and not ledger.has("results", "/response/missing")
    path = ledger.write_csv(tmp_path / "numbers.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"document": "results", "key": key, "style": "prob", "text": "0.871"}]


def _blocks(png):
    ledger = Ledger({"results": DOCUMENT})
    rate = ledger.number("results", "/response/adjusted/rate/rhTPO/mean", "pct1")
    return [
        Heading(2, "Response & rates"),
        Paragraph(["Rate ", rate, " in ", Code("arm_1"), " (50% of <n>)."]),
        Items([["first"], ["second ", rate]]),
        Banner("synthetic", ["Synthetic data."]),
        Table(["arm", "rate"], [["rhTPO", rate], [Code("x|y"), "—"]], caption="Rates", note="n"),
        Figure(png, "A figure", relative_to=png.parent.parent),
        Equation(r"\operatorname{logit} p_i = \alpha_{a[i]}", "logit p_i = alpha_a[i]"),
    ]


@pytest.fixture
def png(tmp_path):
    fig = MplFigure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    png_path, svg_path = save_figure(fig, tmp_path / "figures" / "line")
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and svg_path.suffix == ".svg"
    return png_path


def test_html_is_escaped_self_contained_and_traced(png):
    page = to_html(_blocks(png))
    assert "Response &amp; rates" in page
    assert "(50% of &lt;n&gt;)" in page
    assert page.count('data-key="/response/adjusted/rate/rhTPO/mean"') == 3
    assert 'src="data:image/png;base64,' in page and "figures/line.png" not in page
    assert '<div class="banner banner-synthetic" role="alert">' in page


def test_markdown_keeps_the_numbers_and_links_figures(png):
    text = to_markdown(_blocks(png))
    assert "## Response & rates" in text
    assert "Rate 70.3% in `arm_1`" in text
    assert "| rhTPO | 70.3% |" in text
    assert "`x\\|y`" in text
    assert "![A figure](figures/line.png)" in text
    assert "$$\n\\operatorname{logit}" in text


def test_latex_escapes_specials_and_has_balanced_environments(png):
    body = to_latex(_blocks(png))
    assert r"Response \& rates" in body
    assert r"70.3\%" in body and r"\texttt{arm\_1}" in body
    for environment in ("longtable", "figure", "itemize", "equation*"):
        opened = body.count(f"\\begin{{{environment}}}")
        assert opened == body.count(f"\\end{{{environment}}}") and opened >= 1
    assert (
        tex_escape("a_b ± 5% ≥ 2 × 10⁹")
        == r"a\_b $\pm$ 5\% $\geq$ 2 $\times$ 10\textsuperscript{9}"
    )


def test_full_documents_render(png):
    page = render_html(
        title="Report",
        subtitle=["line"],
        banners=[Banner("failed", ["A fit failed."])],
        sections=[Section("response", "Response", _blocks(png))],
        version="0",
    )
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<a href="#section-response">Response</a>' in page
    assert "banner-failed" in page
    assert not re.search(r"<(link|script)[^>]+(src|href)=\"http", page)
    document = render_latex_document("Supplement", _blocks(png))
    assert document.startswith("\\documentclass") and document.rstrip().endswith("\\end{document}")
