"""Tests of the audit (`published.audit*`, `published.recovery_analysis_sizes`, `cit-bayes audit`).

Reference values:
* the paper's printed numbers (Tables 1-9 and the Results text, `data/published/`), against which
  the audit's recomputations are compared at the printed precision;
* the test identification found by recomputation and stated in the module docstrings: Pearson χ²
  (asymptotic) for the dense count tables, the SPSS Fisher-Freeman-Halton statistic with its
  exact p for the sparse ones, a Wald χ² from mean ± SE for Tables 4-5, pooled two-sample t CIs
  and Fisher-LSD p-values for Table 7 with recovery-analysis sizes (33, 9, 13, 16);
* constructed cases: tables altered so that each verdict must follow from the written rules, and
  a synthetic Table 6/7 built from known recovery-analysis sizes (a known truth) for
  `implied_recovery_analysis_sizes`.
The Monte Carlo p-values use 20 000 tables here (the default run uses 100 000).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cit_bayes.cli import main
from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper import (
    AuditRecord,
    audit_frame,
    implied_recovery_analysis_sizes,
    load_tables,
    run_audit,
    write_audit,
)
from cit_bayes.paper.audit_counts import count_table_checks, odds_ratio_checks
from cit_bayes.paper.audit_notes import reporting_notes
from cit_bayes.paper.audit_recovery import recovery_checks, recovery_pairwise_checks
from cit_bayes.paper.audit_report import print_summary
from cit_bayes.paper.audit_rules import KINDS, VERDICTS, judge, judge_percentage
from cit_bayes.paper.recovery_analysis_sizes import ci_procedure_solutions
from cit_bayes.paper.statistics_summary import (
    anova_from_summary,
    lsd_difference,
    two_sample_difference,
)
from cit_bayes.paper.tables import TABLE_FILES

MC = 20_000


@pytest.fixture(scope="module")
def tables():
    return load_tables()


@pytest.fixture(scope="module")
def records(tables):
    return run_audit(tables, seed=20250101, monte_carlo_samples=MC)


def find(records, table, row, *, comparison=None, check=None, test=None):
    """The one record matching; fails if none or several."""
    found = [
        r
        for r in records
        if r.table == table
        and row in r.row
        and (comparison is None or r.comparison == comparison)
        and (check is None or r.check == check)
        and (test is None or r.test.startswith(test))
    ]
    assert len(found) == 1, [(r.row, r.comparison, r.check, r.test) for r in found]
    return found[0]


def rounds_to(value, printed):
    text = printed.strip().rstrip("*#")
    places = len(text.split(".")[1]) if "." in text else 0
    return bool(abs(value - float(text)) <= 0.5 * 10**-places + 1e-12)


# --- the real tables ------------------------------------------------------------------------------


def test_every_record_is_well_formed(records):
    assert len(records) > 150
    for record in records:
        assert record.verdict in VERDICTS and record.kind in KINDS
        assert record.note, record
        if record.verdict == "not_recomputable":
            assert record.recomputed_p is None and record.recomputed_statistic is None
        if record.kind == "reporting_note":
            assert record.verdict == "inconsistent"
    kinds = [r.kind for r in records]
    assert kinds == sorted(kinds, key=KINDS.index)  # checks first, then notes


def test_table2_overall_chi_square_is_reproduced(records):
    record = find(records, "table2", "effective", check="counts -> statistic and p")
    assert record.verdict == "consistent"
    assert record.test == "Pearson χ² (asymptotic p)"
    assert rounds_to(record.recomputed_statistic, "10.149")
    assert rounds_to(record.recomputed_p, "0.017")


def test_table3_chi_squares_and_odds_ratios_are_reproduced(records, tables):
    rows = tables["table3_response_pairwise"]
    for row in rows.itertuples():
        comparison = f"{row.arm_a} vs {row.arm_b}"
        chi2 = find(records, "table3", row.label, check="counts -> statistic and p")
        assert chi2.comparison == comparison
        assert chi2.verdict == "consistent" and chi2.test == "Pearson χ² (asymptotic p)"
        assert rounds_to(chi2.recomputed_statistic, row.printed_statistic)
        assert rounds_to(chi2.recomputed_p, row.printed_p)
        assert "Yates" in chi2.note
        odds = find(records, "table3", row.label, check="counts -> odds ratio and 95% CI")
        assert odds.verdict == "consistent"
        assert rounds_to(odds.recomputed_statistic, row.printed_effect.split("(")[0])
    last = find(
        records, "table3", "rhIL-11 Group vs. Combination", check="counts -> odds ratio and 95% CI"
    )
    assert last.test.endswith("combination over rhIL-11")
    note = find(
        records, "table3", "rhIL-11 Group vs. Combination", check="label or claim vs content"
    )
    assert "0.114" in note.note


IDENTIFIED = {  # block -> the test that reproduces the printed statistic and p
    "sex": "Pearson χ² (asymptotic p)",
    "ecog": "Fisher-Freeman-Halton",
    "tumor_type": "Pearson χ² (asymptotic p)",
    "stage": "Fisher-Freeman-Halton",
    "hepatic_metastasis": "Pearson χ² (asymptotic p)",
    "bone_metastasis": "Fisher-Freeman-Halton",
    "chemo_cycles": "Pearson χ² (asymptotic p)",
    "radiotherapy": "Fisher-Freeman-Halton",
    "targeted_therapy": "Fisher-Freeman-Halton",
    "transfusion": "Pearson χ² (asymptotic p)",
    "transaminase": "Fisher-Freeman-Halton",
    "bilirubin": "Fisher-Freeman-Halton",
    "fatigue": "Fisher-Freeman-Halton",
    "headache": "Fisher-Freeman-Halton",
    "any_ae": "Pearson χ² (asymptotic p)",
}


def test_count_table_tests_are_identified(records, tables):
    labels = {}
    for stem in ("table1_tests", "table8_tests", "table9_tests"):
        for row in tables[stem].itertuples():
            labels[row.block] = (row.table, row.label)
    for block, test in IDENTIFIED.items():
        table, label = labels[block]
        record = find(records, table, label, check="counts -> statistic and p")
        assert record.verdict == "consistent", (block, record.candidates)
        assert record.test.startswith(test), (block, record.test)
        assert len(record.candidates) >= 5
    stage = find(records, "table1", "Clinical Stage", check="counts -> statistic and p")
    assert stage.p_method.startswith("Monte Carlo (20,000 tables") and "SE 0.00" in stage.p_method
    ecog = find(records, "table1", "ECOG", check="counts -> statistic and p")
    assert ecog.p_method.startswith("exact (complete enumeration")
    naive = stats.chi2.sf(5.060, 6)  # the naive χ²(6) reading of the printed 5.060
    assert f"would give p = {naive:.4f}" in ecog.note and not rounds_to(naive, "0.483")


def test_table1_anova_from_summaries(records):
    for row in ("Age", "BMI"):
        data = find(records, "table1", row, check="summary statistics -> statistic and p")
        assert data.verdict == "rounding"  # F from two-decimal means and SDs
        statcheck = find(records, "table1", row, check="printed statistic -> p")
        assert statcheck.verdict == "consistent"


def test_table4_statistics_and_p_values(records):
    expected = {  # day: (verdict of the statcheck record, of the Wald recomputation)
        "Pre-treatment": ("consistent", "rounding"),
        "Day 3": ("decision_error", "inconsistent"),
        "Day 7": ("decision_error", "inconsistent"),
        "Day 14": ("decision_error", "inconsistent"),
    }
    for day, (statcheck_verdict, data_verdict) in expected.items():
        statcheck = find(records, "table4", f"{day} PLT", check="printed statistic -> p")
        assert statcheck.verdict == statcheck_verdict
        data = find(records, "table4", f"{day} PLT", check="summary statistics -> statistic and p")
        assert data.verdict == data_verdict
        assert data.test.startswith("Wald χ²")
        # the printed p fits the row's data (within the rounding of means and SEs)
        assert abs(data.recomputed_p - float(data.reported_p.rstrip("*"))) < 0.002
    day3 = find(records, "table4", "Day 3 PLT", check="summary statistics -> statistic and p")
    assert "nearest to the statistic recomputed for day 14 (10.276" in day3.note


def test_table5_is_a_wald_chi_square_of_means_and_standard_errors(records):
    data = [r for r in records if r.table == "table5" and r.check.startswith("summary")]
    assert len(data) == 12
    assert all(r.test.startswith("Wald χ²") for r in data)
    assert all(r.verdict in ("consistent", "rounding") for r in data)


def test_within_arm_p_values_are_not_recomputable_but_judged_plausible(records):
    within = [r for r in records if r.comparison.startswith("within ")]
    assert len(within) == 12
    assert all(r.verdict == "not_recomputable" and "paired" in r.note for r in within)


def test_table6_and_table7_with_the_implied_recovery_analysis_sizes(records):
    f_arm_sizes = find(records, "table6", "Median", check="printed statistic -> p")
    assert f_arm_sizes.verdict == "inconsistent"  # F(3, 183) gives 0.031, printed 0.035
    assert "df2 between 66 and 76" in f_arm_sizes.note
    f_implied = find(records, "table6", "Median", check="summary statistics -> statistic and p")
    assert f_implied.verdict == "consistent"
    assert rounds_to(f_implied.recomputed_statistic, "3.029")
    delta = find(records, "table6", "ΔPLT", check="printed statistic -> p")
    assert delta.verdict == "consistent"
    p_values = [r for r in records if r.table == "table7" and r.check == "summary statistics -> p"]
    assert len(p_values) == 6
    assert all(r.test.startswith("Fisher LSD") for r in p_values)
    assert all(r.verdict in ("consistent", "rounding") for r in p_values)
    intervals = [r for r in records if r.check == "summary statistics -> 95% CI"]
    assert len(intervals) == 6 and all(r.verdict in ("consistent", "rounding") for r in intervals)
    delta_pairs = [r for r in records if r.table == "table7" and "ΔPLT" in r.row]
    assert len(delta_pairs) == 6 and all(r.verdict == "not_recomputable" for r in delta_pairs)


def test_day14_platelets_against_the_implied_recovered_share(records):
    checks = [r for r in records if r.check == "cross-table plausibility"]
    assert [r.comparison for r in checks] == ["rhTPO", "hetrombopag", "combination", "rhIL-11"]
    verdicts = {r.comparison: r.verdict for r in checks}
    assert verdicts == {
        "rhTPO": "consistent",
        "hetrombopag": "consistent",
        "combination": "inconsistent",
        "rhIL-11": "consistent",
    }
    combination = checks[2]
    # by hand: (165.84 - 100) * sqrt((1 - 13/36) / (13/36)) against SD 11.08 * sqrt(35)
    assert combination.recomputed_statistic == pytest.approx(65.84 * (23 / 13) ** 0.5)
    assert 11.08 * 35**0.5 < combination.recomputed_statistic


def test_reporting_notes_follow_the_evidence(tables):
    def orientation_notes(tables):
        notes = reporting_notes(tables, odds_ratio_checks(tables), None)
        return [n for n in notes if n.table == "table3"]

    assert len(orientation_notes(tables)) == 1
    corrected = altered(
        tables,
        "table3_response_pairwise",
        "arm_a",
        "rhIL-11",
        printed_effect="0.114 (0.024,0.533)",
        effect=0.114,
        effect_ci_low=0.024,
        effect_ci_high=0.533,
    )
    assert orientation_notes(corrected) == []


def test_percentages_and_text(records):
    sex = find(records, "table1", "Gender", check="n and N -> percentage")
    assert sex.verdict == "rounding" and sex.reported_statistic == "28 (43.7)"
    lung = find(records, "text", "lung cancer", check="n and N -> percentage")
    assert lung.verdict == "rounding"
    others = [r for r in records if r.check == "n and N -> percentage" and r not in (sex, lung)]
    assert others and all(r.verdict == "consistent" for r in others)
    text = [r for r in records if r.check == "text -> table"]
    assert len(text) >= 20 and all(r.verdict == "consistent" for r in text)


def test_reporting_notes_on_the_real_tables(records):
    notes = [r for r in records if r.kind == "reporting_note"]
    joined = " ".join(r.note for r in notes)
    for phrase in (
        "standard error",
        "'Median'",
        "non-inferiority",
        "Fisher-Freeman-Halton",
        "different procedures",
        "Bonferroni",
        "shifted between rows",
    ):
        assert phrase in joined, phrase


def test_same_seed_same_records(tables):
    first = count_table_checks(tables, seed=3, monte_carlo_samples=2_000)
    again = count_table_checks(tables, seed=3, monte_carlo_samples=2_000)
    other = count_table_checks(tables, seed=4, monte_carlo_samples=2_000)
    assert first == again
    sampled = ("Clinical Stage", "Tumor Type")  # too large to enumerate: Monte Carlo
    stage = [r.recomputed_p for records in (first, other) for r in records if sampled[0] in r.row]
    assert stage[0] != stage[1]  # the Monte Carlo p depends on the seed, nothing else does

    def enumerated(records):
        return [r for r in records if not r.row.startswith(sampled)]

    assert enumerated(first) == enumerated(other)
    with pytest.raises(PublishedDataError):
        run_audit(tables, seed=-1)
    with pytest.raises(PublishedDataError):
        run_audit(tables, monte_carlo_samples=10)


# --- every verdict on constructed cases -----------------------------------------------------------


def test_judge_reaches_every_verdict():
    assert (
        judge(reported_statistic="10.149", reported_p="0.017", statistic=10.1485, p_value=0.0173)
        == "consistent"
    )
    # statistic off at the printed precision but within the rounding of the inputs
    assert (
        judge(reported_statistic="1.928", statistic=1.932, statistic_range=(1.922, 1.942))
        == "rounding"
    )
    assert (
        judge(reported_statistic="2.000", reported_p="0.300", statistic=2.5, p_value=0.28)
        == "inconsistent"
    )
    assert judge(reported_p="0.048", p_value=0.29) == "decision_error"
    assert judge(reported_p="0.290", p_value=0.016) == "decision_error"
    assert judge(reported_p="0.290", p_value=None) == "not_recomputable"
    assert judge(reported_p="<0.001", p_value=0.0004) == "consistent"
    assert judge(reported_p="<0.001", p_value=0.002) == "inconsistent"
    # a Monte Carlo p within its 99 % interval
    assert judge(reported_p="0.228", p_value=0.2310, monte_carlo_se=0.0013) == "consistent"


def test_judge_percentage_reaches_its_verdicts():
    assert judge_percentage(28, 64, "43.8") == "consistent"  # 43.75 half-up
    assert judge_percentage(1, 8, "12") == "consistent"  # 12.5 half-to-even
    assert judge_percentage(28, 64, "43.7") == "rounding"  # truncated
    assert judge_percentage(28, 64, "44.0") == "inconsistent"
    with pytest.raises(PublishedDataError):
        judge_percentage(5, 4, "125")


def altered(tables, stem, mask_column, mask_value, **values):
    copy = {name: frame.copy() for name, frame in tables.items()}
    frame = copy[stem]
    rows = frame[mask_column] == mask_value
    for column, value in values.items():
        frame.loc[rows, column] = value
    return copy


def test_constructed_count_table_verdicts(tables):
    def verdict_of(printed_statistic, printed_p):
        copy = altered(
            tables,
            "table2_tests",
            "block",
            "response",
            printed_statistic=printed_statistic,
            statistic=float(printed_statistic),
            printed_p=printed_p,
            p=float(printed_p.rstrip("*")),
        )
        records = count_table_checks(copy, seed=1, monte_carlo_samples=500)
        return next(r for r in records if r.table == "table2").verdict

    assert verdict_of("10.149", "0.017*") == "consistent"
    assert verdict_of("11.500", "0.017*") == "inconsistent"  # no candidate gives 11.500
    assert verdict_of("10.149", "0.170") == "decision_error"  # printed n.s., recomputed 0.017


def test_constructed_rounding_and_not_recomputable(tables):
    copy = altered(
        tables,
        "table6_tests",
        "block",
        "delta_plt",
        printed_statistic="7.8",
        statistic=7.8,
        printed_p="0.051",
        p=0.051,
    )
    delta = next(r for r in recovery_checks(copy) if "ΔPLT" in r.row)
    assert delta.verdict == "rounding"  # H = 7.8 gives 0.0503; 7.75-7.85 gives 0.0493-0.0513
    impossible = altered(
        tables,
        "table7_pairwise",
        "printed_effect",
        "-0.212 (-2.326,1.902)",
        effect_ci_low=-50.0,
        effect_ci_high=49.576,
    )
    assert ci_procedure_solutions(impossible).empty
    f_record = [r for r in recovery_checks(impossible) if r.check.startswith("summary")][0]
    assert f_record.verdict == "not_recomputable"
    assert f_record.recomputed_statistic is None and f_record.recomputed_p is None
    pairs = recovery_pairwise_checks(impossible)
    assert {r.verdict for r in pairs if r.check == "summary statistics -> 95% CI"} == {
        "not_recomputable"
    }


# --- implied recovery-analysis sizes ---------------------------------------------------------------------


def test_implied_recovery_analysis_sizes_on_the_paper(tables):
    frame = implied_recovery_analysis_sizes(tables)
    assert frame["arm"].tolist() == ["rhTPO", "hetrombopag", "combination", "rhIL-11"]
    assert frame["analysis_size"].tolist() == [33, 9, 13, 16]
    assert frame["analysis_size_low"].tolist() == [32, 9, 13, 16]
    assert frame["analysis_size_high"].tolist() == [34, 9, 13, 16]
    assert frame["share_of_arm"].iloc[0] == pytest.approx(33 / 64)
    assert (frame["analysis_size_high"] <= frame["n_arm"]).all()
    assert frame["evidence"].iloc[0].startswith("CIs (pooled t) and p-values (LSD) agree")
    wider = implied_recovery_analysis_sizes(tables, tolerance=2)
    assert (wider["analysis_size_low"] <= frame["analysis_size_low"]).all()
    assert (wider["analysis_size_high"] >= frame["analysis_size_high"]).all()
    assert len(ci_procedure_solutions(tables, procedure="welch_t")) == 0
    assert len(ci_procedure_solutions(tables, procedure="common_mse")) == 0


def synthetic_recovery(tables, counts, means, sds):
    """Tables 6-7 rebuilt from known recovery-analysis sizes, printed at the paper's precision."""
    copy = {name: frame.copy() for name, frame in tables.items()}
    cells = copy["table6_recovery_delta"]
    arms = ["rhTPO", "hetrombopag", "combination", "rhIL-11"]
    for arm, m, s in zip(arms, means, sds, strict=True):
        rows = (cells["block"] == "recovery_days") & (cells["arm"] == arm)
        cells.loc[rows, ["mean", "plusminus"]] = [round(m, 2), round(s, 2)]
        cells.loc[rows, "printed"] = f"{m:.2f} ± {s:.2f}"
    pairs = copy["table7_pairwise"]
    for index, row in pairs[pairs["block"] == "recovery_days"].iterrows():
        a, b = arms.index(row["arm_a"]), arms.index(row["arm_b"])
        interval = two_sample_difference(means[a], sds[a], counts[a], means[b], sds[b], counts[b])
        p = lsd_difference(means, sds, counts, a, b).p_value
        low, high = round(interval.ci_low, 3), round(interval.ci_high, 3)
        pairs.loc[index, ["effect", "effect_ci_low", "effect_ci_high", "p"]] = [
            round(interval.difference, 3),
            low,
            high,
            round(p, 3),
        ]
        pairs.loc[index, "printed_effect"] = f"{interval.difference:.3f} ({low:.3f},{high:.3f})"
        pairs.loc[index, "printed_p"] = f"{p:.3f}"
    return copy


def test_implied_recovery_analysis_sizes_recover_a_known_truth(tables):
    counts = np.array([20, 15, 12, 25])
    means = np.array([9.4137, 8.2291, 6.9012, 9.8755])
    sds = np.array([2.7134, 3.1862, 2.0471, 2.9318])
    synthetic = synthetic_recovery(tables, counts, means, sds)
    frame = implied_recovery_analysis_sizes(synthetic)
    assert frame["analysis_size"].tolist() == counts.tolist()
    assert (frame["analysis_size_low"] <= counts).all() and (
        frame["analysis_size_high"] >= counts
    ).all()
    anova = anova_from_summary(means, sds, counts)
    assert anova.df2 == counts.sum() - 4


# --- outputs and the command line -----------------------------------------------------------------


def test_audit_frame_and_files(records, tmp_path):
    frame = audit_frame(records)
    assert len(frame) == len(records)
    assert list(frame.columns[:10]) == [
        "table",
        "row",
        "comparison",
        "test",
        "reported_statistic",
        "reported_p",
        "recomputed_statistic",
        "recomputed_p",
        "verdict",
        "note",
    ]
    assert frame["verdict"].cat.categories.tolist() == list(VERDICTS)
    paths = write_audit(records, tmp_path / "out", metadata={"seed": 1})
    assert set(paths) == {"json", "csv", "md"}
    loaded = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert len(loaded) == len(records) and loaded[0]["table"] == records[0].table
    assert AuditRecord(**{**loaded[0], "candidates": tuple(loaded[0]["candidates"])}) == records[0]
    csv = pd.read_csv(paths["csv"])
    assert len(csv) == len(records) and "verdict" in csv.columns
    markdown = paths["md"].read_text(encoding="utf-8")
    for heading in ("## How to read the verdicts", "## Findings (3)", "## Reporting notes"):
        assert heading in markdown
    assert "seed 1" in markdown
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PublishedDataError):
        write_audit(records, blocker)


def test_audit_record_validates_its_fields():
    fields = dict(
        table="table2",
        row="r",
        comparison="c",
        test="t",
        reported_statistic="1",
        reported_p="0.5",
        recomputed_statistic=float("nan"),
        recomputed_p=0.5,
        note="n",
    )
    with pytest.raises(PublishedDataError):
        AuditRecord(verdict="fine", **fields)
    with pytest.raises(PublishedDataError):
        AuditRecord(verdict="consistent", kind="remark", **fields)
    assert AuditRecord(verdict="consistent", **fields).to_dict()["recomputed_statistic"] is None


def test_terminal_summary_plain_and_rich(records):
    plain = io.StringIO()
    print_summary(records, plain)
    text = plain.getvalue()
    assert text.startswith("Audit: ")
    assert "decision_error" in text and "reporting note" in text

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    rich = Terminal()
    print_summary(records, rich)
    assert "Audit:" in rich.getvalue() and "comparison" in rich.getvalue()


def test_cli_writes_the_audit_from_a_tables_folder(tmp_path, tables, capsys):
    folder = tmp_path / "tables"
    folder.mkdir()
    for stem in TABLE_FILES:
        tables[stem].to_csv(folder / f"{stem}.csv", index=False)
    out = tmp_path / "audit"
    arguments = ["audit", "--tables", str(folder), "--out", str(out), "--seed", "5"]
    assert main([*arguments, "--monte-carlo-samples", "500"]) == 0
    written = {p.name for p in out.iterdir()}
    assert written == {"audit.json", "audit.csv", "audit.md", ".cit-bayes-output"}  # + manifest
    printed = capsys.readouterr().out
    assert "wrote" in printed and str(out / "audit.md") in printed


def test_cli_fails_cleanly_when_the_audit_cannot_run(tmp_path, tables, capsys):
    folder = tmp_path / "tables"
    folder.mkdir()
    for stem in TABLE_FILES:
        if stem != "table4_plt":
            tables[stem].to_csv(folder / f"{stem}.csv", index=False)
    assert main(["audit", "--tables", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "table4_plt" in capsys.readouterr().err
    assert main(["audit", "--out", str(tmp_path / "o3"), "--monte-carlo-samples", "5"]) == 2
    assert not (tmp_path / "o").exists() and not (tmp_path / "o3").exists()


def test_findings_count_underlying_errors_not_records(records):
    """Table 4's shifted χ² column is one error that shows as 3 inconsistencies and 3 decision
    errors (each row's statistic fails the row's data and its own p); with the two single
    inconsistencies (Table 4's day-14 SD against the recovered count, Table 6's F on 183
    degrees of freedom) the paper's 8 flagged records are 3 findings."""
    from cit_bayes.paper.audit_findings import FLAGGED, findings

    found = findings(records)
    flagged = [r for r in records if r.kind == "check" and r.verdict in FLAGGED]
    assert len(flagged) == 8 and all(r.finding for r in flagged)
    assert len(found) == 3
    shifted = found[0]
    assert (
        shifted.title.startswith("Table 4, χ² column") and "Day 3, Day 7, Day 14" in shifted.title
    )
    assert shifted.verdicts == {"inconsistent": 3, "decision_error": 3}
    notes = [records[i] for i in shifted.records if records[i].kind == "reporting_note"]
    assert len(notes) == 1 and "shifted" in notes[0].note
    assert sorted(f.size for f in found[1:]) == [1, 1]
    assert not any(r.finding for r in records if r.kind == "check" and r.verdict not in FLAGGED)


def test_the_report_lists_the_findings_with_their_records(records):
    from cit_bayes.report.ledger import Ledger
    from cit_bayes.report.sections_published import AUDIT_DOC, audit_section

    section = audit_section(Ledger({AUDIT_DOC: [r.to_dict() for r in records]}))
    tables = [b for b in section.blocks if getattr(b, "caption", "").startswith("Findings")]
    assert len(tables) == 1 and len(tables[0].rows) == 3
    assert tables[0].caption.startswith("Findings: 8 flagged records come from 3 underlying")
    assert [row[2] for row in tables[0].rows] == ["6", "1", "1"]
