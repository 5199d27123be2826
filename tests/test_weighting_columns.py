"""Covariates read once and resampled (weighting.design.CovariateColumns): a bootstrap refit's
encoding equals the encoding of the resampled table, value for value."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from cit_bayes.exceptions import WeightingError
from cit_bayes.weighting.balance_functions import encode_for_balancing
from cit_bayes.weighting.design import covariate_columns, encode_columns, encode_covariates


def _table(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Every column kind the encoder knows, with rare levels and levels some arm lacks."""
    arm = rng.integers(0, 3, n)
    tumour = rng.choice(
        ["lung", "breast", "gastric", "other", "liver"], n, p=[0.5, 0.3, 0.1, 0.06, 0.04]
    )
    tumour[arm == 2] = np.where(tumour[arm == 2] == "breast", "lung", tumour[arm == 2])
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "ecog": rng.integers(0, 3, n),  # numeric: 0/1 in some resamples
            "metastasis": rng.integers(0, 2, n),
            "sex": rng.choice(["m", "f"], n),  # object: levels sorted as text
            "tumour": pd.Categorical(
                tumour, categories=["lung", "breast", "gastric", "liver", "other", "never"]
            ),
            "stage": pd.Categorical(
                rng.choice(["II", "III", "IV"], n), categories=["IV", "III", "II"], ordered=True
            ),
            "smoker": rng.random(n) < 0.1,  # bool, rare
            "code": rng.choice([3, 7, 11], n).astype(object),  # object holding numbers
        }
    )
    return frame, arm


def _assert_same_design(ours, theirs) -> None:
    for field in dataclasses.fields(theirs):
        a, b = getattr(ours, field.name), getattr(theirs, field.name)
        if isinstance(b, pd.DataFrame):
            pd.testing.assert_frame_equal(
                a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True
            )
        elif isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, field.name


@pytest.mark.parametrize("seed", range(6))
def test_resampled_columns_encode_as_the_resampled_table(seed):
    rng = np.random.default_rng(seed)
    frame, arm = _table(rng, 60)
    columns = covariate_columns(frame)
    for _ in range(15):
        rows = np.concatenate(
            [rng.choice(np.flatnonzero(arm == j), (arm == j).sum()) for j in range(3)]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                theirs = encode_covariates(frame.iloc[rows], rare_level_min=5)
            except WeightingError:
                with pytest.raises(WeightingError):
                    encode_columns(columns.take(rows), rare_level_min=5)
                continue
            _assert_same_design(encode_columns(columns.take(rows), rare_level_min=5), theirs)
            for minimum in (0, 3):
                _assert_same_design(
                    encode_for_balancing(
                        columns.take(rows),
                        arm[rows],
                        3,
                        rare_level_min=5,
                        pool_absent=True,
                        arm_level_min=minimum,
                    ),
                    encode_for_balancing(
                        covariate_columns(frame.iloc[rows]),
                        arm[rows],
                        3,
                        rare_level_min=5,
                        pool_absent=True,
                        arm_level_min=minimum,
                    ),
                )


def test_levels_keep_the_categories_order_and_leave_unseen_ones_out():
    frame, _ = _table(np.random.default_rng(1), 40)
    columns = covariate_columns(frame)
    tumour = columns.names.index("tumour")
    assert "never" not in columns.levels(tumour)
    assert columns.levels(tumour) == [
        c for c in frame["tumour"].cat.categories if c in set(frame["tumour"])
    ]
    stage = columns.names.index("stage")
    assert columns.levels(stage)[0] == "IV"
    first_lung = int(np.flatnonzero(frame["tumour"].to_numpy() == "lung")[0])
    assert columns.take([first_lung, first_lung]).levels(tumour) == ["lung"]


def test_reading_checks_the_table_as_encoding_does():
    with pytest.raises(WeightingError, match="missing"):
        covariate_columns(pd.DataFrame({"age": [50.0, np.nan]}))
    with pytest.raises(WeightingError, match="no rows"):
        covariate_columns(pd.DataFrame({"age": []}))
