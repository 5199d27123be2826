"""Readers that meet real exports (issue 16, item 4): SPSS value labels with a mapping in codes
or in labels, labelled ordinal codes, mapping keys that ignore case, spaces and punctuation,
qualified laboratory values, and problems grouped by column with the full list in a file.

Reference values: every labelled or recoded file must give the cohort (and fingerprint) of the
plain file it was made from; counts of recodes and problems are those built into the file.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from cit_bayes.cli import main
from cit_bayes.cohort import read_cohort, validate_cohort
from cit_bayes.cohort.io import write_table
from cit_bayes.cohort.mapping import load_mapping
from cit_bayes.exceptions import CohortError
from cit_bayes.simulate import simulate_cohort

ARM_CODES = {"rhTPO": 1, "hetrombopag": 2, "combination": 3, "rhIL-11": 4}
ARM_LABELS = {1: "TPO", 2: "HET", 3: "HET + TPO", 4: "IL-11"}
ECOG_LABELS = {0: "Fully active", 1: "Restricted", 2: "Ambulatory", 3: "Self-care", 4: "Disabled"}
SEX_LABELS = {1: "Male", 2: "Female"}


@pytest.fixture(scope="module")
def plain():
    return simulate_cohort(90, seed=12, scenario="paper-like").data


def _labelled(plain: pd.DataFrame) -> pd.DataFrame:
    """The cohort as SPSS holds it: arm, sex and ECOG as numeric codes with value labels."""
    frame = plain.copy()
    frame["arm"] = frame["arm"].astype(str).map(ARM_CODES).astype(float)
    frame["sex"] = frame["sex"].map({"M": 1, "F": 2}).astype(float)
    frame["ecog"] = frame["ecog"].astype(float)
    return frame


def _write_sav(plain, path):
    labels = {"arm": ARM_LABELS, "sex": SEX_LABELS, "ecog": ECOG_LABELS}
    return write_table(_labelled(plain), path, value_labels=labels)


@pytest.mark.parametrize(
    "values",
    [
        {"1": "rhTPO", "2": "hetrombopag", "3": "combination", "4": "rhIL-11"},  # codes
        {"tpo": "rhTPO", "HET": "hetrombopag", "het+tpo": "combination", "IL 11": "rhIL-11"},
    ],
    ids=["mapping in codes", "mapping in labels, spaces and punctuation aside"],
)
def test_spss_codes_or_labels_give_the_plain_cohort(tmp_path, plain, values):
    path = _write_sav(plain, tmp_path / "cohort.sav")
    cohort = read_cohort(path, {"values": {"arm": values}})
    expected = validate_cohort(plain)
    pd.testing.assert_frame_equal(cohort.data, expected.data)
    assert cohort.fingerprint == expected.fingerprint
    # ECOG's labels ("Fully active") are descriptions of numeric codes: the codes are read
    assert any("value labels" in note and "ecog" in note for note in cohort.notes)


def test_labels_can_be_turned_off(tmp_path, plain):
    path = _write_sav(plain, tmp_path / "cohort.sav")
    codes = {"1": "rhTPO", "2": "hetrombopag", "3": "combination", "4": "rhIL-11"}
    mapping = {"values": {"arm": codes, "sex": {"1": "M", "2": "F"}},
               "read": {"value_labels": False}}  # fmt: skip
    cohort = read_cohort(path, mapping)
    assert cohort.fingerprint == validate_cohort(plain).fingerprint
    by_label = {"TPO": "rhTPO", "HET": "hetrombopag", "HET+TPO": "combination", "IL-11": "rhIL-11"}
    with pytest.raises(CohortError) as error:  # labels off: a mapping in labels matches nothing
        read_cohort(path, {"values": {"arm": by_label}, "read": {"value_labels": False}})
    assert {problem.column for problem in error.value.problems} >= {"arm", "sex"}


def test_labelled_ordinal_text_is_read_by_its_code(plain):
    frame = plain.copy().astype({"ecog": object})
    words = {0: "0 Fully active", 1: "1 - Restricted", 2: "2: Ambulatory", 3: "3 Self-care"}
    frame["ecog"] = [words.get(int(v), v) for v in plain["ecog"]]
    cohort = validate_cohort(frame)
    np.testing.assert_array_equal(cohort.data["ecog"], plain["ecog"])
    n_text = sum(int(v) in words for v in plain["ecog"])
    assert f"ecog: label text after the code ignored ({n_text} cells)" in cohort.notes
    frame.loc[0, "ecog"] = "Fully active"  # a label without its code: not guessed
    with pytest.raises(CohortError, match="1 problem"):
        validate_cohort(frame)


def test_arm_labels_and_mapping_keys_ignore_case_spaces_and_punctuation(plain):
    frame = plain.copy()
    frame["arm"] = (
        frame["arm"]
        .astype(str)
        .map({"combination": "Hetrombopag + rhTPO"})
        .fillna(frame["arm"].astype(str))
    )
    cohort = validate_cohort(
        frame, columns={"values": {"arm": {"Hetrombopag+rhTPO": "combination"}}}
    )
    assert cohort.n_by_arm()["combination"] == int((plain["arm"] == "combination").sum())
    with pytest.raises(CohortError, match="both map"):  # two keys that read alike
        load_mapping({"values": {"arm": {"HET-TPO": "combination", "het tpo": "rhTPO"}}})
    # numbers keep their decimal point: "1.5" and "15" are different keys
    mapping = load_mapping({"values": {"ecog": {"1.5": 1, "15": 2}}})
    assert mapping.recode("ecog", "1.5") == (1, True) and mapping.recode("ecog", 15) == (2, True)


def test_qualified_counts_in_a_wide_file_are_read_at_their_limit(plain):
    frame = plain.copy().astype({"plt_day3": object, "plt_day14": object})
    frame.loc[0, "plt_day3"] = "<20"
    expected = plain.copy()
    expected.loc[0, "plt_day3"] = 20
    cohort = validate_cohort(frame)
    assert cohort.data.loc[0, "plt_day3"] == 20
    assert "plt_day3: qualified count read at its limit (<20 as 20, >1000 as 1000) (1 cell)" in (
        cohort.notes
    )
    assert cohort.fingerprint == validate_cohort(expected).fingerprint
    frame.loc[1, "plt_day14"] = "<150"  # below 150 may or may not be a recovery
    with pytest.raises(CohortError) as error:
        validate_cohort(frame)
    assert "settles PLT >= 100" in str(error.value.problems[0])


@pytest.mark.parametrize("cell", ["<20", "< 20", "<=30", "<5"])
def test_a_qualified_baseline_count_is_an_error(plain, cell):
    """Only the follow-up counts may be qualified: a baseline known only as a bound is no
    value of the covariate log(plt_day0) nor a reference for the rise, so it is refused (not
    read at its limit), naming the row and the column; a wide file and a laboratory file
    alike."""
    frame = plain.copy().astype({"plt_day0": object})
    frame.loc[2, "plt_day0"] = cell
    with pytest.raises(CohortError) as error:
        validate_cohort(frame)
    (problem,) = error.value.problems
    assert (problem.row, problem.column) == (3, "plt_day0")
    assert "a bound such as <20 cannot be a covariate" in problem.expected
    with pytest.raises(CohortError):
        validate_cohort(frame, missing="drop")  # an invalid value, never dropped
    patients = plain.loc[:3, ["patient_id", "arm"]].assign(arm=["rhTPO", "rhIL-11"] * 2)
    labs = pd.DataFrame(
        {
            "patient_id": np.repeat(patients["patient_id"].to_numpy(), 2),
            "day": [0, 14] * 4,
            "platelets": [40, 120, cell, 130, 50, 90, 60, 150],
        }
    )
    with pytest.raises(CohortError) as error:
        validate_cohort(patients, labs=labs, used_covariates=(), arms=("rhTPO", "rhIL-11"))
    assert [(p.row, p.column) for p in error.value.problems] == [(2, "plt_day0")]


def test_problems_are_grouped_by_column_and_listed_in_full_in_a_file(tmp_path, plain, capsys):
    frame = plain.copy().astype({"age": object, "bmi": object})
    frame.loc[:59, "age"] = "old"  # 60 problems in age
    frame.loc[:40, "bmi"] = 500  # 41 in bmi
    frame.loc[3, "arm"] = "placebo"
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    listing = tmp_path / "problems.csv"
    assert main(["validate", str(path), "--problems", str(listing)]) == 2
    err = capsys.readouterr().err
    assert "102 problems" in err
    assert "column 'age': 60 problems" in err and "column 'bmi': 41 problems" in err
    assert "column 'arm': 1 problem" in err
    assert len(err) < 5000 and err.count("\n") < 40
    with listing.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 102 and set(rows[0]) == {"file", "row", "column", "value", "expected"}
    assert sorted({row["column"] for row in rows}) == ["age", "arm", "bmi"]
    assert f"wrote the 102 problems to {listing.name}" in err
    # an existing file is never overwritten
    assert main(["validate", str(path), "--problems", str(listing)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert len(listing.read_text(encoding="utf-8").splitlines()) == 103


def test_full_width_digits_are_read_with_a_note(plain):
    frame = plain.copy().astype({"age": object})
    frame.loc[:2, "age"] = ["５０", "６１", "７２.５"]
    cohort = validate_cohort(frame)
    assert cohort.data.loc[:2, "age"].tolist() == [50.0, 61.0, 72.5]
    assert "age: digits other than ASCII (full-width, such as ５０) read as digits (3 cells)" in (
        cohort.notes
    )


def test_qualified_counts_never_decide_what_they_leave_open(plain):
    """'<100' read at its limit would be a recovery; '<20' with a baseline of 8 may or may not
    be a doubling: both are errors naming the cell (a review finding)."""
    frame = plain.copy().astype({name: object for name in ("plt_day0", "plt_day3", "plt_day7",
                                                           "plt_day14")})  # fmt: skip
    censored = int(np.flatnonzero(plain["recovery_day"].isna().to_numpy())[0])
    frame.loc[censored, "plt_day3"] = "<100"
    with pytest.raises(CohortError) as error:
        validate_cohort(frame)
    assert error.value.problems[0].column == "plt_day3"
    frame.loc[censored, ["plt_day0", "plt_day3", "plt_day7", "plt_day14"]] = [
        8,
        "<20",
        "<20",
        "<20",
    ]
    with pytest.raises(CohortError) as error:
        validate_cohort(frame)
    assert "depends on where below its limit" in str(error.value.problems[0])
    # with a baseline of 30 a day-14 count of 65 is a doubling whatever '<20' hides
    frame.loc[censored, ["plt_day0", "plt_day14"]] = [30, 65]
    cohort = validate_cohort(frame)
    assert cohort.data.loc[censored, "response"] == 1


def test_only_ecog_reads_a_label_after_its_code(plain):
    frame = plain.copy().astype({"ecog": object})
    for text in ("1 - 2", "2 (or 3)"):
        frame.loc[0, "ecog"] = text
        with pytest.raises(CohortError):
            validate_cohort(frame)


def test_a_labelled_sentinel_in_a_measured_number_is_refused(tmp_path, plain):
    """SPSS's 999 = 'not done' on a count is a label to refuse, not a count of 999."""
    frame = _labelled(plain)
    frame.loc[0, "plt_day7"] = 999.0
    labels = {"arm": ARM_LABELS, "sex": SEX_LABELS, "ecog": ECOG_LABELS,
              "plt_day7": {999: "not done"}}  # fmt: skip
    path = write_table(frame, tmp_path / "cohort.sav", value_labels=labels)
    codes = {"1": "rhTPO", "2": "hetrombopag", "3": "combination", "4": "rhIL-11"}
    with pytest.raises(CohortError) as error:
        read_cohort(path, {"values": {"arm": codes}})
    (problem,) = error.value.problems
    assert (problem.row, problem.column, problem.value) == (1, "plt_day7", "'not done'")


def test_a_given_interval_start_must_agree_with_the_planned_counts(plain):
    frame = plain.copy()
    censored = int(np.flatnonzero(plain["recovery_day"].isna().to_numpy())[0])
    frame["recovery_after"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame.loc[censored, "recovery_after"] = 3  # but the day-7 and day-14 counts are below 100
    with pytest.raises(CohortError) as error:
        validate_cohort(frame)
    assert {p.column for p in error.value.problems} == {"recovery_after"}
    assert "shows no recovery by day 14" in str(error.value.problems[-1])
