"""Tests of ``cit-bayes reconstruct`` through ``cit_bayes.cli.main`` (in-process).

Reference values: the Python API on the same seed (``reconstruct_cohort``) for the written
cohort, the exit-code contract of ``cit_bayes.cli`` (0 success, 1 a target missed or the
reconstruction failed, 2 bad input), and the issue's requirement that every output says it is
synthetic.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cit_bayes._paths import models_dir
from cit_bayes.cli import main
from cit_bayes.cli import reconstruct as reconstruct_cli
from cit_bayes.reconstruct.cohorts import reconstruct_cohort

SEED = 11


@pytest.fixture(scope="module")
def api_result():
    return reconstruct_cohort(SEED)


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"recovery_day": "Int64"})


def test_writes_cohort_and_fidelity_and_says_synthetic(tmp_path, capsys, api_result):
    out = tmp_path / "nested" / "cohort.csv"
    code = main(["reconstruct", "--seed", str(SEED), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.splitlines()[0].startswith("SYNTHETIC pseudo-cohort")
    assert "0 failed" in printed
    written = _read(out)
    pd.testing.assert_frame_equal(written, api_result.data, check_dtype=False)
    fidelity = pd.read_csv(tmp_path / "nested" / "fidelity.csv")
    assert (fidelity["synthetic"] == 1).all() and (fidelity["seed"] == SEED).all()
    assert fidelity.loc[fidelity["gate"], "passed"].all()
    assert {"published", "reconstructed", "tolerance", "passed"} <= set(fidelity.columns)
    text = (tmp_path / "nested" / "fidelity.txt").read_text(encoding="utf-8")
    assert text.startswith("SYNTHETIC")


def test_draws_write_one_file_each_and_draw_one_does_not_depend_on_m(tmp_path, capsys):
    out = tmp_path / "cohort.csv"
    assert main(["reconstruct", "--seed", "5", "--draws", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    first, second = _read(tmp_path / "cohort_draw001.csv"), _read(tmp_path / "cohort_draw002.csv")
    assert not first[["age", "plt_day14"]].equals(second[["age", "plt_day14"]])
    fidelity = pd.read_csv(tmp_path / "fidelity.csv")
    assert sorted(fidelity["draw"].unique()) == [1, 2]
    single = reconstruct_cohort(5, draw=1).data
    pd.testing.assert_frame_equal(first, single, check_dtype=False)


def test_default_output_is_not_the_shipped_cohort(tmp_path, monkeypatch, capsys):
    assert str(reconstruct_cli.DEFAULT_OUT) == "reports/reconstructed/cohort.csv"
    monkeypatch.chdir(tmp_path)
    assert main(["reconstruct", "--seed", "3"]) == 0
    capsys.readouterr()
    assert (tmp_path / "reports" / "reconstructed" / "cohort.csv").is_file()


def test_a_missed_target_exits_1(tmp_path, monkeypatch, capsys, api_result):
    fidelity = api_result.fidelity.copy()
    fidelity.loc[0, "passed"] = False
    failing = dataclasses.replace(api_result, fidelity=fidelity)
    monkeypatch.setattr(reconstruct_cli, "reconstruct_cohorts", lambda *a, **k: [failing])
    code = main(["reconstruct", "--out", str(tmp_path / "cohort.csv")])
    captured = capsys.readouterr()
    assert code == 1
    assert "FAIL" in captured.out and "FAILED" in captured.err


def test_a_reconstruction_that_cannot_converge_exits_1(tmp_path, capsys):
    plan = tmp_path / "tight.toml"
    source = (models_dir() / "reconstruction.toml").read_text(encoding="utf-8")
    for old, new in (
        ("plt_mean_relative = 0.01 ", "plt_mean_relative = 0.000000001 "),
        ("max_attempts = 8", "max_attempts = 1"),
        ("max_moves = 100000", "max_moves = 200"),
    ):
        assert old in source
        source = source.replace(old, new)
    plan.write_text(source, encoding="utf-8")
    code = main(["reconstruct", "--plan", str(plan), "--out", str(tmp_path / "c.csv")])
    assert code == 1
    assert "reconstruction failed" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()


def test_bad_plan_exits_2(tmp_path, capsys):
    plan = tmp_path / "bad.toml"
    plan.write_text("[plan\n", encoding="utf-8")
    assert main(["reconstruct", "--plan", str(plan), "--out", str(tmp_path / "c.csv")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--draws", "0"], ["--seed", "-1"], ["--seed", "x"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reconstruct", *argv])
    assert exit_info.value.code == 2
    capsys.readouterr()


def test_out_must_be_csv(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reconstruct", "--out", str(tmp_path / "cohort.xlsx")])
    assert exit_info.value.code == 2
    assert ".csv" in capsys.readouterr().err
