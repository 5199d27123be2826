"""Property-based tests: arbitrary tables either validate or raise CohortError, nothing else.

No reference values: the property is the contract of the readers and the validation (issue 4,
"Done when"): any table, any bytes, any perturbation of a valid file gives a ``Cohort`` or a
``CohortError`` whose problems each name the file. When a table validates, the derived columns
obey the schema (response and recovered 0/1, time to recovery 1-14). Example counts are modest so
the module runs in seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cit_bayes.cohort import Cohort, read_cohort, validate_cohort
from cit_bayes.cohort.schema import INPUT_COLUMNS
from cit_bayes.exceptions import CohortError

FIXTURE = Path(__file__).parent / "data" / "cohort" / "valid.csv"
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)

meaningful = st.sampled_from(
    ["rhTPO", "combination", "M", "F", "IV", "lung", "0", "1", "", "NA", "50", "120", "14", "x"]
)
cells = st.one_of(
    st.none(),
    meaningful,
    st.text(max_size=6),
    st.integers(min_value=-5, max_value=3000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
column_names = st.one_of(
    st.sampled_from(INPUT_COLUMNS).map(lambda name: name.upper() if len(name) % 2 else name),
    st.text(max_size=5),
)


@st.composite
def tables(draw) -> pd.DataFrame:
    names = draw(st.lists(column_names, min_size=0, max_size=8))
    n_rows = draw(st.integers(min_value=0, max_value=5))
    data = {f"c{i}": [draw(cells) for _ in range(n_rows)] for i in range(len(names))}
    frame = pd.DataFrame(data, dtype=object)
    frame.columns = names
    return frame


def check_outcome(run) -> None:
    """Run a read/validate; it must return a Cohort or raise CohortError, nothing else."""
    try:
        cohort = run()
    except CohortError as error:
        assert str(error)
        for problem in error.problems:
            assert str(problem)
        return
    assert isinstance(cohort, Cohort)
    data = cohort.data
    assert set(data["response"].unique()) <= {0, 1}
    assert set(data["recovered"].unique()) <= {0, 1}
    assert data["time_to_recovery"].between(1, 14).all()
    assert len(cohort.arms) >= 2


@SETTINGS
@given(frame=tables())
def test_arbitrary_tables_in_memory_and_as_csv(frame):
    check_outcome(lambda: validate_cohort(frame))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        frame.to_csv(path, index=False)
        check_outcome(lambda: read_cohort(path))


@SETTINGS
@given(
    changes=st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(INPUT_COLUMNS[:18]), cells),
        min_size=1,
        max_size=4,
    ),
    missing=st.sampled_from(["error", "drop"]),
    rule=st.sampled_from(["any", "day14"]),
)
def test_perturbed_valid_files(changes, missing, rule):
    frame = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False).astype(object)
    for row, column, value in changes:
        frame.loc[row, column] = value
    check_outcome(lambda: validate_cohort(frame, missing=missing, response_rule=rule))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.csv"
        frame.to_csv(path, index=False)
        check_outcome(lambda: read_cohort(path, missing=missing, response_rule=rule))


@SETTINGS
@given(
    kinds=st.lists(st.sampled_from(["int", "float", "text", "bool"]), min_size=1, max_size=6),
    names=st.lists(st.sampled_from(INPUT_COLUMNS), min_size=6, max_size=6, unique=True),
    seed=st.integers(0, 2**16),
)
def test_arbitrary_typed_parquet(kinds, names, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    data = {}
    for kind, name in zip(kinds, names, strict=False):
        if kind == "int":
            data[name] = rng.integers(-10, 3000, n)
        elif kind == "float":
            data[name] = rng.choice([np.nan, np.inf, -1.0, 0.5, 55.0, 120.0], n)
        elif kind == "text":
            data[name] = rng.choice(["rhTPO", "IV", "", "abc", "M"], n).astype(object)
        else:
            data[name] = rng.integers(0, 2, n).astype(bool)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.parquet"
        pd.DataFrame(data).to_parquet(path)
        check_outcome(lambda: read_cohort(path))


@SETTINGS
@given(
    content=st.binary(max_size=300),
    extension=st.sampled_from([".csv", ".tsv", ".xlsx", ".sav", ".dta", ".parquet"]),
)
def test_arbitrary_bytes_in_any_format(content, extension):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"cohort{extension}"
        path.write_bytes(content)
        check_outcome(lambda: read_cohort(path))


@SETTINGS
@given(
    text=st.lists(
        st.sampled_from([*',;\t"\n ab1.', "rhTPO", "arm", "patient_id"]), max_size=80
    ).map("".join)
)
def test_arbitrary_delimited_text(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.csv"
        path.write_text(text, encoding="utf-8")
        check_outcome(lambda: read_cohort(path))
