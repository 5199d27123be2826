"""Tests of cit_bayes.contrasts: posterior comparisons between arms from draws.

Reference values:
- hand calculations on small hand-made draws (means, quantiles, ties of P(best));
- analytic results for independent normal draws: P(A > B) = Phi((mu_A - mu_B) / sqrt(s_A^2 + s_B^2)),
  P(A - B > -d) = Phi((mu_A - mu_B + d) / sqrt(s_A^2 + s_B^2)), with tolerance 4 x the Monte Carlo
  standard error sqrt(p (1 - p) / S) of S independent draws;
- numpy's quantiles for the equal-tailed intervals (exact equality).
No MCMC here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cit_bayes import contrasts

ARMS = ["a", "b", "c"]


def normal_draws(mus, sds, n=40_000, chains=4, seed=7):
    rng = np.random.default_rng(seed)
    values = rng.normal(mus, sds, size=(chains, n // chains, len(mus)))
    return xr.DataArray(values, dims=("chain", "draw", "arm"), coords={"arm": ARMS[: len(mus)]})


def test_as_draws_accepts_dataarray_numpy_and_stacked():
    values = np.arange(24, dtype=float).reshape(2, 4, 3)
    da = xr.DataArray(values, dims=("chain", "draw", "arm"), coords={"arm": ARMS})
    from_da = contrasts.as_draws(da)
    assert from_da.arms == tuple(ARMS)
    np.testing.assert_array_equal(from_da.values, values)
    from_numpy = contrasts.as_draws(values.reshape(8, 3), ARMS)
    assert from_numpy.values.shape == (1, 8, 3)
    stacked = da.stack(sample=("chain", "draw"))
    assert contrasts.as_draws(stacked).values.shape == (1, 8, 3)
    reordered = contrasts.as_draws(da, ["c", "a"])
    np.testing.assert_array_equal(reordered.values, values[..., [2, 0]])
    transposed = contrasts.as_draws(da.transpose("arm", "draw", "chain"))
    np.testing.assert_array_equal(transposed.values, values)


@pytest.mark.parametrize(
    ("draws", "arms", "message"),
    [
        (np.zeros((5, 3)), None, "arm labels are required"),
        (np.zeros((5, 3)), ["a", "b"], "2 arm labels for 3 columns"),
        (np.zeros(5), ["a"], "must have shape"),
        (np.array([[0.0, np.nan, 1.0]]), ARMS, "NaN or infinite"),
        (np.zeros((5, 2)), ["a", "a"], "duplicated arm labels"),
    ],
)
def test_as_draws_rejects_bad_input(draws, arms, message):
    with pytest.raises(ValueError, match=message):
        contrasts.as_draws(draws, arms)


def test_as_draws_rejects_extra_dimension_and_unknown_arm():
    da = xr.DataArray(
        np.zeros((2, 3, 2, 3)),
        dims=("chain", "draw", "day", "arm"),
        coords={"arm": ARMS, "day": ["d7", "d14"]},
    )
    with pytest.raises(ValueError, match="extra dimension"):
        contrasts.as_draws(da)
    assert contrasts.as_draws(da.sel(day="d7")).values.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="unknown arm"):
        contrasts.as_draws(da.sel(day="d7"), ["a", "z"])


def test_summarise_matches_numpy():
    values = np.array([[0.1, 1.0], [0.2, 2.0], [0.3, 3.0], [0.4, 4.0], [0.5, 5.0]])
    table = contrasts.summarise(values, ["a", "b"], ci_level=0.5)
    row = table.set_index("arm").loc["b"]
    assert row["mean"] == pytest.approx(3.0)
    assert row["sd"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert row["median"] == pytest.approx(3.0, abs=1e-12)  # the middle draw itself
    assert row["ci_low"] == np.quantile([1, 2, 3, 4, 5], 0.25)
    assert row["ci_high"] == np.quantile([1, 2, 3, 4, 5], 0.75)
    assert list(table["key"]) == ["a", "b"]


def test_pairwise_difference_ratio_and_odds_ratio_by_hand():
    values = np.array([[0.2, 0.5], [0.4, 0.5], [0.6, 0.5], [0.8, 0.5]])
    difference = contrasts.pairwise(values, ["a", "b"]).iloc[0]
    assert difference["key"] == "a-b"
    assert difference["mean"] == pytest.approx(0.0)
    assert difference["prob_a_greater"] == pytest.approx(0.5, abs=1e-12)  # 2 of 4 draws
    ratio = contrasts.pairwise(values, ["a", "b"], measure="ratio").iloc[0]
    assert ratio["key"] == "a/b"
    assert ratio["mean"] == pytest.approx(np.mean([0.4, 0.8, 1.2, 1.6]))
    odds = contrasts.pairwise(values, ["a", "b"], measure="odds_ratio").iloc[0]
    expected = np.array([0.25, 2 / 3, 1.5, 4.0])  # odds of a over odds of b (= 1)
    assert odds["median"] == pytest.approx(np.median(expected))
    assert odds["prob_a_greater"] == pytest.approx(0.5, abs=1e-12)  # 2 of 4 draws


def test_pairwise_rejects_impossible_scales():
    with pytest.raises(ValueError, match="strictly positive"):
        contrasts.pairwise(np.array([[1.0, -1.0]]), ["a", "b"], measure="ratio")
    with pytest.raises(ValueError, match="inside"):
        contrasts.pairwise(np.array([[0.5, 1.0]]), ["a", "b"], measure="odds_ratio")
    with pytest.raises(ValueError, match="measure must be one of"):
        contrasts.pairwise(np.array([[0.5, 0.4]]), ["a", "b"], measure="hazard")
    with pytest.raises(ValueError, match="two different arms"):
        contrasts.pairwise(np.array([[0.5, 0.4]]), ["a", "b"], pairs=[("a", "a")])


def test_pairwise_interval_of_normal_difference():
    draws = normal_draws([1.0, 0.0, 0.0], [1.0, 1.0, 2.0])
    row = contrasts.pairwise(draws, pairs=[("a", "b")]).iloc[0]
    sd = math.sqrt(2.0)
    # MC error of a 2.5 % quantile with 40 000 draws: about 0.02 sd; tolerance 0.06 sd.
    assert row["ci_low"] == pytest.approx(1.0 - 1.959964 * sd, abs=0.06 * sd)
    assert row["ci_high"] == pytest.approx(1.0 + 1.959964 * sd, abs=0.06 * sd)
    assert row["mean"] == pytest.approx(1.0, abs=4 * sd / math.sqrt(40_000))


def test_prob_superior_matches_normal_theory_and_direction():
    draws = normal_draws([0.3, 0.0, -0.2], [1.0, 0.5, 1.0])
    table = contrasts.prob_superior(draws).set_index("key")
    assert len(table) == 6  # every ordered pair
    exact = stats.norm.cdf(0.3 / math.sqrt(1.25))
    tolerance = 4 * math.sqrt(exact * (1 - exact) / 40_000)
    assert table.loc["a>b", "prob"] == pytest.approx(exact, abs=tolerance)
    assert table.loc["a>b", "prob"] + table.loc["b>a", "prob"] == pytest.approx(1.0)
    assert table.loc["a>b", "mcse"] == pytest.approx(
        math.sqrt(exact * (1 - exact) / 40_000), rel=0.2
    )
    lower = contrasts.prob_superior(draws, pairs=[("a", "b")], higher_is_better=False).iloc[0]
    assert lower["key"] == "a<b"
    assert lower["prob"] == pytest.approx(1 - table.loc["a>b", "prob"])


def test_prob_best_splits_ties_and_sums_to_one():
    values = np.array([[1.0, 1.0, 0.0], [2.0, 0.0, 2.0]])
    table = contrasts.prob_best(values, ARMS).set_index("arm")
    assert table.loc["a", "prob"] == pytest.approx(0.5)
    assert table.loc["b", "prob"] == pytest.approx(0.25)
    assert table.loc["c", "prob"] == pytest.approx(0.25)
    worst = contrasts.prob_best(values, ARMS, higher_is_better=False).set_index("arm")
    assert worst.loc["b", "prob"] == pytest.approx(0.5)  # 0 in draw 1, tied 0 in draw 2


def test_prob_best_two_normal_arms():
    draws = normal_draws([0.5, 0.0], [1.0, 1.0])
    table = contrasts.prob_best(draws).set_index("arm")
    exact = stats.norm.cdf(0.5 / math.sqrt(2.0))
    assert table.loc["a", "prob"] == pytest.approx(
        exact, abs=4 * math.sqrt(exact * (1 - exact) / 40_000)
    )
    assert table["prob"].sum() == pytest.approx(1.0)


def test_prob_noninferior_definition_and_keys():
    draws = normal_draws([-0.05, 0.0], [0.05, 0.05])
    table = contrasts.prob_noninferior(draws, pairs=[("a", "b")], margins=[0.05, 0.1]).set_index(
        "key"
    )
    assert list(table.index) == ["a vs b @ 0.05", "a vs b @ 0.10"]
    sd = math.sqrt(2) * 0.05
    for margin, key in ((0.05, "a vs b @ 0.05"), (0.10, "a vs b @ 0.10")):
        exact = stats.norm.cdf((-0.05 + margin) / sd)
        assert table.loc[key, "prob"] == pytest.approx(
            exact, abs=4 * math.sqrt(exact * (1 - exact) / 40_000) + 1e-9
        )
    lower = contrasts.prob_noninferior(
        draws, pairs=[("a", "b")], margins=[0.05], higher_is_better=False
    ).iloc[0]
    exact = stats.norm.cdf((0.05 + 0.05) / sd)  # P(a - b < 0.05)
    assert lower["prob"] == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 40_000))
    with pytest.raises(ValueError, match=">= 0"):
        contrasts.prob_noninferior(draws, pairs=[("a", "b")], margins=[-0.1])


def test_prob_exceeds_is_literal():
    values = np.array([[0.1, 0.0], [0.3, 0.0], [0.5, 0.0], [0.7, 0.0]])
    table = contrasts.prob_exceeds(values, ["a", "b"], pairs=[("a", "b")], thresholds=[0, 0.2, 0.6])
    assert list(table["key"]) == ["a-b > 0.00", "a-b > 0.20", "a-b > 0.60"]
    assert list(table["prob"]) == [1.0, 0.75, 0.25]
    lower = contrasts.prob_exceeds(
        values, ["a", "b"], pairs=[("b", "a")], thresholds=[0.2], higher_is_better=False
    ).iloc[0]
    assert lower["key"] == "a-b > 0.20"  # b better (lower) than a by more than 0.2
    assert lower["prob"] == pytest.approx(0.75, abs=1e-12)  # 3 of 4 draws


def test_mcse_is_zero_for_certain_events_and_accounts_for_autocorrelation():
    values = np.array([[1.0, 0.0]] * 100)
    mcse = contrasts.prob_superior(values, ["a", "b"]).set_index("key").loc["a>b", "mcse"]
    assert mcse == pytest.approx(0.0, abs=1e-12)  # an event in every draw: no MC error
    # A chain that repeats each draw 10 times has about a tenth of the effective draws.
    rng = np.random.default_rng(3)
    base = rng.normal(size=(4, 400, 2))
    sticky = np.repeat(base, 10, axis=1)
    iid = contrasts.prob_superior(rng.normal(size=(4, 4000, 2)), ["a", "b"]).iloc[0]
    slow = contrasts.prob_superior(sticky, ["a", "b"]).iloc[0]
    assert slow["mcse"] > 2.0 * iid["mcse"]


def test_fragments_and_threshold_format():
    draws = np.array([[0.2, 0.1], [0.4, 0.3]])
    rates = contrasts.interval_fragment(contrasts.summarise(draws, ["a", "b"]))
    assert set(rates) == {"a", "b"}
    assert set(rates["a"]) == {"mean", "sd", "ci_low", "ci_high"}
    assert rates["a"]["mean"] == pytest.approx(0.3)
    probabilities = contrasts.probability_fragment(contrasts.prob_superior(draws, ["a", "b"]))
    assert probabilities == {"a>b": 1.0, "b>a": 0.0}
    assert contrasts.format_threshold(0.1) == "0.10"
    assert contrasts.format_threshold(-0.0) == "0.00"
    assert contrasts.format_threshold(2) == "2.00"
    with pytest.raises(ValueError, match="duplicated keys"):
        contrasts.probability_fragment(pd.DataFrame({"key": ["x", "x"], "prob": [0.1, 0.2]}))


def test_pair_helpers():
    assert contrasts.all_pairs(ARMS) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert len(contrasts.all_pairs(ARMS, ordered=True)) == 6
    assert contrasts.pairs_against(ARMS, "b") == [("a", "b"), ("c", "b")]
    with pytest.raises(ValueError, match="reference arm"):
        contrasts.pairs_against(ARMS, "z")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-5, 5, allow_nan=False),
            st.floats(-5, 5, allow_nan=False),
            st.floats(-5, 5, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_probabilities_are_coherent(rows):
    values = np.array(rows)
    best = contrasts.prob_best(values, ARMS)
    assert best["prob"].sum() == pytest.approx(1.0)
    assert best["prob"].between(0, 1).all()
    superior = contrasts.prob_superior(values, ARMS).set_index("key")["prob"]
    ties = np.mean(values[:, 0] == values[:, 1])
    assert superior["a>b"] + superior["b>a"] + ties == pytest.approx(1.0)
    noninferior = contrasts.prob_noninferior(values, ARMS, pairs=[("a", "b")], margins=[0, 1, 2])[
        "prob"
    ]
    assert noninferior.is_monotonic_increasing  # a larger margin is easier to meet
