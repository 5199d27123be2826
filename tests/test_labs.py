"""Laboratory results in long format (issue 16, item 3): a hospital's export of one row per
platelet count, with dates, read beside a file of one row per patient.

Reference values: a long file built from a simulated cohort (its planned-day counts, and on
the recovery day and the day before it the counts that make that day exact) must give back the
same validated cohort, fingerprint included; sparse draws by hand give the window rule's
choices and interval-censored recoveries; every malformed laboratory file is refused with the
row and column named.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from cit_bayes._paths import models_dir
from cit_bayes.cli import main
from cit_bayes.cohort import read_cohort, validate_cohort
from cit_bayes.cohort.io import write_table
from cit_bayes.cohort.labs import check_window
from cit_bayes.cohort.schema import COHORT_COLUMNS, PLT_COLUMNS, PLT_DAYS
from cit_bayes.exceptions import CohortError
from cit_bayes.simulate import simulate_cohort

COUNTS = [*PLT_COLUMNS, "recovery_day"]


def _long_format(wide: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A patients file (with a treatment-start date, without counts) and a laboratory file
    with dates that holds the same information as ``wide``: the planned days' counts, a count
    of 100 + k on a recovery day that is not planned and one below 100 on the day before it
    (when that is not planned); rows shuffled, as an export's are."""
    rng = np.random.default_rng(seed)
    starts = [
        dt.datetime(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 700, len(wide))
    ]
    patients = wide.drop(columns=COUNTS).assign(treatment_start=starts)
    rows = []
    for i, row in enumerate(wide.itertuples(index=False)):
        for day, name in zip(PLT_DAYS, PLT_COLUMNS, strict=True):
            count = getattr(row, name)
            if pd.notna(count):
                rows.append((row.patient_id, starts[i] + dt.timedelta(days=day), float(count)))
        recovery = row.recovery_day
        if pd.notna(recovery):  # the recovery day and the day before: an exact day
            day = int(recovery)
            if day not in PLT_DAYS:
                rows.append((row.patient_id, starts[i] + dt.timedelta(days=day), 100.0 + i % 7))
            if day - 1 not in PLT_DAYS:
                rows.append((row.patient_id, starts[i] + dt.timedelta(days=day - 1), 99.0 - i % 5))
    labs = pd.DataFrame(rows, columns=["MRN", "Collected", "PLT"])
    return patients, labs.iloc[rng.permutation(len(labs))].reset_index(drop=True)


MAPPING = """
[labs]
patient_id = "MRN"
date = "Collected"
platelets = "PLT"
"""


def test_an_excel_export_with_dates_gives_back_the_wide_cohort(tmp_path):
    wide = simulate_cohort(150, seed=21, scenario="paper-like").data
    patients, labs = _long_format(wide, seed=3)
    write_table(patients, tmp_path / "patients.xlsx")
    write_table(labs, tmp_path / "labs.xlsx")
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    cohort = read_cohort(
        tmp_path / "patients.xlsx", tmp_path / "map.toml", labs=tmp_path / "labs.xlsx"
    )
    expected = validate_cohort(wide)
    pd.testing.assert_frame_equal(
        cohort.data[list(COHORT_COLUMNS)], expected.data[list(COHORT_COLUMNS)], check_dtype=False
    )
    assert cohort.fingerprint == expected.fingerprint
    summary = cohort.labs
    n_recovered = int(expected.data["recovered"].sum())
    assert summary.measurements == len(labs) and summary.day_from == "date"
    assert summary.taken == dict.fromkeys(PLT_COLUMNS, 150)  # the simulator misses no count
    assert summary.off_day == dict.fromkeys(PLT_COLUMNS, 0)
    assert (summary.recovered_exact, summary.recovered_interval) == (n_recovered, 0)
    assert summary.not_recovered == 150 - n_recovered and summary.not_used == 0
    assert any(note.startswith("counts from labs.xlsx") for note in cohort.notes)


def _sparse():
    patients = pd.DataFrame(
        {"patient_id": ["p1", "p2", "p3"], "arm": ["rhTPO", "hetrombopag", "hetrombopag"]}
    )
    labs = pd.DataFrame(
        [
            ("p1", -1, 48), ("p1", 2, 60), ("p1", 4, 70), ("p1", 5, 90), ("p1", 9, "125"),
            ("p1", 15, 180),  # after the follow-up, but inside day 14's window
            ("p2", 0, 55), ("p2", 0, 65), ("p2", 3, "<20"), ("p2", 8, 140), ("p2", 13, 96),
            ("p2", 30, 200),  # on no planned day and after the follow-up: not used
            ("p3", -5, 30), ("p3", 0, 41), ("p3", 6, 97), ("p3", 12, 99),
            ("p3", 13, ""),  # a cancelled draw: left out, counted
        ],
        columns=["patient_id", "day", "platelets"],
    )  # fmt: skip
    return patients, labs


def test_sparse_draws_follow_the_window_rule_and_censor_recovery_by_interval():
    from cit_bayes.cohort.labs import with_lab_counts
    from cit_bayes.cohort.mapping import ColumnMapping

    patients, labs = _sparse()
    frame, summary = with_lab_counts(
        patients, labs, ColumnMapping(), source="p.csv", lab_source="labs.csv"
    )
    got = frame[[*COUNTS, "recovery_after"]].copy()
    assert got.loc[1, "plt_day3"] == "<20"  # kept qualified: the validation checks it
    got.loc[1, "plt_day3"] = 20
    got = got.to_numpy(dtype=float)
    nan = np.nan
    expected = [
        # day 0 from day -1; day 3: days 2 and 4 tie, the earlier; day 7: none within 1 day;
        # day 14 from day 15; recovery first seen on day 9 after day 5: in (5, 9]
        [48, 60, nan, 180, 9, 5],
        # two counts on day 0 averaged; <20 read as 20; day 7 from day 8 (>= 100): recovery
        # in (3, 8]; day 14 from day 13
        [60, 20, 140, 96, 8, 3],
        # baseline: the last count on day -1..0 (day -5 is outside); never at 100: censored
        # at day 12, the last count of the follow-up
        [41, nan, 97, nan, nan, 12],
    ]
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))
    assert summary.taken == {"plt_day0": 3, "plt_day3": 2, "plt_day7": 2, "plt_day14": 2}
    assert summary.off_day == {"plt_day0": 1, "plt_day3": 1, "plt_day7": 2, "plt_day14": 2}
    assert summary.averaged_days == 1 and summary.qualified == 1
    assert summary.measurements == 17 and summary.empty_counts == 1
    assert (summary.recovered_exact, summary.recovered_interval, summary.not_recovered) == (0, 2, 1)
    assert summary.not_used == 2  # p2's day 30 and p3's day -5

    cohort = validate_cohort(patients, labs=labs, used_covariates=(), arms=("rhTPO", "hetrombopag"))
    data = cohort.data.set_index("patient_id")
    # time to recovery: the day recovery was first seen (or the censoring day), and the
    # interval's start, which the recovery model uses
    assert data["time_to_recovery"].tolist() == [9, 8, 12]
    assert data["recovered"].tolist() == [1, 1, 0]
    assert data["recovery_after"].tolist() == [5, 3, 12]
    assert data["response"].tolist() == [1, 1, 1]  # p3: 97 >= 2 x 41 on day 7 (criterion 3)


def test_intervals_enter_the_fingerprint_and_exact_days_do_not():
    patients, labs = _sparse()
    patients, labs = patients[patients["patient_id"] != "p2"], labs[labs["patient_id"] != "p2"]
    kwargs = {"used_covariates": (), "arms": ("rhTPO", "hetrombopag")}
    sparse = validate_cohort(patients, labs=labs, **kwargs)
    wide = sparse.data[["patient_id", "arm", *COUNTS]].copy()
    as_wide = validate_cohort(wide, **kwargs)  # the same counts, read as exact recovery days
    assert as_wide.data["recovery_after"].tolist() == [8, 7]  # p3 censored at day 7's count
    assert as_wide.fingerprint != sparse.fingerprint
    again = validate_cohort(wide.assign(recovery_after=[5, 12]), **kwargs)
    assert again.fingerprint == sparse.fingerprint
    exact = validate_cohort(wide.assign(recovery_after=[8, 7]), **kwargs)
    assert exact.fingerprint == as_wide.fingerprint  # the column adds nothing: not hashed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, lab: (p, lab.assign(patient_id=lab["patient_id"].replace("p3", "p9"))),
         "a patient of"),
        (lambda p, lab: (p, lab.astype({"platelets": object}).assign(
            platelets=lambda f: f["platelets"].where(f.index != 4, "<150"))),
         "settles PLT >= 100"),
        (lambda p, lab: (p, lab.astype({"day": object}).assign(
            day=lambda f: f["day"].where(f.index != 2, "4th"))), "whole number"),
        (lambda p, lab: (p.assign(plt_day0=50), lab), "holds plt_day0"),
        (lambda p, lab: (p, lab.assign(date="2024-01-01")), "both a day column"),
        (lambda p, lab: (p, lab.drop(columns="platelets")), "lacks column"),
        (lambda p, lab: (p, lab.astype({"day": object}).assign(
            day=lambda f: f["day"].where(f.index != 2, "2 weeks"))), "whole number"),
    ],
)  # fmt: skip
def test_a_bad_laboratory_file_is_refused_naming_the_row(change, message):
    patients, labs = _sparse()
    patients, labs = change(patients, labs)
    with pytest.raises(CohortError) as error:
        validate_cohort(patients, labs=labs, used_covariates=(), arms=("rhTPO", "hetrombopag"))
    problems = [str(problem) for problem in error.value.problems]
    assert message in " ".join([str(error.value), *problems])
    assert all("row" in problem for problem in problems)  # a cell's problem names its row


def test_dates_need_a_treatment_start_and_an_iso_form():
    patients, labs = _sparse()
    start = dt.date(2024, 3, 1)
    dated = labs.assign(date=[str(start + dt.timedelta(days=int(d))) for d in labs["day"]])
    dated = dated.drop(columns="day")
    kwargs = {"used_covariates": (), "arms": ("rhTPO", "hetrombopag")}
    with pytest.raises(CohortError, match="treatment_start"):
        validate_cohort(patients, labs=dated, **kwargs)
    with_start = patients.assign(treatment_start="2024-03-01")
    by_date = validate_cohort(with_start, labs=dated, **kwargs)
    by_day = validate_cohort(patients, labs=labs, **kwargs)
    pd.testing.assert_frame_equal(by_date.data, by_day.data)
    dated.loc[5, "date"] = "16/03/2024"  # day-first or month-first: never guessed
    with pytest.raises(CohortError) as error:
        validate_cohort(with_start, labs=dated, **kwargs)
    assert "row 6, column 'date'" in str(error.value.problems[0])


def test_laboratory_problems_never_show_an_identifier_or_a_date():
    """A count of a patient the cohort lacks, an unreadable draw date, a draw date over a year
    from the start and an unreadable treatment start: each names its row and column, never
    the identifier or the date (patient data)."""
    patients, labs = _sparse()
    start = dt.date(2024, 3, 1)
    dated = labs.assign(date=[str(start + dt.timedelta(days=int(d))) for d in labs["day"]])
    dated = dated.drop(columns="day").astype({"patient_id": object})
    dated.loc[1, "patient_id"] = "SYN-001-0009"  # not in the cohort
    dated.loc[5, "date"] = "16/03/2024"
    dated.loc[7, "date"] = "2026-07-04"
    kwargs = {"used_covariates": (), "arms": ("rhTPO", "hetrombopag")}
    with_start = patients.assign(treatment_start="2024-03-01")
    with pytest.raises(CohortError) as error:
        validate_cohort(with_start, labs=dated, **kwargs)
    problems = error.value.all_problems
    assert [(p.row, p.column) for p in problems] == [(2, "patient_id"), (6, "date"), (8, "date")]
    assert all(p.value is None for p in problems)
    assert "within a year (366 days)" in problems[2].expected
    shown = " ".join([str(error.value), *map(str, problems)])
    for secret in ("SYN-001-0009", "16/03/2024", "2026-07-04", "2024-03"):
        assert secret not in shown, secret
    bad_start = with_start.astype({"treatment_start": object})
    bad_start.loc[1, "treatment_start"] = "03/01/2024"
    dated = labs.assign(date=[str(start + dt.timedelta(days=int(d))) for d in labs["day"]])
    with pytest.raises(CohortError) as error:
        validate_cohort(bad_start, labs=dated.drop(columns="day"), **kwargs)
    (problem,) = error.value.all_problems
    assert (problem.row, problem.column, problem.value) == (2, "treatment_start", None)
    assert "03/01/2024" not in str(problem) + str(error.value)


def test_dates_are_calendar_dates_whatever_the_time_zone():
    """A draw 7 calendar days after the start is day 7 across a change of summer time, and a
    zoned date against a plain one does not fail (review findings)."""
    patients, labs = _sparse()
    kwargs = {"used_covariates": (), "arms": ("rhTPO", "hetrombopag")}
    start = pd.Timestamp("2024-03-25 09:00", tz="Europe/Berlin")  # summer time from the 31st
    dated = labs.assign(
        date=[start + dt.timedelta(days=int(d), hours=-2) for d in labs["day"].tolist()]
    ).drop(columns="day")
    with_start = patients.assign(treatment_start=[start, start.tz_localize(None), start])
    by_day = validate_cohort(patients, labs=labs, **kwargs)
    by_date = validate_cohort(with_start, labs=dated, **kwargs)
    pd.testing.assert_frame_equal(by_date.data, by_day.data)


def test_windows_may_not_overlap():
    assert check_window(0) == 0 and check_window(1) == 1
    for window in (2, 3):
        with pytest.raises(CohortError, match="overlap"):
            check_window(window)


def test_a_long_file_given_as_the_cohort_points_to_labs():
    patients, labs = _sparse()
    frame = labs.merge(patients, on="patient_id")
    with pytest.raises(CohortError) as error:
        validate_cohort(frame, arms=("rhTPO", "hetrombopag"))
    assert any("--labs LABS" in str(problem) for problem in error.value.problems)


def test_validate_on_the_command_line_prints_the_rule(tmp_path, capsys):
    wide = simulate_cohort(80, seed=4, scenario="paper-like").data
    patients, labs = _long_format(wide, seed=1)
    write_table(patients, tmp_path / "patients.csv")
    write_table(labs, tmp_path / "labs.parquet")
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    args = ["validate", str(tmp_path / "patients.csv"), "--columns", str(tmp_path / "map.toml")]
    assert main([*args, "--labs", str(tmp_path / "labs.parquet")]) == 0
    printed = capsys.readouterr().out
    assert "counts from labs.parquet" in printed and "within 1 day either side" in printed
    assert main(args) == 2  # without the laboratory file the counts are missing
    assert "plt_day0" in capsys.readouterr().err


def test_weights_read_a_long_format_export_as_the_plan_does(tmp_path):
    """``cit-bayes weights PATIENTS --labs LABS`` weights the cohort ``run`` would analyse:
    the plan's covariates (a patients file without the others is read), and the weights of the
    same cohort given as a wide file."""
    wide = simulate_cohort(160, seed=5, scenario="paper-like").data.drop(columns=["bmi"])
    patients, labs = _long_format(wide, seed=4)
    labs = labs.rename(columns={"MRN": "patient_id", "Collected": "date", "PLT": "platelets"})
    write_table(patients, tmp_path / "patients.csv")
    write_table(labs, tmp_path / "labs.csv")
    write_table(wide, tmp_path / "wide.csv")
    text = (models_dir() / "default.toml").read_text(encoding="utf-8")
    assert text.count('"bmi", ') == 1
    (tmp_path / "plan.toml").write_text(text.replace('"bmi", ', ""), encoding="utf-8")
    args = ["--plan", str(tmp_path / "plan.toml"), "--estimand", "ate"]
    assert main(["weights", str(tmp_path / "patients.csv"), "--labs", str(tmp_path / "labs.csv"),
                 *args, "--out", str(tmp_path / "long")]) == 0  # fmt: skip
    assert main(["weights", str(tmp_path / "wide.csv"), *args, "--out", str(tmp_path / "w")]) == 0
    long, plain = (pd.read_csv(tmp_path / name / "weights.csv") for name in ("long", "w"))
    pd.testing.assert_frame_equal(long, plain)
    settings = json.loads((tmp_path / "long" / "settings.json").read_text(encoding="utf-8"))
    assert "bmi" not in settings["covariates"] and len(long) == 160
    assert main(["weights", str(tmp_path / "wide.csv"), "--treatment", "arm", "--labs",
                 str(tmp_path / "labs.csv"), "--out", str(tmp_path / "g")]) == 2  # fmt: skip
    # a mapping names the export's own columns; --missing drop drops rows, counted
    renamed = wide.rename(columns={"arm": "Regimen", "age": "Age (y)"})
    renamed.loc[[0, 1], "Age (y)"] = None
    write_table(renamed, tmp_path / "renamed.csv")
    (tmp_path / "map.toml").write_text('[columns]\narm = "Regimen"\nage = "Age (y)"\n')
    base = [
        "weights",
        str(tmp_path / "renamed.csv"),
        *args,
        "--columns",
        str(tmp_path / "map.toml"),
    ]
    assert main([*base, "--out", str(tmp_path / "m")]) == 2  # two missing ages: an error
    assert main([*base, "--missing", "drop", "--out", str(tmp_path / "m")]) == 0
    mapped = pd.read_csv(tmp_path / "m" / "weights.csv")
    assert mapped["row"].tolist() == list(range(3, 161))  # the input's rows 1 and 2 dropped
    settings = json.loads((tmp_path / "m" / "settings.json").read_text(encoding="utf-8"))
    assert settings["missing"] == "drop" and settings["columns"] == "map.toml"
    assert sum(entry["n_dropped"] for entry in settings["dropped"]) == 2
    assert any("dropped 2 rows" in note for note in settings["notes"])
    assert main(["weights", str(tmp_path / "wide.csv"), "--treatment", "arm", "--missing", "drop",
                 "--out", str(tmp_path / "g")]) == 2  # fmt: skip


def test_run_on_a_long_format_export_reports_the_window_rule(
    tmp_path, primary_only_plan_text, small_cohort_csv, run_short
):
    """End to end: ``cit-bayes run --data PATIENTS --labs LABS`` on an Excel export with dates
    (of the suite's small cohort, whose compiled models the session shares); the results
    record the rule and the counts, and the report and the supplement print them."""
    wide = pd.read_csv(small_cohort_csv)
    patients, labs = _long_format(wide, seed=2)
    write_table(patients, tmp_path / "patients.xlsx")
    write_table(labs, tmp_path / "labs.xlsx")
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    plan = tmp_path / "plan.toml"
    plan.write_text(primary_only_plan_text, encoding="utf-8")
    out = tmp_path / "report"
    _, results = run_short(["--data", str(tmp_path / "patients.xlsx"), "--labs",
                            str(tmp_path / "labs.xlsx"), "--columns", str(tmp_path / "map.toml"),
                            "--plan", str(plan)], out)  # fmt: skip
    recorded = results["meta"]["data"]["labs"]
    assert recorded["source"] == "labs.xlsx" and recorded["window"] == 1
    assert recorded["taken"]["plt_day0"] == 120
    assert results["meta"]["data"]["fingerprint"] == validate_cohort(wide).fingerprint
    for name in ("report.html", "methods_supplement.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "laboratory file" in text and "within 1 day either side" in text, name
