"""Any numeric column of the cohort as a covariate, when the analysis plan names it (issue 15).

Reference values: a simulator cohort (``paper-like``, n = 187, seed 3) with a made-up
laboratory value ``creatinine`` that depends on the arm (the combination's patients half an SD
higher), so that it is imbalanced by construction: its largest pairwise |SMD| before weighting
is above 0.5 (measured 0.85), and the plan's entropy weights, which balance every covariate the
plan names, bring it below 0.01 (exact balance of the first moment up to the solver's
tolerance; measured < 0.001).
The reader's rules (required, numeric, missing values as for the baseline covariates, outcomes
refused) are checked cell by cell.
"""

from __future__ import annotations

import numpy as np
import pytest

from cit_bayes._paths import models_dir
from cit_bayes.analyses.endpoints import endpoint_runner
from cit_bayes.cli import main
from cit_bayes.cohort import validate_cohort
from cit_bayes.exceptions import CohortError, PlanError
from cit_bayes.plan import load_plan
from cit_bayes.simulate import simulate_cohort
from cit_bayes.weighting.cohort_weights import outcome_design, weight_analysis

DEFAULT_NAMES = '"targeted_therapy", "log_plt_day0",\n]'


def _plan_file(tmp_path, *extra: str):
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    assert text.count(DEFAULT_NAMES) == 1
    added = "".join(f' "{name}",' for name in extra)
    path = tmp_path / "plan.toml"
    path.write_text(text.replace(DEFAULT_NAMES, DEFAULT_NAMES[:-2] + added + "\n]"))
    return path


@pytest.fixture(scope="module")
def frame():
    data = simulate_cohort(187, seed=3, scenario="paper-like").data.copy()
    rng = np.random.default_rng(7)
    shift = np.where(data["arm"] == "combination", 0.5, 0.0)
    data["creatinine"] = 70 + 15 * (shift + rng.standard_normal(len(data)))
    return data


def test_a_plan_may_name_a_numeric_column_but_not_an_outcome(tmp_path):
    plan = load_plan(_plan_file(tmp_path, "creatinine"))
    assert plan.extra_covariates == ("creatinine",)
    assert plan.covariates[-1] == "creatinine"
    for name in ("plt_day14", "response", "recovered"):
        with pytest.raises(PlanError, match=f"{name}.*not a further covariate"):
            load_plan(_plan_file(tmp_path, name))
    with pytest.raises(PlanError, match="letters, digits and underscores"):
        load_plan(_plan_file(tmp_path, "serum creatinine"))


def test_the_reader_requires_and_checks_the_named_column(frame):
    plain = validate_cohort(frame)
    cohort = validate_cohort(frame, covariates=["creatinine"])
    assert cohort.extra_covariates == ("creatinine",)
    assert plain.extra_covariates == () and "creatinine" not in plain.covariates()
    np.testing.assert_allclose(cohort.covariates()["creatinine"], frame["creatinine"])
    # the values enter the fingerprint; without the column the schema's fingerprint is kept
    assert cohort.fingerprint != plain.fingerprint
    assert validate_cohort(frame.drop(columns="creatinine")).fingerprint == plain.fingerprint
    with pytest.raises(CohortError, match="missing required column"):
        validate_cohort(frame.drop(columns="creatinine"), covariates=["creatinine"])
    broken = frame.astype({"creatinine": object})
    broken.loc[4, "creatinine"] = "high"
    broken.loc[9, "creatinine"] = None
    with pytest.raises(CohortError) as caught:
        validate_cohort(broken, covariates=["creatinine"])
    problems = {(p.row, p.column): p.expected for p in caught.value.problems}
    assert set(problems) == {(5, "creatinine"), (10, "creatinine")}
    assert problems[(5, "creatinine")] == "a number"
    assert "missing='drop'" in problems[(10, "creatinine")]
    # under missing="drop" the row with the empty cell is dropped and counted (the text is
    # still an error: nothing is read as missing that was not)
    broken.loc[4, "creatinine"] = 71.0
    dropped = validate_cohort(broken, covariates=["creatinine"], missing="drop")
    assert dropped.n == 186 and int(dropped.dropped["n_dropped"].sum()) == 1


def test_the_weights_balance_it_and_the_models_adjust_for_it(tmp_path, frame):
    plan = load_plan(_plan_file(tmp_path, "creatinine"))
    cohort = validate_cohort(frame, covariates=plan.extra_covariates)
    covariates = cohort.covariates().reset_index(drop=True)
    weighted = weight_analysis(
        covariates,
        cohort.data["arm"].reset_index(drop=True),
        analysis="adjusted",
        estimand="ate",
        plan=plan,
        arms=cohort.arms,
    )
    row = weighted.balance.set_index("covariate").loc["creatinine"]
    assert row["max_smd_unweighted"] > 0.5
    assert row["max_smd_weighted"] < 0.01
    design = outcome_design(covariates, plan)
    column = list(design.columns).index("creatinine")
    # standardised (by the sample SD), as every numeric covariate
    assert design.matrix[:, column].mean() == pytest.approx(0.0, abs=1e-10)
    assert design.matrix[:, column].std(ddof=1) == pytest.approx(1.0, rel=1e-6)
    # the outcome models' design carries it; a cohort read without it is refused by name
    assert "creatinine" in endpoint_runner(cohort, plan, 1, None).design.columns
    with pytest.raises(PlanError, match=r"\['creatinine'\] that the cohort does not hold"):
        endpoint_runner(validate_cohort(frame), plan, 1, None)


def test_validate_takes_the_plan(tmp_path, frame, capsys):
    plan = _plan_file(tmp_path, "creatinine")
    with_column = tmp_path / "cohort.csv"
    frame.to_csv(with_column, index=False)
    without = tmp_path / "without.csv"
    frame.drop(columns="creatinine").to_csv(without, index=False)
    assert main(["validate", str(with_column), "--plan", str(plan)]) == 0
    assert main(["validate", str(without)]) == 0
    capsys.readouterr()
    assert main(["validate", str(without), "--plan", str(plan)]) == 2
    assert "creatinine" in capsys.readouterr().err


def test_covariates_the_plan_does_not_use_are_neither_required_nor_read(frame):
    """Issue 16, item 2: a file without a schema covariate the plan leaves out, or with
    missing cells in one, is read; the column holds missing values and is left out of the
    covariate table."""
    export = frame.drop(columns=["targeted_therapy"])
    export.loc[2, "bmi"] = np.nan
    with pytest.raises(CohortError, match="missing required column"):
        validate_cohort(export)
    cohort = validate_cohort(export, used_covariates=["sex", "age", "stage", "log_plt_day0"])
    assert cohort.n == len(frame) and "bmi" in cohort.unused_covariates
    assert "targeted_therapy" in cohort.unused_covariates and "age" not in cohort.unused_covariates
    assert cohort.data["bmi"].isna().all() and cohort.data["targeted_therapy"].isna().all()
    assert list(cohort.covariates().columns) == ["sex", "age", "stage", "log_plt_day0"]
    assert any("not read" in note and "bmi" in note for note in cohort.notes)
    np.testing.assert_array_equal(cohort.data["age"], validate_cohort(frame).data["age"])


def test_grouping_labels_differing_in_case_or_spaces_are_one_group(frame):
    """``Beijing``, ``beijing`` and ``BEIJING `` are one centre, as arm labels spelled so are
    one arm: merged into the most frequent spelling, with a note counting the cells; the cohort is the
    one whose labels were typed alike (same fingerprint)."""
    clean = frame.assign(centre=np.where(np.arange(len(frame)) % 2 == 0, "Beijing", "Wuhan"))
    typed = clean.copy()
    typed.loc[[1, 4, 10], "centre"] = ["wuhan", "beijing", "BEIJING "]
    typed.loc[12, "centre"] = "  Beijing"  # surrounding spaces only: the same spelling
    cohort = validate_cohort(typed, group="centre")
    assert cohort.data["centre"].tolist() == clean["centre"].tolist()
    assert sorted(cohort.data["centre"].unique()) == ["Beijing", "Wuhan"]
    note = [n for n in cohort.notes if n.startswith("centre: grouping labels")]
    assert note and note[0].endswith("(3 cells)")
    assert cohort.fingerprint == validate_cohort(clean, group="centre").fingerprint
