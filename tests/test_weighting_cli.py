"""``cit-bayes weights`` through ``cit_bayes.cli.main`` in-process.

Reference values: the files the issue lists and their columns; ``weights.csv`` against the
Python API on the same data (the CLI is a thin face: weights and propensities equal to 1e-12);
privacy: no patient identifier from the input appears in any output file or in the terminal.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cit_bayes.cli import main
from cit_bayes.weighting import PropensityWeighting

ISSUE_FILES = {
    "weights.csv",
    "balance.csv",
    "ess.csv",
    "love_plot.png",
    "love_plot.svg",
    "propensity_overlap.png",
    "propensity_overlap.svg",
}


def generic_csv(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient": [f"P-{i:04d}" for i in range(n)],
            "age": rng.normal(60, 10, n).round(1),
            "stage": rng.choice(["II", "III", "IV"], n),
            "group": rng.choice(["drug", "control"], n),
        }
    )
    frame["outcome"] = (rng.random(n) < 0.4 + 0.2 * (frame["group"] == "drug")).astype(int)
    frame.to_csv(path, sep=";", index=False)
    return frame


def test_generic_csv_writes_the_listed_files(tmp_path, capsys):
    frame = generic_csv(tmp_path / "study.csv")
    out = tmp_path / "out"
    code = main(
        [
            "weights",
            str(tmp_path / "study.csv"),
            "--treatment",
            "group",
            "--outcome",
            "outcome",
            "--estimand",
            "ate",
            "--method",
            "propensity",
            "--out",
            str(out),
        ]  # fmt: skip
    )
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert (
        ISSUE_FILES | {"outcome.csv", "settings.json", "README.md", "table1_weighted.csv"} <= names
    )
    weights = pd.read_csv(out / "weights.csv")
    assert list(weights.columns) == [
        "row", "arm", "included", "weight", "propensity_control", "propensity_drug",
    ]  # fmt: skip
    assert weights["row"].tolist() == list(range(1, 201))
    assert weights["arm"].tolist() == frame["group"].tolist()  # input order
    # the identifier-like column was left out, and said so
    settings = json.loads((out / "settings.json").read_text())
    assert settings["covariates"] == ["age", "stage"]
    assert any("patient" in note for note in settings["notes"])
    # same numbers as the Python API
    api = PropensityWeighting("ate").fit(frame[["age", "stage"]], frame["group"])
    np.testing.assert_allclose(weights["weight"], api.weights_, rtol=1e-12)
    np.testing.assert_allclose(weights["propensity_drug"], api.propensity_["drug"], rtol=1e-12)
    balance = pd.read_csv(out / "balance.csv")
    for column in ["smd_unweighted", "smd_weighted", "variance_ratio_unweighted",
                   "variance_ratio_weighted", "smd_denominator"]:  # fmt: skip
        assert column in balance.columns
    outcome = pd.read_csv(out / "outcome.csv")
    assert outcome["quantity"].tolist() == ["arm_mean", "arm_mean", "difference"]
    assert (outcome["ci_low_sandwich"] < outcome["estimate"]).all()
    printed = capsys.readouterr()
    assert "P-0" not in printed.out + printed.err
    for path in out.iterdir():
        if path.suffix in {".csv", ".json", ".md", ".svg"}:
            assert "P-0" not in path.read_text(), path.name


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--treatment", "arm"], "no column"),
        (["--treatment", "group", "--covariates", "age,height"], "height"),
        (["--treatment", "group", "--estimand", "att"], "reference"),
        (["--treatment", "group", "--reference", "placebo"], "placebo"),
        (["--treatment", "group", "--trim", "0.9"], "trim"),
        (["--treatment", "group", "--truncate", "x"], "truncate"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, extra, message):
    generic_csv(tmp_path / "study.csv")
    code = main(["weights", str(tmp_path / "study.csv"), *extra, "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_values_and_unreadable_files_exit_2(tmp_path, capsys):
    frame = generic_csv(tmp_path / "study.csv")
    frame.loc[[3, 4], "age"] = np.nan
    frame.to_csv(tmp_path / "holes.csv", index=False)
    assert main(["weights", str(tmp_path / "holes.csv"), "--treatment", "group",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "'age': 2 missing" in capsys.readouterr().err
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81\x00garbage")
    assert main(["weights", str(tmp_path / "binary.csv"), "--treatment", "group",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert main(["weights", str(tmp_path / "absent.csv"), "--treatment", "group",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip


def test_warnings_are_printed_not_raised(tmp_path, capsys):
    generic_csv(tmp_path / "study.csv")
    out = tmp_path / "out"
    code = main(["weights", str(tmp_path / "study.csv"), "--treatment", "group",
                 "--method", "propensity", "--truncate", "45", "--out", str(out)])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: BalanceWarning" in err
    assert json.loads((out / "settings.json").read_text())["warnings"]


def test_cohort_schema_needs_no_options(tmp_path, capsys):
    from cit_bayes.simulate import simulate_cohort, write_simulated

    sim = simulate_cohort(300, seed=4, scenario="paper-like")
    path, _ = write_simulated(sim, tmp_path / "cohort.csv")
    out = tmp_path / "weights"
    code = main(["weights", str(path), "--outcome", "response", "--method", "propensity",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    weights = pd.read_csv(out / "weights.csv")
    assert [c for c in weights.columns if c.startswith("propensity_")] == [
        "propensity_rhTPO", "propensity_hetrombopag", "propensity_combination",
        "propensity_rhIL-11",
    ]  # fmt: skip
    assert len(weights) == 300
    assert weights["arm"].tolist() == sim.data["arm"].tolist()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["synthetic"] is True
    assert settings["covariates"][0] == "sex"
    outcome = pd.read_csv(out / "outcome.csv")
    assert len(outcome) == 4 + 6
    printed = capsys.readouterr()
    assert "SIM0" not in printed.out + printed.err
    for file in out.iterdir():
        if file.suffix in {".csv", ".json", ".md", ".svg"}:
            assert "SIM0" not in file.read_text(), file.name
    # a synthetic cohort's every table and figure says so (issue 20, item 4)
    for file in out.glob("*.csv"):
        assert (pd.read_csv(file)["synthetic"] == 1).all(), file.name
    for file in out.glob("*.svg"):
        assert "SYNTHETIC DATA" in file.read_text(), file.name


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_generic_table_in_another_format_gives_the_csv_weights(tmp_path, suffix):
    """The generic path reads any format of the cohort reader, typed as a CSV reader would."""
    frame = generic_csv(tmp_path / "study.csv")
    other = tmp_path / f"study{suffix}"
    if suffix == ".xlsx":
        frame.to_excel(other, index=False)
    else:
        frame.to_parquet(other, index=False)
    for name in ("study.csv", other.name):
        assert main(["weights", str(tmp_path / name), "--treatment", "group",
                     "--out", str(tmp_path / f"out_{name}")]) == 0  # fmt: skip
    csv_weights = pd.read_csv(tmp_path / "out_study.csv" / "weights.csv")
    other_weights = pd.read_csv(tmp_path / f"out_{other.name}" / "weights.csv")
    # same data, same solver: equal to round-off (1e-12 relative; the inputs are identical)
    np.testing.assert_allclose(other_weights["weight"], csv_weights["weight"], rtol=1e-12)
    assert other_weights["arm"].tolist() == csv_weights["arm"].tolist()


def test_the_default_method_is_the_plans(tmp_path):
    """Issue 16, item 8: without --method, ``weights`` weights as ``run`` does (the plan's
    entropy balancing), and says where the method came from. On a 1,200-patient
    strong-confounding cohort (ATO) the largest weighted |SMD| was 7e-15 with entropy balancing
    and 0.178 with propensity-score weights (measured)."""
    from cit_bayes.plan import load_plan
    from cit_bayes.simulate import simulate_cohort, write_simulated

    path, _ = write_simulated(simulate_cohort(1200, seed=4, scenario="strong-confounding"),
                              tmp_path / "cohort.csv")  # fmt: skip
    largest = {}
    for method in ("plan", "propensity"):
        out = tmp_path / method
        extra = [] if method == "plan" else ["--method", "propensity"]
        assert main(["weights", str(path), "--estimand", "ato", *extra, "--out", str(out)]) == 0
        settings = json.loads((out / "settings.json").read_text())
        largest[settings["method"]] = pd.read_csv(out / "balance_summary.csv")[
            "max_smd_weighted"
        ].max()
        if method == "plan":
            assert settings["method"] == load_plan().weighting.method == "entropy"
            assert settings["method_from"] == "the analysis plan"
    # entropy balancing balances the means exactly where it can (solver tolerance)
    assert largest["entropy"] < 0.01 < largest["propensity"], largest


@pytest.mark.parametrize("token", ["NA", "N/A", ".", "missing", " na "])
def test_missing_tokens_are_missing_values_not_a_category(tmp_path, capsys, token):
    """A missing token (``NA``, ``.``...) in a numeric column is a missing value, as a blank
    cell is: the column stays numeric (not a category ``NA`` pooled into a level, nor left
    out as identifier-like) and the missing value stops the weighting."""
    from cit_bayes.cli.weights_inputs import _read_generic

    small = "arm,age,bmi\nA,50,20.1\nA,60,TOKEN\nA,70,22\nB,55,21.5\nB,65,21\nB,80,23\n"
    rng = np.random.default_rng(3)
    large = pd.DataFrame(
        {
            "arm": np.repeat(["A", "B"], 30),
            "age": rng.integers(40, 80, 60),
            "bmi": rng.normal(23, 3, 60).round(1).astype(str),
        }
    )
    large.loc[7, "bmi"] = "TOKEN"
    for name, text in [("small.csv", small), ("large.csv", large.to_csv(index=False))]:
        path = tmp_path / name
        path.write_text(text.replace("TOKEN", token))
        frame = _read_generic(path)
        assert pd.api.types.is_float_dtype(frame["bmi"])
        assert frame["bmi"].isna().sum() == 1
        row = 1 if name == "small.csv" else 7
        assert np.isnan(frame["bmi"].iloc[row])
        assert frame["bmi"].drop(index=row).notna().all()
        code = main(["weights", str(path), "--treatment", "arm", "--method", "entropy",
                     "--estimand", "ate", "--out", str(tmp_path / f"out_{name}")])  # fmt: skip
        assert code == 2
        err = capsys.readouterr().err
        assert "'bmi': 1 missing value(s)" in err
        assert "identifier-like" not in err
    small_bmi = _read_generic(tmp_path / "small.csv")["bmi"].to_numpy()
    np.testing.assert_allclose(small_bmi[[0, 2, 3]], [20.1, 22.0, 21.5], rtol=1e-12)
