"""``cit-bayes weights --method entropy`` through ``cit_bayes.cli.main`` in-process.

Reference values: the Python API on the same data (the CLI is a thin face: weights equal to
1e-12, the balancing tables equal); the files listed in the output README; privacy: no patient
identifier appears in any output file or in the terminal; options that do not apply to entropy
balancing (and entropy-only options given to propensity weighting) exit with code 2.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from cit_bayes._paths import data_dir
from cit_bayes.cli import main
from cit_bayes.weighting import BalancingWeights

ENTROPY_FILES = {"balancing_constraints.csv", "balancing_solver.csv", "balancing_lambda.csv"}


def generic_csv(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient": [f"P-{i:04d}" for i in range(n)],
            "age": rng.normal(60, 10, n).round(1),
            "stage": rng.choice(["II", "III", "IV"], n),
            "group": rng.choice(["drug", "control", "other"], n),
        }
    )
    frame["outcome"] = (rng.random(n) < 0.4 + 0.2 * (frame["group"] == "drug")).astype(int)
    frame.to_csv(path, index=False)
    return frame


def test_entropy_on_a_generic_csv_matches_the_api(tmp_path, capsys):
    frame = generic_csv(tmp_path / "study.csv")
    out = tmp_path / "out"
    code = main(
        ["weights", str(tmp_path / "study.csv"), "--treatment", "group", "--method", "entropy",
         "--moments", "2", "--estimand", "ate", "--outcome", "outcome", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert ENTROPY_FILES | {"weights.csv", "balance.csv", "ess.csv", "outcome.csv"} <= names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = BalancingWeights("ate", moments=2).fit(frame[["age", "stage"]], frame["group"])
    weights = pd.read_csv(out / "weights.csv")
    np.testing.assert_allclose(weights["weight"], api.weights_, rtol=1e-12)
    assert pd.read_csv(out / "balance.csv")["smd_weighted"].max() < 1e-8
    solver = pd.read_csv(out / "balancing_solver.csv")
    assert solver["status"].tolist() == api.solver_["status"].tolist()
    constraints = pd.read_csv(out / "balancing_constraints.csv", keep_default_na=False)
    assert len(constraints) == len(api.constraints_)
    lam = pd.read_csv(out / "balancing_lambda.csv").set_index("constraint")
    np.testing.assert_allclose(lam.to_numpy(), api.lambda_.to_numpy(), rtol=1e-12)
    outcome = pd.read_csv(out / "outcome.csv")
    assert set(outcome["sandwich_method"]) == {"M-estimation (balancing weights estimated)"}
    settings = json.loads((out / "settings.json").read_text())
    assert (settings["method"], settings["moments"], settings["tolerance"]) == ("entropy", 2, 0.01)
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Entropy-balancing weights")
    assert all(name in readme for name in ENTROPY_FILES)
    printed = capsys.readouterr()
    assert "entropy balancing: estimand ATE, moments 2" in printed.out
    assert "P-0" not in printed.out + printed.err
    for path in out.iterdir():
        if path.suffix in {".csv", ".json", ".md", ".svg"}:
            assert "P-0" not in path.read_text(), path.name


def test_entropy_on_the_bundled_cohort_needs_no_other_option(tmp_path, capsys):
    out = tmp_path / "weights"
    path = data_dir() / "reconstructed" / "cohort.csv"
    code = main(["weights", str(path), "--method", "entropy", "--out", str(out)])
    assert code == 0
    solver = pd.read_csv(out / "balancing_solver.csv")
    assert solver["arm"].tolist() == ["rhTPO", "hetrombopag", "combination", "rhIL-11"]
    summary = pd.read_csv(out / "balance_summary.csv")
    assert summary["max_smd_weighted"].max() < 0.1 < summary["max_smd_unweighted"].max()
    printed = capsys.readouterr()
    assert "entropy balancing: estimand ATO, moments 1" in printed.out
    assert "warning: WeightingWarning: arm 'rhIL-11'" in printed.err
    settings = json.loads((out / "settings.json").read_text())
    assert settings["synthetic"] is True and settings["method"] == "entropy"


def test_rare_level_min_pools_the_rare_tumour_types_of_the_bundled_cohort(tmp_path, capsys):
    out = tmp_path / "weights"
    path = data_dir() / "reconstructed" / "cohort.csv"
    code = main(
        ["weights", str(path), "--method", "entropy", "--rare-level-min", "10",
         "--pool-absent-levels", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    pooled = pd.read_csv(out / "pooled_levels.csv")
    # breast 5, urinary 9, other 7 patients (data/reconstructed/cohort.csv): below 10, pooled
    assert pooled["level"].tolist() == ["breast", "urinary", "other"]
    assert set(pooled["pooled_into"]) == {"breast+urinary+other"}
    assert set(pooled["rule"]) == {"rare level"}  # no level is missing from an arm
    settings = json.loads((out / "settings.json").read_text())
    assert (settings["rare_level_min"], settings["pool_absent_levels"]) == (10, True)
    summary = pd.read_csv(out / "balance_summary.csv")
    assert summary["max_smd_weighted"].max() < 0.05


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "entropy", "--trim", "0.05"], "--trim: not used by --method entropy"),
        (["--method", "entropy", "--truncate", "5"], "--truncate: not used"),
        (["--method", "entropy", "--model", "boosting"], "--model boosting: not used"),
        (["--method", "propensity", "--moments", "2"], "--moments: only used by --method entropy"),
        (["--method", "propensity", "--tolerance", "0.1"], "--tolerance: only used by"),
        (["--method", "propensity", "--pool-absent-levels"], "--pool-absent-levels: only used"),
        (["--trim", "0.05"], "the analysis plan's method; add --method propensity"),
        (["--method", "entropy", "--tolerance", "0"], "tolerance must be a positive number"),
        (["--method", "entropy", "--estimand", "att"], "reference"),
    ],
)
def test_options_that_do_not_apply_exit_2(tmp_path, capsys, extra, message):
    generic_csv(tmp_path / "study.csv")
    code = main(
        ["weights", str(tmp_path / "study.csv"), "--treatment", "group", *extra,
         "--out", str(tmp_path / "o")]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
