"""Planned days other than the study's 0, 3, 7, 14 (an analysis plan's ``[plt] planned_days``).

A cohort measured on days 0, 5, 10 and 21 (a 21-day cycle) is the study's simulated cohort with
its days stretched (3 -> 5, 7 -> 10, 14 -> 21, recovery days mapped monotonically, so that each
recovery keeps its place between the planned days): it validates with the same responses and
recoveries, a long-format laboratory file with a wider window gives back the same cohort, the
plan checks its days, and ``cit-bayes run`` fits and reports on them end to end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cit_bayes.cohort import validate_cohort
from cit_bayes.cohort.labs import with_lab_counts
from cit_bayes.cohort.mapping import ColumnMapping
from cit_bayes.exceptions import CohortError, PlanError
from cit_bayes.plan import load_plan
from cit_bayes.simulate import simulate_cohort

DAYS = (0, 5, 10, 21)
STRETCH = {3: 5, 7: 10, 14: 21}


def _stretched_day(day: float) -> float:
    """Days 0-14 onto 0-21, piecewise linear through (3, 5), (7, 10), (14, 21), rounded up:
    increasing, and a planned day goes to a planned day."""
    if np.isnan(day):
        return day
    return float(np.ceil(np.interp(day, [0, 3, 7, 14], [0, 5, 10, 21]) - 1e-9))


def stretched(frame: pd.DataFrame) -> pd.DataFrame:
    """The cohort on days 0, 5, 10, 21."""
    out = frame.rename(columns={f"plt_day{old}": f"plt_day{new}" for old, new in STRETCH.items()})
    out["recovery_day"] = out["recovery_day"].astype(float).map(_stretched_day)
    return out


@pytest.fixture(scope="module")
def study():
    return simulate_cohort(150, seed=12, scenario="paper-like").data


def test_a_cohort_on_other_days_keeps_its_responses_and_recoveries(study):
    plain = validate_cohort(study)
    other = validate_cohort(stretched(study), days=DAYS)
    assert other.days == DAYS
    assert [c for c in other.data.columns if c.startswith("plt_")] == [
        "plt_day0", "plt_day5", "plt_day10", "plt_day21"
    ]  # fmt: skip
    assert (other.data["response"] == plain.data["response"]).all()
    assert (other.data["recovered"] == plain.data["recovered"]).all()
    censored = plain.data["recovered"] == 0
    assert (
        other.data.loc[censored, "time_to_recovery"]
        == plain.data.loc[censored, "time_to_recovery"].map(STRETCH | {0: 0})
    ).all()
    # exact: the same two counts subtracted in both (the last day is day 14 renamed day 21)
    assert (other.data["delta_plt"] == plain.data["delta_plt"]).all()
    assert "missing_plt_day21" in other.summary().columns
    assert other.fingerprint != plain.fingerprint
    # the study's file read on other days lacks their columns, and the reverse
    with pytest.raises(CohortError, match="plt_day5"):
        validate_cohort(study, days=DAYS)
    with pytest.raises(CohortError, match="plt_day3"):
        validate_cohort(stretched(study))
    # rules: "last" looks at day 21, "day14" needs a day 14
    last = validate_cohort(stretched(study), days=DAYS, response_rule="last")
    day14 = validate_cohort(study, response_rule="day14")
    assert (last.data["response"] == day14.data["response"]).all()
    with pytest.raises(CohortError, match="needs day 14"):
        validate_cohort(stretched(study), days=DAYS, response_rule="day14")
    # a recovery day past the last planned day, and days that are no plan
    bad = stretched(study)
    bad.loc[0, "recovery_day"] = 22
    with pytest.raises(CohortError) as info:
        validate_cohort(bad, days=DAYS)
    problem = info.value.problems[0]
    assert problem.column == "recovery_day" and "21" in problem.expected
    with pytest.raises(CohortError, match="start at 0"):
        validate_cohort(stretched(study), days=(5, 10, 21))


def test_a_laboratory_file_on_other_days_takes_their_windows():
    """Counts two days off the planned days 5, 10 and 21 are taken with a window of 2;
    recovery is read from days 1 to 21 (a count on day 23 serves day 21, not the recovery)."""
    cohort = pd.DataFrame({"patient_id": ["a", "b"], "arm": ["rhTPO", "hetrombopag"]})
    labs = pd.DataFrame(
        {
            "patient_id": ["a"] * 5 + ["b"] * 4,
            "day": [0, 7, 12, 18, 23, -1, 3, 11, 23],
            "platelets": [40, 60, 80, 130, 150, 30, 45, 70, 90],
        }
    )
    frame, summary = with_lab_counts(
        cohort, labs, ColumnMapping(), source="p", lab_source="l", window=2, days=DAYS
    )
    assert frame[["plt_day0", "plt_day5", "plt_day10", "plt_day21"]].to_numpy().tolist() == [
        [40, 60, 80, 150], [30, 45, 70, 90]
    ]  # fmt: skip
    assert frame["recovery_day"].tolist()[0] == 18 and frame["recovery_after"].tolist()[0] == 12
    assert np.isnan(frame["recovery_day"].tolist()[1]) and frame["recovery_after"].tolist()[1] == 11
    assert summary.days == DAYS and "1-21" in summary.note()
    assert summary.off_day == {"plt_day0": 1, "plt_day5": 2, "plt_day10": 2, "plt_day21": 2}
    with pytest.raises(CohortError, match="overlap"):
        with_lab_counts(cohort, labs, ColumnMapping(), source="p", lab_source="l", window=3,
                        days=(0, 3, 7, 14))  # fmt: skip


PLAN_DAYS = """
planned_days = [0, 5, 10, 21]
days = ["day5", "day10", "day21"]
contrast_days = ["day10", "day21"]
"""


def _plan_text(text: str, horizon: int = 21) -> str:
    old = '[plt]\ndays = ["day3", "day7", "day14"]\ncontrast_days = ["day7", "day14"]\n'
    assert old in text and "horizon = 14\n" in text
    return text.replace(old, "[plt]" + PLAN_DAYS).replace(
        "horizon = 14\n", f"horizon = {horizon}\n"
    )


def test_the_plan_checks_its_days(tmp_path, primary_only_plan_text):
    path = tmp_path / "plan.toml"
    path.write_text(_plan_text(primary_only_plan_text), encoding="utf-8")
    plan = load_plan(path)
    assert plan.planned_days == DAYS and plan.horizon == 21
    assert plan.cohort_columns()["days"] == DAYS
    for old, new, key in (
        ("planned_days = [0, 5, 10, 21]", "planned_days = [0, 10, 5]", "plt.planned_days"),
        ('days = ["day5", "day10", "day21"]', 'days = ["day7", "day10", "day21"]', "plt.days"),
        ("horizon = 21", "horizon = 28", "recovery.horizon"),
    ):
        path.write_text(_plan_text(primary_only_plan_text).replace(old, new), encoding="utf-8")
        with pytest.raises(PlanError, match=key.replace(".", r"\.")):
            load_plan(path)
    # a cohort on the study's days is refused by this plan before anything is fitted
    path.write_text(_plan_text(primary_only_plan_text), encoding="utf-8")
    cohort = validate_cohort(simulate_cohort(40, seed=1).data)
    with pytest.raises(PlanError, match="days=plan.planned_days"):
        load_plan(path).cohort_covariates(cohort)


def test_run_on_other_planned_days_fits_and_reports_them(
    tmp_path, primary_only_plan_text, small_cohort_csv, run_short
):
    """End to end on the suite's small cohort stretched to days 0, 5, 10, 21 (horizon 21)."""
    frame = stretched(pd.read_csv(small_cohort_csv))
    frame.to_csv(tmp_path / "cycle21.csv", index=False)
    plan = tmp_path / "plan.toml"
    plan.write_text(_plan_text(primary_only_plan_text), encoding="utf-8")
    out = tmp_path / "report"
    _, results = run_short(["--data", str(tmp_path / "cycle21.csv"), "--plan", str(plan)], out)
    assert results["meta"]["data"]["planned_days"] == list(DAYS)
    assert sorted(results["plt"]["adjusted"]["mean"]) == ["day10", "day21", "day5"]
    assert results["recovery"]["adjusted"]["horizon_days"] == 21
    assert "day21" in results["recovery"]["adjusted"]["recovered_difference"]
    for name in ("report.html", "methods_supplement.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "day 5, 10 or 21" in text, name
    assert "Platelet trajectory (days 5, 10, 21)" in (out / "methods_supplement.md").read_text()


def test_mappings_name_other_days_and_their_counts_are_never_covariates(study):
    """A mapping may rename a planned day's column (``plt_day21 = "PLT D21"``); a count of any
    planned day is an outcome, never a covariate; the study's file read without the plan's days
    says which other days it holds."""
    from cit_bayes.cohort.plan_columns import extra_covariate_specs

    frame = stretched(study).rename(columns={"plt_day21": "PLT D21"})
    mapped = validate_cohort(frame, days=DAYS, columns={"columns": {"plt_day21": "PLT D21"}})
    assert mapped.fingerprint == validate_cohort(stretched(study), days=DAYS).fingerprint
    for name in ("plt_day10", "plt_day28"):
        with pytest.raises(CohortError, match="never covariates"):
            extra_covariate_specs([name])
    with pytest.raises(CohortError) as info:
        validate_cohort(stretched(study))
    assert any("[plt] planned_days" in p.expected for p in info.value.problems)
