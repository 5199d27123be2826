"""Validation of cohort files: every error of issue 4, in CSV and in a binary format (Parquet).

Reference values: the fixture ``tests/data/cohort/valid.csv`` (eight hand-made patients) and its
outcomes derived by hand from the paper's rule (PLT >= 100, rise >= 50, or >= 2 x baseline):

====  ===========  ======================================  ========  =====  =========
row   arm          counts day 0/3/7/14, recovery_day       response  ΔPLT   time, rec
====  ===========  ======================================  ========  =====  =========
1     rhTPO        55/62/95/130, 9                         1 (>=100) 75     9, 1
2     rhTPO        40/45/70/88, -                          1 (>=2x)  48     14, 0
3     hetrombopag  70/72/85/98, -                          0         28     14, 0
4     hetrombopag  62/80/115/140, 6                        1         78     6, 1
5     combination  30/41/82/-, -                           1 (day 7) NaN    7, 0 (last count)
6     combination  75/101/150/180, 3                       1         105    3, 1
7     rhIL-11      50/52/60/90, -                          0 (<2x)   40     14, 0
8     rhIL-11      60/-/80/-, 12                           1 (rec.)  NaN    12, 1
====  ===========  ======================================  ========  =====  =========

Each error test changes one or two cells, writes the table as CSV or Parquet, and checks that the
problem names the data row (1-based, header excluded) and the column, in the object and in its
text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cit_bayes.cohort import ARMS, BASELINE_COVARIATES, Cohort, read_cohort, validate_cohort
from cit_bayes.cohort.problems import MAX_PROBLEMS, Problem
from cit_bayes.exceptions import CohortError

FIXTURE = Path(__file__).parent / "data" / "cohort" / "valid.csv"


def base_frame() -> pd.DataFrame:
    """The fixture as the text a user typed (every cell a string, empty cells '')."""
    return pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as a statistics package would store them: numeric where every cell is a number."""
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        cells = frame[name].replace("", None)
        numbers = pd.to_numeric(cells, errors="coerce")
        if numbers.notna().sum() == cells.notna().sum():
            out[name] = numbers.astype(float)
        else:
            out[name] = cells.astype(object)
    return out


def write(frame: pd.DataFrame, folder: Path, fmt: str) -> Path:
    path = folder / f"cohort.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        typed(frame).to_parquet(path, index=False)
    else:  # pragma: no cover - guard for new parameters
        raise AssertionError(fmt)
    return path


@pytest.fixture(params=["csv", "parquet"])
def fmt(request) -> str:
    return request.param


def problems_of(frame, folder, fmt, **options) -> list[Problem]:
    with pytest.raises(CohortError) as info:
        read_cohort(write(frame, folder, fmt), **options)
    problems = info.value.problems
    assert problems, "a CohortError must carry its problems"
    assert all(isinstance(p, Problem) for p in problems)
    return problems


def assert_problem(problems, row, column, *fragments) -> Problem:
    matching = [p for p in problems if p.row == row and p.column == column]
    assert matching, f"no problem at row {row}, column {column!r}: {[str(p) for p in problems]}"
    text = str(matching[0])
    assert text.startswith("cohort."), text
    if row is not None:
        assert f"row {row}," in text, text
    assert f"column {column!r}" in text, text
    for fragment in fragments:
        assert fragment in text, text
    return matching[0]


# --------------------------------------------------------------------------------------------
# The valid fixture and its derived columns


def test_valid_fixture_derives_the_hand_calculated_outcomes(fmt, tmp_path):
    cohort = read_cohort(write(base_frame(), tmp_path, fmt))
    assert isinstance(cohort, Cohort)
    data = cohort.data
    assert data["patient_id"].tolist() == [f"P0{i}" for i in range(1, 9)]
    assert data["response"].tolist() == [1, 1, 0, 1, 1, 1, 0, 1]
    np.testing.assert_array_equal(
        data["delta_plt"].to_numpy(), [75, 48, 28, 78, np.nan, 105, 40, np.nan]
    )
    assert data["time_to_recovery"].tolist() == [9, 14, 14, 6, 7, 3, 14, 12]
    assert data["recovered"].tolist() == [1, 0, 0, 1, 0, 1, 0, 1]
    assert cohort.source == f"cohort.{fmt}"
    assert cohort.synthetic is False and cohort.response_rule == "any"
    assert cohort.dropped.empty
    assert any("censored at the last day" in note for note in cohort.notes)


def test_canonical_types(tmp_path):
    data = read_cohort(write(base_frame(), tmp_path, "csv")).data
    assert isinstance(data["arm"].dtype, pd.CategoricalDtype)
    assert list(data["arm"].cat.categories) == list(ARMS)
    assert data["patient_id"].map(type).eq(str).all()
    assert data["sex"].tolist()[:2] == ["M", "F"]
    assert data["age"].dtype == float and data["bmi"].dtype == float
    for name in ("ecog", "hepatic_metastasis", "targeted_therapy", "response", "recovered"):
        assert data[name].dtype == np.int64, name
    assert str(data["recovery_day"].dtype) == "Int64"
    assert data["recovery_day"].isna().tolist() == [
        False,
        True,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    assert data["plt_day14"].dtype == float
    assert data["synthetic"].eq(0).all()


def test_fingerprint_is_the_same_for_csv_and_parquet_and_changes_with_a_cell(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from_csv = read_cohort(write(base_frame(), tmp_path / "a", "csv"))
    from_parquet = read_cohort(write(base_frame(), tmp_path / "b", "parquet"))
    assert from_csv.fingerprint == from_parquet.fingerprint
    assert len(from_csv.fingerprint) == 64
    changed = base_frame()
    changed.loc[0, "bmi"] = "23.5"
    assert validate_cohort(changed).fingerprint != from_csv.fingerprint


# --------------------------------------------------------------------------------------------
# Every error named in the issue


def test_missing_required_column(fmt, tmp_path):
    frame = base_frame().drop(columns=["arm", "plt_day0"])
    problems = problems_of(frame, tmp_path, fmt)
    assert_problem(problems, None, "arm", "a required column named 'arm'", "(missing)")
    assert_problem(problems, None, "plt_day0", "baseline PLT")


def test_unknown_arm_lists_the_valid_ones(fmt, tmp_path):
    frame = base_frame()
    frame.loc[2, "arm"] = "eltrombopag"
    problem = assert_problem(problems_of(frame, tmp_path, fmt), 3, "arm", "'eltrombopag'")
    for arm in ARMS:
        assert arm in problem.expected


def test_arm_is_matched_case_insensitively(tmp_path):
    frame = base_frame()
    frame.loc[0, "arm"] = "  RHTPO "
    frame.loc[6, "arm"] = "rhil-11"
    cohort = read_cohort(write(frame, tmp_path, "csv"))
    assert cohort.data["arm"].tolist()[0] == "rhTPO" and cohort.data["arm"].tolist()[6] == "rhIL-11"
    assert any("arm label case" in note for note in cohort.notes)


def test_duplicate_patient_id(fmt, tmp_path):
    """A repeated identifier names both rows, never the identifier (a patient's)."""
    frame = base_frame()
    frame.loc[3, "patient_id"] = "P01"
    problem = assert_problem(
        problems_of(frame, tmp_path, fmt), 4, "patient_id", "holds the identifier of row 1"
    )
    assert problem.value is None and "P01" not in str(problem)


@pytest.mark.parametrize(
    ("spelled", "phrase"),
    [
        ("p01", "the identifier, up to case and spaces, of row 1"),
        ("p01  ", "the identifier, up to case and spaces, of row 1"),
        (" P01 ", "the identifier of row 1"),  # surrounding spaces are never part of it
    ],
)
def test_identifiers_differing_only_in_case_or_spaces_are_one_patient(
    fmt, tmp_path, spelled, phrase
):
    """``P01`` and ``p01`` are one patient typed twice, not two patients: an error naming both
    rows (the identifier is never shown)."""
    frame = base_frame()
    frame.loc[5, "patient_id"] = spelled
    problems = problems_of(frame, tmp_path, fmt)
    assert len(problems) == 1
    problem = assert_problem(problems, 6, "patient_id", phrase, "case and surrounding spaces")
    assert problem.value is None
    assert "p01" not in str(problem).lower()


def test_the_problems_csv_never_holds_an_identifier(tmp_path):
    from cit_bayes.cohort.problems import write_problems

    frame = base_frame()
    frame.loc[3, "patient_id"] = "P01"
    frame.loc[4, "patient_id"] = "p02"
    with pytest.raises(CohortError) as info:
        read_cohort(write(frame, tmp_path, "csv"))
    path = write_problems(info.value.all_problems, tmp_path / "problems.csv")
    rows = pd.read_csv(path, keep_default_na=False)
    assert rows["row"].tolist() == [4, 5]
    assert (rows["value"] == "").all()
    assert "p0" not in path.read_text().lower() and "p0" not in str(info.value).lower()


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("plt_day7", "abc", "non-numeric"),
        ("plt_day14", "-5", "negative"),
        ("plt_day14", "2500", "implausible"),
        ("plt_day3", "12x", "non-numeric"),
    ],
)
def test_bad_platelet_counts(fmt, tmp_path, column, value, why):
    frame = base_frame()
    frame.loc[1, column] = value
    assert_problem(problems_of(frame, tmp_path, fmt), 2, column, "from 0 to 2000", "x10^9/L")


def test_baseline_count_of_100_or_more_contradicts_cit(fmt, tmp_path):
    frame = base_frame()
    frame.loc[4, "plt_day0"] = "120"
    assert_problem(
        problems_of(frame, tmp_path, fmt), 5, "plt_day0", "'120'", "thrombocytopenia", "< 100"
    )


@pytest.mark.parametrize("value", ["9.5", "0", "15", "x"])
def test_recovery_day_not_an_integer_in_1_to_14(fmt, tmp_path, value):
    frame = base_frame()
    frame.loc[0, "recovery_day"] = value
    assert_problem(problems_of(frame, tmp_path, fmt), 1, "recovery_day", "whole number", "1 to 14")


def test_recovery_day_contradicting_the_counts(fmt, tmp_path):
    frame = base_frame()
    frame.loc[0, "recovery_day"] = ""  # day-14 count 130 >= 100 but no recovery recorded
    frame.loc[3, "recovery_day"] = "9"  # day-7 count 115 >= 100, so recovery came by day 7
    frame.loc[5, "recovery_day"] = "7"  # day-3 count 101: day 7 is not the *first* such day
    frame.loc[6, "recovery_day"] = "14"  # day-14 count 90 < 100 on the recovery day itself
    problems = problems_of(frame, tmp_path, fmt)
    assert_problem(problems, 1, "recovery_day", "a day <= 14", "plt_day14 is already >= 100")
    assert_problem(problems, 4, "recovery_day", "'9'", "a day <= 7", "plt_day7 is already")
    assert_problem(problems, 6, "recovery_day", "'7'", "a day <= 3", "plt_day3 is already")
    assert_problem(problems, 7, "recovery_day", "'14'", "plt_day14 is below 100 on day 14")
    # the counts of other cells are never echoed (row-level values): only their columns
    for count in ("130", "115", "101", "90"):
        assert not any(count in problem.expected for problem in problems), count


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("age", "150", "from 18 to 100"),
        ("age", "12", "from 18 to 100"),
        ("bmi", "5", "from 10 to 70"),
        ("ecog", "5", "from 0 to 4"),
        ("ecog", "1.5", "whole number"),
        ("stage", "V", "I, II, III or IV"),
        ("sex", "X", "M or F"),
        ("tumor_type", "brain", "gastrointestinal"),
        ("bone_metastasis", "2", "0 or 1"),
    ],
)
def test_out_of_range_baseline_values(fmt, tmp_path, column, value, fragment):
    frame = base_frame()
    frame.loc[6, column] = value
    assert_problem(problems_of(frame, tmp_path, fmt), 7, column, repr(value), fragment)


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "cohort.csv"
    empty.write_bytes(b"")
    with pytest.raises(CohortError, match="cohort.csv is empty"):
        read_cohort(empty)
    base_frame().iloc[:0].to_csv(empty, index=False)
    with pytest.raises(CohortError, match="is empty") as info:
        read_cohort(empty)
    assert "one row per patient" in str(info.value.problems[0])


def test_header_only_parquet(tmp_path):
    path = tmp_path / "cohort.parquet"
    typed(base_frame()).iloc[:0].to_parquet(path)
    with pytest.raises(CohortError, match="is empty"):
        read_cohort(path)


def test_fewer_than_two_arms(fmt, tmp_path):
    frame = base_frame()
    frame["arm"] = "combination"
    problems = problems_of(frame, tmp_path, fmt)
    assert_problem(problems, None, "arm", "at least two treatment arms", "found 1: combination")


def test_fewer_than_two_arms_after_dropping(tmp_path):
    frame = base_frame()
    frame.loc[2:, "age"] = ""  # only the two rhTPO rows keep their age
    with pytest.raises(CohortError, match="fewer than two arms") as info:
        read_cohort(write(frame, tmp_path, "csv"), missing="drop")
    assert "after dropping 6 rows" in str(info.value.problems[0])


def test_missing_covariates_are_an_error_listing_the_rows(fmt, tmp_path):
    frame = base_frame()
    frame.loc[1, "age"] = ""
    frame.loc[4, "stage"] = ""
    frame.loc[6, "plt_day0"] = ""
    problems = problems_of(frame, tmp_path, fmt)
    assert_problem(problems, 2, "age", "a value", "--missing drop")
    assert_problem(problems, 5, "stage", "a value")
    assert_problem(problems, 7, "plt_day0", "a value")
    assert len(problems) == 3


def test_missing_drop_drops_and_counts_rows_per_arm(fmt, tmp_path):
    frame = base_frame()
    frame.loc[1, "age"] = "NA"
    frame.loc[4, "stage"] = ""
    frame.loc[5, "bmi"] = ""
    frame.loc[6, "plt_day0"] = ""
    cohort = read_cohort(write(frame, tmp_path, fmt), missing="drop")
    assert cohort.data["patient_id"].tolist() == ["P01", "P03", "P04", "P08"]
    expected = pd.DataFrame(
        {
            "arm": ["rhTPO", "combination", "rhIL-11"],
            "reason": [
                "missing baseline covariate",
                "missing baseline covariate",
                "missing plt_day0",
            ],
            "n_dropped": [1, 2, 1],
        }
    )
    pd.testing.assert_frame_equal(cohort.dropped, expected)
    assert list(cohort.data["arm"].cat.categories) == ["rhTPO", "hetrombopag", "rhIL-11"]
    assert cohort.n_dropped_by_arm().to_dict() == {
        "rhTPO": 1,
        "hetrombopag": 0,
        "combination": 2,
        "rhIL-11": 1,
    }
    summary = cohort.summary().set_index("arm")
    assert summary.loc["all", "n_dropped"] == 4 and summary.loc["all", "n"] == 4
    assert any("dropped 4 of 8 rows" in note for note in cohort.notes)


def test_undeterminable_response_is_an_error_or_dropped(fmt, tmp_path):
    frame = base_frame()
    for column in ("plt_day3", "plt_day7", "plt_day14"):
        frame.loc[2, column] = ""  # row 3: no post-baseline count, no recovery_day
    problems = problems_of(frame, tmp_path, fmt)
    assert_problem(problems, 3, "plt_day3/plt_day7/plt_day14", "never assumed to be a non-response")
    cohort = read_cohort(write(frame, tmp_path, fmt), missing="drop")
    assert cohort.dropped.to_dict("records") == [
        {"arm": "hetrombopag", "reason": "response not determinable", "n_dropped": 1}
    ]


def test_rule_day14_needs_the_day14_count(fmt, tmp_path):
    path = write(base_frame(), tmp_path, fmt)
    problems = problems_of(base_frame(), tmp_path, fmt, response_rule="day14")
    assert_problem(problems, 5, "plt_day14", "a day-14 count")
    assert_problem(problems, 8, "plt_day14", "a day-14 count")
    cohort = read_cohort(path, response_rule="day14", missing="drop")
    # rows 1-4, 6, 7 by hand at day 14: 130 (>=100), 88 (>= 2x40), 98 (no), 140, 180, 90 (no)
    assert cohort.data["response"].tolist() == [1, 1, 0, 1, 1, 0]
    assert cohort.response_rule == "day14"
    assert cohort.dropped["n_dropped"].sum() == 2


def test_non_numeric_and_binary_garbage_in_a_file_is_a_cohort_error(tmp_path):
    binary = tmp_path / "cohort.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CohortError, match="cannot be read as a table") as info:
        read_cohort(binary)
    assert "binary" in str(info.value)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("patient_id,arm\nP1,Müller\n".encode("latin-1"))
    with pytest.raises(CohortError, match="UTF-8"):
        read_cohort(latin)
    fake = tmp_path / "cohort.parquet"
    fake.write_bytes(b"patient_id,arm\nP1,rhTPO\n")
    with pytest.raises(CohortError, match="a Parquet file"):
        read_cohort(fake)


def test_mixed_synthetic_flag_is_an_error(fmt, tmp_path):
    frame = base_frame()
    frame["synthetic"] = ["1"] * 7 + ["0"]
    problems = problems_of(frame, tmp_path, fmt)
    assert_problem(problems, None, "synthetic", "the same flag on every row", "7 rows with 1")
    frame["synthetic"] = "1"
    cohort = read_cohort(write(frame, tmp_path, fmt))
    assert cohort.synthetic is True and cohort.data["synthetic"].eq(1).all()


def test_all_problems_are_reported_together_sorted_by_row(tmp_path):
    frame = base_frame()
    frame.loc[6, "age"] = "150"
    frame.loc[0, "bmi"] = "abc"
    frame.loc[3, "arm"] = "TPO"
    problems = problems_of(frame, tmp_path, "csv")
    assert [(p.row, p.column) for p in problems] == [(1, "bmi"), (4, "arm"), (7, "age")]


def test_problems_are_capped_and_the_total_is_stated(tmp_path):
    frame = pd.concat([base_frame()] * 40, ignore_index=True)  # 320 rows
    frame["patient_id"] = [f"Q{i}" for i in range(len(frame))]
    frame["age"] = "old"
    with pytest.raises(CohortError) as info:
        read_cohort(write(frame, tmp_path, "csv"))
    assert len(info.value.problems) == MAX_PROBLEMS
    assert len(info.value.all_problems) == 320  # every one, for --problems FILE
    assert str(info.value).endswith("320 problems")


def test_input_response_column_is_cross_checked_not_trusted(tmp_path):
    frame = base_frame()
    frame["response"] = ["1", "0", "0", "1", "1", "1", "1", "1"]  # rows 2 and 7 disagree
    cohort = read_cohort(write(frame, tmp_path, "csv"))
    assert cohort.data["response"].tolist() == [1, 1, 0, 1, 1, 1, 0, 1]
    assert any(
        "disagrees with the derived response" in n and "for 2 of 8" in n for n in cohort.notes
    )


def test_extra_columns_are_ignored_with_a_note_and_safety_columns_may_be_absent(tmp_path):
    frame = base_frame().drop(columns=["ae_fatigue", "ae_headache"])
    frame["hospital_ward"] = "B"
    cohort = read_cohort(write(frame, tmp_path, "csv"))
    assert "hospital_ward" not in cohort.data.columns
    assert cohort.data["ae_fatigue"].isna().all()
    assert any("'hospital_ward'" in note for note in cohort.notes)
    assert any("ae_fatigue, ae_headache" in note for note in cohort.notes)


def test_validate_cohort_in_memory_names_its_source():
    frame = base_frame()
    frame.loc[0, "ecog"] = "7"
    with pytest.raises(CohortError) as info:
        validate_cohort(frame, source="reconstructed cohort")
    assert str(info.value.problems[0]).startswith("reconstructed cohort, row 1, column 'ecog'")


def test_bad_options_are_named_errors():
    with pytest.raises(CohortError, match="missing must be one of"):
        validate_cohort(base_frame(), missing="guess")
    with pytest.raises(CohortError, match="response_rule must be one of"):
        validate_cohort(base_frame(), response_rule="day7")
    with pytest.raises(CohortError, match="expected a pandas DataFrame"):
        validate_cohort([1, 2, 3])


def test_covariates_are_ready_for_a_propensity_model():
    cohort = validate_cohort(base_frame())
    covariates = cohort.covariates()
    assert tuple(covariates.columns) == (*BASELINE_COVARIATES, "log_plt_day0")
    np.testing.assert_allclose(
        covariates["log_plt_day0"], np.log(cohort.data["plt_day0"].astype(float)), rtol=1e-12
    )
    assert list(covariates["stage"].cat.categories) == ["I", "II", "III", "IV"]
    assert covariates["stage"].cat.ordered
    assert list(covariates["sex"].cat.categories) == ["M", "F"]
    assert list(covariates["tumor_type"].cat.categories)[0] == "gastrointestinal"
    assert covariates["tumor_type"].notna().all()
    assert covariates["ecog"].tolist() == [1, 0, 1, 1, 1, 2, 1, 1]


def test_summary_counts_and_shares_per_arm():
    summary = validate_cohort(base_frame()).summary().set_index("arm")
    assert list(summary.index) == [*ARMS, "all"]
    assert summary["n"].tolist() == [2, 2, 2, 2, 8]
    assert summary["responders"].tolist() == [2, 1, 2, 1, 6]
    assert summary.loc["all", "response_rate"] == pytest.approx(6 / 8)
    assert summary["recovered"].tolist() == [1, 1, 1, 1, 4]
    assert summary.loc["combination", "missing_plt_day14"] == 1
    assert summary.loc["rhIL-11", "missing_plt_day3"] == 1
    # medians by hand: recovered days 9, 6, 3, 12 -> 7.5; ΔPLT 75, 48, 28, 78, 105, 40 -> 61.5
    # medians of whole numbers: tolerance only for how the library averages the middle pair
    assert summary.loc["all", "median_recovery_day"] == pytest.approx(7.5, abs=1e-9)
    assert summary.loc["all", "median_delta_plt"] == pytest.approx(61.5, abs=1e-9)
    assert "patient_id" not in summary.columns


def test_a_missing_column_does_not_hide_the_cell_problems_of_the_columns_present():
    """Reference: the issue asks that all problems be reported together."""
    frame = pd.DataFrame(
        {"patient_id": ["a", "b"], "arm": ["rhTPO", "placebo"], "plt_day0": ["50", "x"]}
    )
    with pytest.raises(CohortError, match="missing required column") as caught:
        validate_cohort(frame, source="partial.csv")
    text = [str(p) for p in caught.value.problems]
    assert any("column 'sex'" in t and "required column" in t for t in text)
    assert any("row 2, column 'arm': value 'placebo'" in t for t in text)
    assert any("row 2, column 'plt_day0': value 'x'" in t for t in text)


def test_decimal_cells_are_read_and_a_signalling_nan_is_a_missing_value():
    """Issue 16, item 7: a Decimal('sNaN') cell (Python API) crashed pandas' missing check."""
    import decimal

    from cit_bayes.simulate import simulate_cohort

    frame = simulate_cohort(30, seed=1).data.astype(object)
    frame.loc[2, "age"] = decimal.Decimal("61.5")
    assert validate_cohort(frame).data["age"][2] == pytest.approx(61.5, rel=1e-12)
    frame.loc[2, "age"] = decimal.Decimal("sNaN")
    with pytest.raises(CohortError) as error:
        validate_cohort(frame)
    assert [(p.row, p.column) for p in error.value.problems] == [(3, "age")]
    assert validate_cohort(frame, missing="drop").n == 29
