"""``cit-bayes validate`` and ``cit-bayes simulate``, run in-process through ``cli.main``.

Reference values: the hand-made fixture ``tests/data/cohort/valid.csv`` (8 patients, 6 responders
by the paper's rule, see ``tests/test_cohort_validate.py``); exit codes from the CLI contract
(0 valid, 2 bad input).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cit_bayes.cli import main

FIXTURE = Path(__file__).parent / "data" / "cohort" / "valid.csv"


def test_validate_prints_a_per_arm_summary_without_identifiers(capsys):
    assert main(["validate", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "valid.csv: valid cohort, 8 patients in 4 arms" in out
    assert "response rule: any" in out
    assert "75.0%" in out  # 6 of 8 responders overall
    for line in out.splitlines():
        if line.startswith("responders"):
            assert line.split() == ["responders", "2", "1", "2", "1", "6"]
    for identifier in [f"P0{i}" for i in range(1, 9)]:
        assert identifier not in out
    assert str(FIXTURE.parent) not in out  # the file name only, not the folder


def test_validate_reports_problems_with_row_and_column_and_exit_2(tmp_path, capsys):
    frame = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    frame.loc[2, "arm"] = "placebo"
    frame.loc[4, "plt_day0"] = "130"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error: bad.csv does not meet the cohort schema: 2 problems" in err
    assert "bad.csv, row 3, column 'arm': value 'placebo'" in err
    assert "bad.csv, row 5, column 'plt_day0': value '130'" in err
    assert "Traceback" not in err


def test_validate_options_missing_drop_rule_and_mapping(tmp_path, capsys):
    frame = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False).rename(columns={"arm": "Group"})
    frame.loc[0, "age"] = ""
    path = tmp_path / "mapped.csv"
    frame.to_csv(path, index=False)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\narm = "Group"\n')
    assert main(["validate", str(path)]) == 2
    capsys.readouterr()
    argv = ["validate", str(path), "--columns", str(mapping), "--missing", "drop"]
    assert main([*argv, "--response-rule", "day14"]) == 0
    out = capsys.readouterr().out
    # row 1 dropped (missing age); rows 5 and 8 lack a day-14 count under rule day14
    assert "5 patients in 4 arms" in out
    assert "response rule: day14" in out
    assert "rows dropped (missing values):" in out
    assert "missing baseline covariate" in out and "response not determinable" in out


def test_validate_unreadable_file_exit_2(tmp_path, capsys):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"not a workbook")
    assert main(["validate", str(path)]) == 2
    assert "cannot be read as a table" in capsys.readouterr().err


def test_simulate_then_validate(tmp_path, capsys):
    out_file = tmp_path / "sim.parquet"
    argv = ["simulate", "--n", "150", "--seed", "3", "--out", str(out_file)]
    assert main([*argv, "--scenario", "strong-confounding"]) == 0
    printed = capsys.readouterr().out
    assert "wrote sim.parquet: 150 simulated patients" in printed
    truth = json.loads((tmp_path / "sim.parquet.truth.json").read_text())
    assert truth["scenario"] == "strong-confounding" and truth["seed"] == 3 and truth["n"] == 150
    assert main(["validate", str(out_file)]) == 0
    assert "valid synthetic (simulated or reconstructed) cohort, 150 patients" in (
        capsys.readouterr().out
    )


def test_simulate_bad_scenario_and_folder_exit_2(tmp_path, capsys):
    argv = ["simulate", "--n", "50", "--seed", "1", "--out", str(tmp_path / "s.csv")]
    assert main([*argv, "--scenario", "no-such"]) == 2
    assert "not found" in capsys.readouterr().err
    bad_out = ["simulate", "--n", "50", "--seed", "1", "--out", str(tmp_path / "no" / "s.csv")]
    assert main(bad_out) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["simulate", "--n", "0", "--seed", "1", "--out", str(tmp_path / "s.csv")]) == 2
