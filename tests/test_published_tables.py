"""The transcribed tables against themselves and against the paper's own totals.

Reference values: the paper's Tables 1-9 and its Results prose (`data/published/README.md` gives
the source of each file). Percentages are checked against n/N rounded half-up to the printed
number of decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper import (
    ARM_SIZES,
    count_table,
    load_tables,
    parse_printed_cell,
    parse_printed_p,
)
from cit_bayes.paper.tables import TABLE_FILES

CELL_TABLES = [stem for stem, layout in TABLE_FILES.items() if layout == "cells"]
TEST_TABLES = [stem for stem, layout in TABLE_FILES.items() if layout == "tests"]

# Blocks of Table 1 whose levels are exhaustive (each patient in exactly one level).
EXHAUSTIVE_BLOCKS = ["sex", "ecog", "tumor_type", "stage", "chemo_cycles"]

# Printed percentages that do not equal n/N rounded half-up, each one explained.
PERCENT_EXCEPTIONS = {
    # 28/64 = 43.75 -> 43.8; the paper prints 43.7 (= 100 - 56.3, the male share).
    ("table1_baseline", "sex", "female", "rhTPO"): "43.7",
}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return load_tables()


def test_every_file_loads(tables):
    assert set(tables) == set(TABLE_FILES)
    assert len(tables["table1_baseline"]) == 23 * 4  # 23 printed rows with arm cells
    assert len(tables["table3_response_pairwise"]) == 6
    assert len(tables["table5_plt_pairwise"]) == 12
    assert len(tables["table4_tests"]) == 4 + 12  # 4 between-arm tests, Pa/Pb/Pc x 4 arms


def test_arm_sizes_match_every_header(tables):
    assert ARM_SIZES == {"rhTPO": 64, "hetrombopag": 37, "combination": 36, "rhIL-11": 50}
    assert sum(ARM_SIZES.values()) == 187
    for stem in CELL_TABLES:
        sizes = tables[stem].groupby("arm")["n_arm"].unique()
        for arm in ARMS:
            assert list(sizes[arm]) == [ARM_SIZES[arm]], (stem, arm)


@pytest.mark.parametrize("block", EXHAUSTIVE_BLOCKS)
def test_categorical_blocks_sum_to_arm_sizes(tables, block):
    counts = count_table(tables["table1_baseline"], block)
    assert counts.sum(axis=0).to_dict() == ARM_SIZES


def test_binary_blocks_never_exceed_arm_sizes(tables):
    for stem in CELL_TABLES:
        rows = tables[stem].dropna(subset=["count"])
        assert (rows["count"] >= 0).all()
        assert (rows["count"] <= rows["n_arm"]).all(), stem


def test_printed_percentages_match_counts(tables):
    found_exceptions = {}
    for stem in CELL_TABLES:
        rows = tables[stem].dropna(subset=["percent"])
        for row in rows.itertuples():
            printed_percent = row.printed.split("(")[1].rstrip(")").strip()
            places = len(printed_percent.split(".")[1]) if "." in printed_percent else 0
            exact = Decimal(int(row.count) * 100) / Decimal(int(row.n_arm))
            expected = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
            if Decimal(printed_percent) != expected:
                found_exceptions[(stem, row.block, row.level, row.arm)] = printed_percent
    assert found_exceptions == PERCENT_EXCEPTIONS


def test_parsed_numbers_equal_printed_text(tables):
    for stem in CELL_TABLES:
        for row in tables[stem].itertuples():
            parsed = parse_printed_cell(row.printed)
            for key, value in parsed.items():
                assert getattr(row, key) == pytest.approx(value), (stem, row.printed, key)
    for stem in TEST_TABLES:
        for row in tables[stem].itertuples():
            parsed = parse_printed_p(row.printed_p)
            assert row.p == pytest.approx(parsed["p"])
            assert row.p_relation == parsed["p_relation"]
            assert row.mark == parsed["mark"]
            if row.printed_statistic:
                assert row.statistic == pytest.approx(float(row.printed_statistic))


def test_totals_stated_in_the_text(tables):
    text = tables["text_statements"].set_index("quantity")["value"]
    table1 = tables["table1_baseline"]
    sex = count_table(table1, "sex").sum(axis=1)
    assert sex["male"] == text["n_male"] == 100
    assert sex["female"] == text["n_female"] == 87
    assert count_table(tables["table8_transfusion"], "transfusion").loc["yes"].sum() == 6
    assert count_table(tables["table9_adverse_events"], "any_ae").loc["yes"].sum() == 32
    tumour = count_table(table1, "tumor_type").sum(axis=1)
    for level in ("gastrointestinal", "gynecological"):
        # exact: round() gives the float nearest the printed digits, as the parser does
        printed = text[f"percent_tumor_{level}"]
        assert round(100 * tumour[level] / 187, 1) == printed == 34.8  # exact: rounded
    # Exception: lung cancer is 36/187 = 19.25 %, which rounds to 19.3; the text prints 19.2
    # (truncated), and its "together 88.8 %" is 34.8 + 34.8 + 19.2 (166/187 = 88.77 -> 88.8).
    assert tumour["lung"] == 36
    assert round(100 * 36 / 187, 2) == 19.25  # exact: rounded to the printed digits
    assert text["percent_tumor_lung"] == 19.2  # exact: parsed from the text
    assert round(100 * 166 / 187, 1) == text["percent_tumor_top3"] == 88.8  # exact: rounded


def test_count_table_adds_the_complement_of_a_yes_row(tables):
    response = count_table(tables["table2_response"], "response")
    assert response.loc["effective"].tolist() == [45, 26, 34, 33]
    assert response.loc["not_effective"].tolist() == [19, 11, 2, 17]
    fatigue = count_table(tables["table9_adverse_events"], "fatigue")
    assert fatigue.loc["no"].tolist() == [63, 37, 36, 49]


def test_parsers_keep_what_was_printed():
    assert parse_printed_p("<0.001#") == {"p": 0.001, "p_relation": "<", "mark": "#"}
    assert parse_printed_p("P = 0.704") == {"p": 0.704, "p_relation": "=", "mark": ""}
    assert parse_printed_p("0.017*") == {"p": 0.017, "p_relation": "=", "mark": "*"}
    assert parse_printed_cell("50.00 (19.25, 117.00)") == {
        "median": 50.0,
        "q1": 19.25,
        "q3": 117.0,
    }
    with pytest.raises(PublishedDataError):
        parse_printed_cell("n/a")
    with pytest.raises(PublishedDataError):
        parse_printed_p("significant")


def test_loader_names_a_missing_file(tmp_path):
    with pytest.raises(PublishedDataError, match="table1_baseline"):
        load_tables(tmp_path)


def test_loader_rejects_an_unknown_arm(tmp_path, tables):
    for stem in TABLE_FILES:
        tables[stem].to_csv(tmp_path / f"{stem}.csv", index=False)
    broken = tables["table2_response"].copy()
    broken.loc[0, "arm"] = "placebo"
    broken.to_csv(tmp_path / "table2_response.csv", index=False)
    with pytest.raises(PublishedDataError, match="placebo"):
        load_tables(tmp_path)
