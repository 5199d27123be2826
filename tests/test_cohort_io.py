"""Readers by extension, column mappings and value labels.

Reference values: the hand-made fixture ``tests/data/cohort/valid.csv`` (see
``tests/test_cohort_validate.py`` for its hand-derived outcomes: responses 1,1,0,1,1,1,0,1). Each
test writes the same eight patients in another format or layout and checks that the reader gives
the same cohort (same fingerprint, same derived response), or the named error with row and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cit_bayes.cohort import ARMS, read_cohort, validate_cohort
from cit_bayes.cohort.io import read_table, write_table
from cit_bayes.cohort.mapping import load_mapping
from cit_bayes.exceptions import CohortError

FIXTURE = Path(__file__).parent / "data" / "cohort" / "valid.csv"
RESPONSES = [1, 1, 0, 1, 1, 1, 0, 1]


def text_frame() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)


def numeric_frame() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE)
    for name in ("sex", "tumor_type", "stage", "arm", "patient_id"):
        frame[name] = frame[name].astype(object)
    return frame


@pytest.fixture(scope="module")
def reference_fingerprint() -> str:
    return read_cohort(FIXTURE).fingerprint


@pytest.mark.parametrize("extension", [".csv", ".xlsx", ".sav", ".dta", ".parquet"])
def test_every_format_gives_the_same_cohort(tmp_path, extension, reference_fingerprint):
    path = write_table(numeric_frame(), tmp_path / f"cohort{extension}")
    cohort = read_cohort(path)
    assert cohort.fingerprint == reference_fingerprint
    assert cohort.data["response"].tolist() == RESPONSES
    assert cohort.source == f"cohort{extension}"


def test_semicolon_csv_with_bom_and_decimal_comma(tmp_path, reference_fingerprint):
    text = FIXTURE.read_text().replace(",", ";").replace("23.4", "23,4").replace("21.0", "21,0")
    path = tmp_path / "cohort.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    cohort = read_cohort(path)
    assert cohort.data["bmi"].tolist()[:2] == [23.4, 21.0]
    assert cohort.fingerprint == reference_fingerprint
    assert any("decimal comma" in note and "(2 cells)" in note for note in cohort.notes)


def test_a_thousands_separator_in_a_decimal_comma_file_is_refused(tmp_path):
    """In a ';'-delimited file with decimal commas, ``1.193`` may be 1193 (a thousands
    separator) or 1.193: refused, naming the row and the column, not the value; ``23.4`` (one
    or two decimals) is still read as a number."""
    text = FIXTURE.read_text().replace(",", ";").replace("23.4", "23,4")
    lines = text.splitlines()
    header = lines[0].split(";")
    cells = lines[3].split(";")  # data row 3
    cells[header.index("plt_day14")] = "1.193"
    lines[3] = ";".join(cells)
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CohortError) as info:
        read_cohort(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (3, "plt_day14", None)
    assert "thousands separator" in problem.expected
    assert "1.193" not in str(problem) + str(info.value)
    cells[header.index("plt_day14")] = "98.5"
    lines[3] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_cohort(path).data.loc[2, "plt_day14"] == pytest.approx(98.5, abs=1e-12)
    # a ';' file that writes its decimals with points: 1.193 and 22.857 are decimals there
    points = FIXTURE.read_text().replace(",", ";").replace("23.4", "22.857")
    lines = points.splitlines()
    cells = lines[3].split(";")
    cells[header.index("plt_day14")] = "98.125"
    lines[3] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = read_cohort(path).data
    assert data.loc[2, "plt_day14"] == pytest.approx(98.125, abs=1e-12)
    assert data["bmi"].iloc[0] == pytest.approx(22.857, abs=1e-12)


@pytest.mark.parametrize(("codec", "bom"), [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
@pytest.mark.parametrize("extension", [".csv", ".tsv"])
def test_a_utf16_export_is_read(tmp_path, reference_fingerprint, codec, bom, extension):
    """Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-delimited. Read as
    text (noted), giving the cohort of the UTF-8 file; one that does not decode is named as
    UTF-16, not as binary data."""
    text = FIXTURE.read_text().replace(",", "\t").replace("\n", "\r\n")
    path = tmp_path / f"cohort{extension}"
    path.write_bytes(bom + text.encode(codec))
    cohort = read_cohort(path)
    assert cohort.fingerprint == reference_fingerprint
    assert cohort.data["response"].tolist() == RESPONSES
    assert "read as UTF-16 text (a byte-order mark at its start)" in cohort.notes
    path.write_bytes(bom + text.encode(codec)[:-1])  # an odd number of bytes: cut short
    with pytest.raises(CohortError, match="UTF-16 text .*save it as CSV UTF-8"):
        read_cohort(path)


def test_decimal_comma_is_not_read_in_a_comma_separated_file(tmp_path):
    frame = text_frame()
    frame.loc[0, "bmi"] = "23,4"
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)  # quoted "23,4" in a comma-separated file: ambiguous
    with pytest.raises(CohortError) as info:
        read_cohort(path)
    assert str(info.value.problems[0]).startswith("cohort.csv, row 1, column 'bmi': value '23,4'")


def test_tab_separated_and_case_and_spaces_in_headers(tmp_path, reference_fingerprint):
    frame = text_frame()
    frame.columns = [f"  {name.upper()} " for name in frame.columns]
    path = tmp_path / "cohort.tsv"
    frame.to_csv(path, index=False, sep="\t")
    assert read_cohort(path).fingerprint == reference_fingerprint


def test_blank_rows_are_skipped_but_keep_their_row_numbers(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    lines[3] = lines[3].replace(",70,25.1,", ",170,25.1,")  # data row 3: age 170
    lines.insert(2, ",,,")  # a blank data row 2
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join(lines) + "\n\n\n")
    with pytest.raises(CohortError) as info:
        read_cohort(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (4, "age")  # the blank line counts as row 2


def test_duplicate_ids_name_the_users_rows_across_blank_rows(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    lines[5] = lines[5].replace("P05,", "P01,")  # data row 5 repeats P01 (row 1)
    lines.insert(1, "")  # a blank first data row: P01 is now on row 2, the copy on row 6
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CohortError) as info:
        read_cohort(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (6, "patient_id")
    assert "holds the identifier of row 2" in str(problem)


def test_rows_longer_than_the_header_are_named(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    lines[2] += ",surplus"
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CohortError, match="longer than its header") as info:
        read_cohort(path)
    assert info.value.problems[0].row == 2


def test_unbalanced_quotes_are_a_cohort_error_naming_the_row(tmp_path):
    path = tmp_path / "cohort.csv"
    for text, row in [('patient_id,arm\n"P1,rhTPO\nP2,"rh"TPO\n', 1),
                      ('patient_id,arm\nP0,rhTPO\n\nP1,"rh"TPO\nP2,rhTPO\n', 3)]:  # fmt: skip
        path.write_text(text)
        with pytest.raises(CohortError) as error:
            read_cohort(path)
        assert error.value.problems[0].row == row  # the blank row keeps its number
        assert f"data row {row} (from line {row + 1} of the file)" in str(error.value)
    path.write_text('"patient_id,arm\nP0,rhTPO\nP1,rhTPO\nP2,rhTPO\n')
    with pytest.raises(CohortError, match=r"a quote in the header \(from line 1 of the file\)"):
        read_cohort(path)


def test_unknown_extension_missing_file_and_xls(tmp_path):
    with pytest.raises(CohortError, match=r"one of \.csv"):
        read_cohort(tmp_path / "cohort.json")
    with pytest.raises(CohortError, match="save it as .xlsx"):
        read_cohort(tmp_path / "cohort.xls")
    with pytest.raises(CohortError, match="not found"):
        read_cohort(tmp_path / "absent.csv")


@pytest.mark.parametrize("extension", [".xlsx", ".sav", ".dta"])
def test_corrupt_binary_files_are_cohort_errors(tmp_path, extension):
    path = tmp_path / f"cohort{extension}"
    path.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(CohortError, match="cannot be read as a table"):
        read_cohort(path)


def test_a_corrupt_zip_is_named_in_a_short_printable_message(tmp_path, capsys):
    """Issue 16, item 7: a workbook whose zip directory is damaged printed 62 KB of raw bytes."""
    import zipfile

    from cit_bayes.cli import main

    with zipfile.ZipFile(tmp_path / "ok.xlsx", "w") as archive:
        archive.writestr("[Content_Types].xml", bytes(range(256)) * 300)
    data = bytearray((tmp_path / "ok.xlsx").read_bytes())
    data[40:200] = bytes(range(160))  # damage the member's bytes
    (tmp_path / "bad.xlsx").write_bytes(bytes(data))
    assert main(["validate", str(tmp_path / "bad.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "cannot be read as a table" in err and len(err) < 1000
    assert all(c.isprintable() or c == "\n" for c in err)


def test_excel_errors_name_the_data_row_and_column(tmp_path):
    frame = numeric_frame()
    frame.loc[4, "ecog"] = 9
    path = write_table(frame, tmp_path / "cohort.xlsx")
    with pytest.raises(CohortError) as info:
        read_cohort(path)
    assert str(info.value.problems[0]).startswith("cohort.xlsx, row 5, column 'ecog': value '9'")


def test_excel_sheet_from_the_mapping(tmp_path, reference_fingerprint):
    path = tmp_path / "cohort.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="About", index=False)
        numeric_frame().to_excel(writer, sheet_name="Patients", index=False)
    with pytest.raises(CohortError, match="required column"):
        read_cohort(path)  # the first sheet is not the cohort
    cohort = read_cohort(path, {"read": {"sheet": "Patients"}})
    assert cohort.fingerprint == reference_fingerprint
    assert read_cohort(path, {"read": {"sheet": 1}}).fingerprint == reference_fingerprint
    with pytest.raises(CohortError, match="a sheet named 'Cohort'"):
        read_cohort(path, {"read": {"sheet": "Cohort"}})


def _coded(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Arm coded 1-4, sex 1/2, metastases 0/1, with value labels (as exported from SPSS)."""
    coded = frame.copy()
    arm_codes = {arm: code for code, arm in enumerate(ARMS, start=1)}
    coded["arm"] = coded["arm"].map(arm_codes).astype(float)
    coded["sex"] = coded["sex"].map({"M": 1, "F": 2}).astype(float)
    labels = {
        "arm": {code: arm for arm, code in arm_codes.items()},
        "sex": {1: "Male", 2: "Female"},
        "bone_metastasis": {0: "No", 1: "Yes"},
    }
    return coded, labels


@pytest.mark.parametrize("extension", [".sav", ".dta"])
def test_value_labels_are_honoured(tmp_path, extension, reference_fingerprint):
    coded, labels = _coded(numeric_frame())
    path = write_table(coded, tmp_path / f"cohort{extension}", value_labels=labels)
    _, meta = (pyreadstat.read_sav if extension == ".sav" else pyreadstat.read_dta)(str(path))
    assert meta.variable_value_labels["arm"][1.0] == "rhTPO"
    cohort = read_cohort(path)
    assert cohort.fingerprint == reference_fingerprint
    assert cohort.data["arm"].tolist()[:3] == ["rhTPO", "rhTPO", "hetrombopag"]
    assert any("male/female text read as M/F" in note for note in cohort.notes)
    assert any("yes/no" in note for note in cohort.notes)


def test_unlabelled_arm_codes_are_an_error_naming_the_code(tmp_path):
    coded, _ = _coded(numeric_frame())
    path = write_table(coded, tmp_path / "cohort.sav")  # no value labels written
    with pytest.raises(CohortError) as info:
        read_cohort(path)
    arm_problems = [p for p in info.value.problems if p.column == "arm"]
    assert [p.row for p in arm_problems] == list(range(1, 9))
    assert arm_problems[0].value == "'1'"


def test_mapping_file_renames_columns_and_recodes_values(tmp_path, reference_fingerprint):
    frame = text_frame().rename(
        columns={"patient_id": "Study ID", "arm": "Group", "plt_day0": "PLT baseline"}
    )
    frame["Group"] = frame["Group"].map(
        {"rhTPO": "TPO", "hetrombopag": "HET", "combination": "HET+TPO", "rhIL-11": "IL-11"}
    )
    frame["sex"] = frame["sex"].map({"M": "1", "F": "2"})
    data_path = tmp_path / "cohort.csv"
    frame.to_csv(data_path, index=False)
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        "[columns]\n"
        'patient_id = "Study ID"\narm = "Group"\nplt_day0 = "PLT baseline"\n\n'
        '[values.arm]\n"TPO" = "rhTPO"\n"het" = "hetrombopag"\n"HET+TPO" = "combination"\n'
        '"IL-11" = "rhIL-11"\n\n[values.sex]\n"1" = "M"\n"2" = "F"\n'
    )
    with pytest.raises(CohortError, match="required column"):
        read_cohort(data_path)
    cohort = read_cohort(data_path, mapping)
    assert cohort.fingerprint == reference_fingerprint
    assert any("recoded by the column mapping (8 cells)" in note for note in cohort.notes)


def test_mapped_column_missing_names_the_mapping(tmp_path):
    with pytest.raises(CohortError) as info:
        validate_cohort(text_frame(), columns={"arm": "Group"})
    problem = info.value.problems[0]
    assert problem.column == "Group"
    assert "mapped from arm by <mapping>" in str(problem)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[columns]\nward = "Ward"\n', "not a schema column"),
        ("[columns\n", "not valid TOML"),
        ('[colums]\narm = "Group"\n', "unknown section"),
        ('[columns]\narm = "G"\nsex = "g"\n', "mapped to both"),
        ('[values.arm]\n"1" = true\n', "must map to text or a number"),
        ("[read]\nsheet = 1.5\n", "sheet must be"),
    ],
)
def test_bad_mapping_files_are_cohort_errors(tmp_path, content, message):
    path = tmp_path / "map.toml"
    path.write_text(content)
    with pytest.raises(CohortError, match=message):
        load_mapping(path)


def test_mapping_file_not_found(tmp_path):
    with pytest.raises(CohortError, match="file not found"):
        read_cohort(FIXTURE, tmp_path / "absent.toml")


def test_read_table_keeps_text_as_typed(tmp_path):
    raw = read_table(FIXTURE)
    assert raw.frame.shape == (8, 23)
    assert raw.frame.loc[0, "age"] == "61"
    np.testing.assert_array_equal(raw.row_numbers, np.arange(1, 9))


def test_write_table_refuses_unknown_formats_and_missing_folders(tmp_path):
    with pytest.raises(CohortError, match="expected a file ending in"):
        write_table(numeric_frame(), tmp_path / "cohort.json")
    with pytest.raises(CohortError, match="does not exist"):
        write_table(numeric_frame(), tmp_path / "absent" / "cohort.csv")


def test_logical_and_nullable_integer_columns(tmp_path, reference_fingerprint):
    frame = numeric_frame()
    frame["bone_metastasis"] = frame["bone_metastasis"].astype(bool)
    frame["recovery_day"] = frame["recovery_day"].astype("Int64")
    path = tmp_path / "cohort.parquet"
    frame.to_parquet(path)
    cohort = read_cohort(path)
    assert cohort.fingerprint == reference_fingerprint
    assert cohort.data["bone_metastasis"].tolist() == [1, 0, 0, 0, 0, 0, 1, 0]
    assert any("true/false read as 1/0 (8 cells)" in note for note in cohort.notes)


def test_hostile_spreadsheets_are_named_errors_in_bounded_time_and_memory(tmp_path):
    """Issue 16, item 7: a formula cell without a stored result is an error naming the cell
    (openpyxl writes formulas without results, as tools other than Excel do); a 5 KB sheet
    declaring a cell at row 200,000, column 16,384 is read by the cells it stores (measured:
    0.7 s) and refused as ragged, not expanded to 3 billion cells (memory checked, not time)."""
    import tracemalloc

    import openpyxl

    from cit_bayes.simulate import simulate_cohort

    simulate_cohort(40, seed=1).data.to_excel(tmp_path / "ok.xlsx", index=False)
    workbook = openpyxl.load_workbook(tmp_path / "ok.xlsx")
    sheet = workbook.active
    column = [cell.value for cell in sheet[1]].index("plt_day3") + 1
    sheet.cell(row=5, column=column, value="=5000")
    workbook.save(tmp_path / "formula.xlsx")
    with pytest.raises(CohortError, match="1 formula cell") as error:
        read_cohort(tmp_path / "formula.xlsx")
    letter = openpyxl.utils.get_column_letter(column)
    assert error.value.problems[0].value == f"cell {letter}5"

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "patient_id"
    workbook.active.cell(row=200_000, column=16_384, value=1)
    workbook.save(tmp_path / "huge.xlsx")
    assert (tmp_path / "huge.xlsx").stat().st_size < 20_000
    tracemalloc.start()
    with pytest.raises(CohortError, match="longer than its header") as error:
        read_cohort(tmp_path / "huge.xlsx")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 500e6, peak  # bytes; the declared range would need tens of GB
    assert len(str(error.value)) < 2000


def test_a_folder_a_pipe_or_a_device_is_named_for_what_it_is(tmp_path, capsys):
    """Issue 16, item 7: these were all 'not found'; a device would be read without end."""
    import os

    from cit_bayes.cli import main

    (tmp_path / "folder.csv").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    for name, kind in [("folder.csv", "a folder"), ("pipe.csv", "a named pipe"),
                       ("zero.csv", "a device"), ("absent.csv", "not found")]:  # fmt: skip
        with pytest.raises(CohortError, match=kind):
            read_cohort(tmp_path / name)
        assert main(["validate", str(tmp_path / name)]) == 2
        assert kind in capsys.readouterr().err
