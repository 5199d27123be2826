"""The calibration of the intervals in ``cit-bayes run``: ``results.json`` and the report.

A small real calibration is made once (``cit-bayes calibrate``'s engine in this process: the
response model, unadjusted and fixed weights, paper-like and null scenarios, 2 replicates of 120
patients and 3 SBC replicates, short chains) under the suite's primary-only plan, and
``cit-bayes run --calibration DIR`` is run on the suite's small cohort under the same plan (the
session's compiled models). Reference values: the ``calibration`` block of ``results.json`` is
compared with that folder's ``coverage.csv``, ``sbc.csv`` and ``summary.json`` (exact equality:
the block copies their numbers); every number the report prints with the value at its JSON
pointer, formatted with the style its span names; the copied SBC figures with the calibration's
files, byte for byte; the status words with the sentences of
``cit_bayes.calibration.summary.verdicts`` on hand-made coverage tables of 200 replicates.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from cit_bayes.analyses.results import to_jsonable, validation_problems
from cit_bayes.calibration.engine import run_calibration
from cit_bayes.calibration.report_block import (
    _coverage_block,
    calibration_block,
    calibration_folder,
)
from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.calibration.summary import verdicts
from cit_bayes.cli import main
from cit_bayes.exceptions import PlanError
from cit_bayes.plan import load_plan
from cit_bayes.report.document import to_html, to_markdown
from cit_bayes.report.ledger import Ledger, format_value, pointer, resolve
from cit_bayes.report.patient_context import build_context
from cit_bayes.report.sections_calibration import calibration_blocks
from conftest import SHORT_DRAWS, SMALL_COHORT_N

SPAN = re.compile(
    r'<span class="num" data-doc="([^"]*)" data-key="([^"]*)" data-style="([^"]*)">([^<]*)</span>'
)
FOCUS = ("combination - rhTPO", "combination - hetrombopag", "combination - rhIL-11")
NO_CALIBRATION = "No calibration of the intervals accompanies this run"


def _read_csv(path: Path) -> pd.DataFrame:
    """A calibration CSV as written (``null`` is a scenario's name, not a missing value)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""]).fillna({"day": ""})


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory, primary_only_plan_text) -> Path:
    path = tmp_path_factory.mktemp("calibration_plan") / "plan.toml"
    path.write_text(primary_only_plan_text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory, plan_file) -> Path:
    """A small real calibration of the run's plan (about 20 s on two cores)."""
    plan = load_plan(plan_file).with_sampler(draws=SHORT_DRAWS, tune=SHORT_DRAWS)
    setup = CalibrationSetup(
        plan, scenarios=("paper-like", "null"), n=SMALL_COHORT_N, replicates=2, sbc=3,
        endpoints=("response",), analyses=("unadjusted", "fixed weights"),
    )  # fmt: skip
    out = tmp_path_factory.mktemp("calibration") / "cal"
    run_calibration(setup, out, workers=0)
    return out


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory, small_cohort_csv, plan_file, calibration_dir, run_short):
    """``cit-bayes run --calibration DIR`` on the small cohort: (folder, results)."""
    out = tmp_path_factory.mktemp("run_calibrated") / "report"
    _, results = run_short(["--data", str(small_cohort_csv), "--plan", str(plan_file),
                            "--calibration", str(calibration_dir)], out)  # fmt: skip
    return out, results


def _text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


# ------------------------------------------------------------------------- (a) results.json
def test_the_results_block_holds_the_folders_numbers(calibrated_run, calibration_dir):
    _, results = calibrated_run
    block = results["calibration"]
    assert validation_problems(results) == []
    coverage = _read_csv(calibration_dir / "coverage.csv")
    summary = json.loads((calibration_dir / "summary.json").read_text(encoding="utf-8"))
    assert block["coverage"]["pairs"] == list(FOCUS)
    scenarios = block["coverage"]["scenarios"]
    assert list(scenarios) == ["paper-like", "null"]
    for (scenario, analysis), group in coverage.groupby(["scenario", "analysis"], sort=False):
        entry = scenarios[scenario][analysis]
        assert entry["min"]["coverage"] == group["coverage 0.95"].min()
        assert entry["max"]["coverage"] == group["coverage 0.95"].max()
        assert entry["quantities"] == len(group) == 10  # 4 arms, 6 differences
        assert entry["replicates"] == 2 and entry["status"] == "no verdict"
        assert list(entry["focus"]) == ["response"]
        rows = group[group["kind"] == "difference"].set_index("label")
        for pair in FOCUS:
            cell = entry["focus"]["response"][pair]
            assert cell["coverage"] == rows.loc[pair, "coverage 0.95"]
            assert cell["mc_se"] == rows.loc[pair, "mc_se 0.95"]
            assert cell["replicates"] == rows.loc[pair, "replicates"] == 2
    sbc = _read_csv(calibration_dir / "sbc.csv")
    assert block["sbc"]["response"] == {
        "replicates": int(sbc["replicates"].min()),
        "quantities": len(sbc),
        "outside_band": int((~sbc["inside_band"].astype(bool)).sum()),
        "outside": sbc.loc[~sbc["inside_band"].astype(bool), "quantity"].tolist(),
        "band_prob": sbc["band_prob"].iloc[0],
        "fits_missing_a_gate": int(sbc["fits_missing_a_gate"].iloc[0]),
        "figure": "figures/sbc_response.png",
    }
    setup = summary["setup"]
    assert block["source"] == "user" and block["path"] == calibration_dir.resolve().as_posix()
    assert block["run_on"] == summary["run_on"] and block["what"] == summary["what"]
    assert block["synthetic"] == summary["synthetic"]
    assert block["plan"] == setup["plan"] == {
        "name": results["meta"]["plan"]["name"], "sha256": results["meta"]["plan"]["sha256"]
    }  # fmt: skip
    assert block["same_plan"] is True and block["same_estimand"] is True
    assert block["sampler"] == {"sampler": "nutpie", "chains": 4, "draws": SHORT_DRAWS,
                                "tune": SHORT_DRAWS}  # fmt: skip
    assert (block["n"], block["replicates_per_scenario"], block["sbc_replicates"]) == (120, 2, 3)
    assert block["scenarios"] == ["paper-like", "null"]
    assert block["replicates"]["null"] == {"asked": 2, "done": 2, "failed": 0, "not run": 0}
    assert block["verdicts"] == summary["verdicts"] and len(block["verdicts"]) == 4
    assert block["sbc_verdicts"] == summary["sbc_verdicts"]


def test_a_bad_block_is_named_by_the_results_check(calibrated_run):
    _, results = calibrated_run
    broken = json.loads(json.dumps(results))
    entry = broken["calibration"]["coverage"]["scenarios"]["null"]["unadjusted"]
    entry["focus"]["response"]["combination - rhTPO"]["mc_se"] = 1.5
    broken["calibration"]["same_plan"] = "yes"
    del broken["calibration"]["verdicts"]
    problems = validation_problems(broken)
    assert "calibration: missing 'verdicts'" in problems
    assert "calibration.same_plan must be true or false" in problems
    assert (
        "calibration.coverage.scenarios.null.unadjusted.focus.response.combination - rhTPO"
        ".mc_se: 1.5 is not a share in [0, 1]"
    ) in problems


# -------------------------------------------------------------------------- (b) another plan
def test_a_calibration_of_another_plan_is_flagged_in_the_block_and_the_section(
    tmp_path, calibrated_run, calibration_dir, plan_file
):
    out, results = calibrated_run
    other = tmp_path / "other"
    shutil.copytree(calibration_dir, other)
    summary = json.loads((other / "summary.json").read_text(encoding="utf-8"))
    summary["setup"]["plan"]["sha256"] = "0" * 64
    (other / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    plan = load_plan(plan_file)
    assert calibration_block(calibration_dir, plan)["same_plan"] is True
    block = calibration_block(other, plan)
    assert block["same_plan"] is False and block["same_estimand"] is True
    assert calibration_block(other, plan.with_primary("ato"))["same_estimand"] is False
    document = results | {"calibration": to_jsonable(block)}
    ctx = build_context(Ledger({"results": document}), {}, plan, tmp_path / "report")
    text = html.unescape(re.sub(r"<[^>]+>", "", to_html(calibration_blocks(ctx))))
    assert "The calibration was run on another analysis plan" in text
    assert "may not apply to these intervals" in text and "0" * 64 in text
    assert results["meta"]["plan"]["sha256"] in text
    page = _text(out / "report.html")
    assert "another analysis plan" not in page  # the run's own calibration is its plan's


# ------------------------------------------------------------------------------ (c) the report
def test_the_report_and_the_supplement_show_the_calibration(calibrated_run, calibration_dir):
    out, results = calibrated_run
    page_html = (out / "report.html").read_text(encoding="utf-8")
    assert '<section id="section-calibration">' in page_html
    # with the checking sections: after the sensitivity analyses, before the diagnostics
    order = [page_html.index(f'id="section-{name}"')
             for name in ("sensitivity", "calibration", "diagnostics")]  # fmt: skip
    assert order == sorted(order)
    page = _text(out / "report.html")
    markdown = (out / "methods_supplement.md").read_text(encoding="utf-8")
    tex = (out / "methods_supplement.tex").read_text(encoding="utf-8")
    assert "## Calibration of the intervals" in markdown
    assert "\\section{Calibration of the intervals}" in tex
    block = results["calibration"]
    for text in (page, markdown):
        assert block["what"] in text and block["synthetic"] in text
        assert "This calibration cannot say: it has too few replicates for a verdict" in text
        assert all(verdict in text for verdict in block["verdicts"] + block["sbc_verdicts"])
        assert str(calibration_dir.resolve()) in text
    # every focus cell of the table: "coverage (MC SE)" from results.json, traced by its key
    spans = {(html.unescape(k), html.unescape(t)) for _, k, _, t in SPAN.findall(page_html)}
    for scenario, analyses in block["coverage"]["scenarios"].items():
        for analysis, entry in analyses.items():
            for pair, cell in entry["focus"]["response"].items():
                path = ("calibration", "coverage", "scenarios", scenario, analysis, "focus",
                        "response", pair)  # fmt: skip
                shown = [format_value(cell[f], "pct1") for f in ("coverage", "mc_se")]
                for field, text in zip(("coverage", "mc_se"), shown, strict=True):
                    assert (pointer(*path, field), text) in spans
                assert f"{shown[0]} ({shown[1]})" in markdown
    documents = {"results": json.loads((out / "results.json").read_text(encoding="utf-8"))}
    keys = [html.unescape(k) for _, k, _, _ in SPAN.findall(page_html)]
    assert sum(k.startswith("/calibration/") for k in keys) > 30
    for doc, key, style, text in SPAN.findall(page_html):
        value = resolve(documents[html.unescape(doc)], html.unescape(key))
        assert format_value(value, style) == html.unescape(text), key
    ledger = (out / "tables" / "supplement_numbers.csv").read_text(encoding="utf-8")
    assert ledger.count(",/calibration/") > 30
    for suffix in (".png", ".svg"):
        copied = out / "figures" / f"calibration_sbc_response{suffix}"
        original = calibration_dir / "figures" / f"sbc_response{suffix}"
        assert copied.read_bytes() == original.read_bytes()
    assert "figures/calibration_sbc_response.png" in markdown
    assert "figures/calibration_sbc_response.png" in tex
    assert page_html.count('<img src="data:image/png;base64,') >= 1 + 4  # SBC + the others


# ------------------------------------------------------------------------ (d) a folder refused
def test_a_folder_without_summary_json_is_refused_before_anything_runs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "report"
    code = main(["run", "--calibration", str(tmp_path / "empty"), "--out", str(out)])
    assert code == 2 and not out.exists()
    assert "no summary.json there" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse: the two options exclude each other
        main(["run", "--calibration", "x", "--no-calibration", "--out", str(out)])
    assert refused.value.code == 2 and not out.exists()


def test_the_shipped_calibration_is_the_default_only_where_it_exists(
    tmp_path, monkeypatch, calibration_dir, plan_file
):
    monkeypatch.setenv("CIT_BAYES_HOME", str(tmp_path))
    shipped = tmp_path / "data" / "calibration" / "default"
    assert calibration_folder() is None and calibration_folder(False) is None
    shipped.mkdir(parents=True)
    assert calibration_folder() is None  # a folder without summary.json is not a calibration
    shutil.copytree(calibration_dir, shipped, dirs_exist_ok=True)
    assert calibration_folder() == shipped and calibration_folder(False) is None
    block = calibration_block(shipped, load_plan(plan_file))
    assert (block["source"], block["path"]) == ("shipped", "data/calibration/default")
    with pytest.raises(PlanError, match="no summary.json there"):
        calibration_folder(tmp_path / "data")


# --------------------------------------------------------------------------- (e) no calibration
def test_without_a_calibration_the_report_says_so(
    tmp_path, small_cohort_csv, plan_file, calibrated_run, run_short
):
    out = tmp_path / "report"
    _, results = run_short(["--data", str(small_cohort_csv), "--plan", str(plan_file),
                            "--no-calibration"], out)  # fmt: skip
    assert "calibration" not in results
    for name in ("report.html", "methods_supplement.md"):
        text = _text(out / name)
        assert NO_CALIBRATION in text and "cit-bayes run --calibration DIR" in text, name
    assert not list((out / "figures").glob("calibration_*"))


# ------------------------------------------------------------------- the verdicts as words
@pytest.mark.parametrize(
    ("coverages", "status", "ending"),
    [
        ((0.95, 0.94), "face value", "can be read at face value."),
        ((0.95, 0.85), "too narrow", "Not to be read at face value."),
        ((0.95, 0.995), "conservative", "Conservative: wider than needed."),
    ],
)
def test_the_status_word_follows_the_calibrations_verdict(coverages, status, ending):
    table = pd.DataFrame(
        {"scenario": "s", "analysis": "a", "endpoint": "response", "kind": ["arm", "difference"],
         "label": ["combination", "combination - rhTPO"], "day": "", "replicates": 200,
         "coverage 0.95": list(coverages),
         "mc_se 0.95": [(c * (1 - c) / 200) ** 0.5 for c in coverages]}
    )  # fmt: skip
    assert verdicts(table)[0].endswith(ending)
    entry = _coverage_block(table, load_plan())["scenarios"]["s"]["a"]
    assert entry["status"] == status
    assert entry["focus"]["response"]["combination - rhTPO"]["coverage"] == coverages[1]
    assert entry["min"]["coverage"] == min(coverages)


def test_the_section_reads_a_block_without_coverage_or_sbc(tmp_path, calibrated_run):
    _, results = calibrated_run
    block = json.loads(json.dumps(results["calibration"]))
    block["coverage"]["scenarios"], block["sbc"], block["verdicts"] = {}, {}, []
    ctx = build_context(Ledger({"results": results | {"calibration": block}}), {}, None, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = to_markdown(calibration_blocks(ctx, heading=2))
    assert "holds no coverage replicates" in text and "ran no simulation-based calibration" in text
    assert not ctx.figure_files
