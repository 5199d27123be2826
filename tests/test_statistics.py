"""Tests of the recomputation functions (`published.statistics`, `published.statistics_summary`).

Reference values:
* the paper's printed numbers: Table 2 (χ² 10.149, P 0.017), Table 3 (pairwise χ², P, OR and
  95% CI), Tables 1 and 9 (the SPSS Fisher-Freeman-Halton statistic and its exact p: ECOG 5.060 /
  0.483, fatigue 1.484 / 1.000, ...), compared at the printed precision (half a unit in the last
  printed place);
* independent implementations on the same input: ``scipy.stats.chi2_contingency`` (with and
  without Yates' correction, and with ``lambda_="log-likelihood"`` for G²), ``fisher_exact``,
  ``f_oneway`` (also with ``equal_var=False``) on samples built to have the printed mean and SD,
  ``ttest_ind_from_stats``, and a brute-force enumeration of small tables with
  ``scipy.stats.random_table.pmf``;
* hand calculations (Woolf's formula, the Wald χ², Fisher's LSD) written out in the tests.
Tolerances are stated at each assertion: 1e-10 relative for identical formulas, the printed
half-unit for the paper's numbers, 4 Monte Carlo standard errors for Monte Carlo p-values.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper import count_table, load_tables
from cit_bayes.paper.effect_sizes import odds_ratio_woolf
from cit_bayes.paper.statistics import (
    contingency_tests,
    exact_tests,
    fisher_exact_2x2,
    likelihood_ratio_g2,
    pearson_chi2,
    spss_fisher_statistic,
    table_log_probability,
)
from cit_bayes.paper.statistics_summary import (
    anova_from_summary,
    lsd_difference,
    p_from_statistic,
    two_sample_difference,
    value_range,
    wald_chi2_from_summary,
    welch_anova_from_summary,
)

RESPONSE = np.array([[45, 26, 34, 33], [19, 11, 2, 17]])  # Table 2: responders / not, by arm


def rounds_to(value: float, printed: str) -> bool:
    """Whether value rounds to the printed number at its printed precision."""
    places = len(printed.split(".")[1]) if "." in printed else 0
    return bool(abs(value - float(printed)) <= 0.5 * 10**-places + 1e-12)


@pytest.fixture(scope="module")
def tables():
    return load_tables()


def pair(arm_a: int, arm_b: int) -> np.ndarray:
    return RESPONSE[:, [arm_a, arm_b]].T


# --- Pearson, Yates, G², Fisher ----------------------------------------------------------------


def test_table2_overall_chi_square_reproduces_the_paper():
    result = pearson_chi2(RESPONSE)
    assert rounds_to(result.statistic, "10.149")
    assert rounds_to(result.p_value, "0.017")
    assert result.df == 3
    reference = stats.chi2_contingency(RESPONSE, correction=False)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)


TABLE3 = [  # arms (column indices of RESPONSE), printed χ², P, OR (95% CI) as printed
    ((0, 1), "0.000", "0.996", ("1.002", "0.413", "2.430")),
    ((0, 2), "8.088", "0.004", ("0.139", "0.030", "0.639")),
    ((0, 3), "0.242", "0.623", ("1.220", "0.552", "2.698")),
    ((1, 2), "7.285", "0.007", ("0.139", "0.028", "0.682")),
    ((1, 3), "0.178", "0.673", ("1.218", "0.487", "3.044")),
    ((3, 2), "9.839", "0.002", ("8.758", "1.875", "40.910")),  # labelled rhIL-11 vs comb.
]


@pytest.mark.parametrize(("arms", "chi2", "p", "odds"), TABLE3)
def test_table3_pairwise_chi_square_without_correction_reproduces_the_paper(arms, chi2, p, odds):
    counts = pair(*arms)
    result = pearson_chi2(counts)
    assert rounds_to(result.statistic, chi2)
    assert rounds_to(result.p_value, p)
    reference = stats.chi2_contingency(counts, correction=False)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10, abs=1e-12)
    yates = pearson_chi2(counts, correction=True)
    assert yates.test == "pearson_chi2_yates"
    assert yates.statistic == pytest.approx(
        stats.chi2_contingency(counts, correction=True).statistic, rel=1e-10, abs=1e-12
    )
    if chi2 != "0.000":  # with Yates' correction the printed values are not reproduced
        assert not rounds_to(yates.statistic, chi2)


@pytest.mark.parametrize(("arms", "chi2", "p", "odds"), TABLE3)
def test_table3_odds_ratios_and_woolf_intervals_reproduce_the_paper(arms, chi2, p, odds):
    counts = pair(*arms)
    if arms == (3, 2):  # labelled rhIL-11 vs combination, printed combination over rhIL-11
        assert not rounds_to(odds_ratio_woolf(counts)["odds_ratio"], odds[0])
        counts = counts[::-1]
    result = odds_ratio_woolf(counts)
    for value, printed in zip(
        (result["odds_ratio"], result["ci_low"], result["ci_high"]), odds, strict=True
    ):
        assert rounds_to(value, printed), (value, printed)
    (a, b), (c, d) = counts
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)  # Woolf, by hand
    assert result["ci_high"] == pytest.approx(a * d / (b * c) * math.exp(1.959964 * se), rel=1e-6)


def test_odds_ratio_zero_cell_uses_haldane_correction():
    result = odds_ratio_woolf([[5, 0], [3, 4]])
    assert result["zero_corrected"]
    assert result["odds_ratio"] == pytest.approx(5.5 * 4.5 / (0.5 * 3.5))
    uncorrected = odds_ratio_woolf([[5, 0], [3, 4]], zero_correction=0)
    assert math.isinf(uncorrected["odds_ratio"]) and math.isnan(uncorrected["ci_low"])


def test_likelihood_ratio_matches_scipy():
    for counts in (RESPONSE, pair(0, 2), np.array([[3, 1, 0], [2, 5, 7], [1, 1, 4]])):
        reference = stats.chi2_contingency(counts, correction=False, lambda_="log-likelihood")
        result = likelihood_ratio_g2(counts)
        assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)


def test_fisher_2x2_matches_scipy_and_the_exact_freeman_halton_p():
    for arms in ((0, 2), (1, 2), (2, 3)):
        counts = pair(*arms)
        fisher = fisher_exact_2x2(counts)
        assert fisher.p_value == pytest.approx(stats.fisher_exact(counts).pvalue, rel=1e-10)
        ffh = exact_tests(counts)[0]
        assert ffh.p_method == "exact"
        assert ffh.p_value == pytest.approx(fisher.p_value, rel=1e-9)


# --- exact r x c tests ------------------------------------------------------------------------


def brute_force(counts: np.ndarray) -> tuple[float, float]:
    """FFH and Pearson exact p of a 3x3 table by looping over every table with its margins."""
    rows, columns = counts.sum(axis=1), counts.sum(axis=0)
    distribution = stats.random_table(rows, columns)
    expected = np.outer(rows, columns) / counts.sum()
    observed_p = distribution.pmf(counts)
    observed_x2 = ((counts - expected) ** 2 / expected).sum()
    ffh = pearson = 0.0
    for x00, x01, x10, x11 in itertools.product(range(counts.sum() + 1), repeat=4):
        table = np.array(
            [
                [x00, x01, rows[0] - x00 - x01],
                [x10, x11, rows[1] - x10 - x11],
                [0, 0, 0],
            ]
        )
        table[2] = columns - table[:2].sum(axis=0)
        if (table < 0).any() or table[2].sum() != rows[2]:
            continue
        probability = distribution.pmf(table)
        if probability <= observed_p * (1 + 1e-7):
            ffh += probability
        if ((table - expected) ** 2 / expected).sum() >= observed_x2 * (1 - 1e-7):
            pearson += probability
    return ffh, pearson


def test_exact_enumeration_matches_brute_force():
    counts = np.array([[3, 1, 0], [2, 5, 1], [0, 1, 4]])
    ffh, pearson, g2 = exact_tests(counts)
    expected_ffh, expected_pearson = brute_force(counts)
    assert ffh.p_value == pytest.approx(expected_ffh, rel=1e-9)
    assert pearson.p_value == pytest.approx(expected_pearson, rel=1e-9)
    assert ffh.p_method == pearson.p_method == g2.p_method == "exact"
    assert math.exp(table_log_probability(counts)) == pytest.approx(
        stats.random_table(counts.sum(1), counts.sum(0)).pmf(counts), rel=1e-10
    )


SPSS_PRINTED = [  # (file, block, printed statistic, printed exact p, χ²(df) p differs?)
    ("table1_baseline", "ecog", "5.060", "0.483", True),
    ("table1_baseline", "bone_metastasis", "5.496", "0.117", True),
    ("table1_baseline", "radiotherapy", "4.169", "0.239", True),
    ("table1_baseline", "targeted_therapy", "0.688", "0.882", True),
    ("table9_adverse_events", "transaminase", "2.814", "0.421", False),  # 0.4212 vs 0.4210
    ("table9_adverse_events", "bilirubin", "0.557", "1.000", True),
    ("table9_adverse_events", "fatigue", "1.484", "1.000", True),
    ("table9_adverse_events", "headache", "1.484", "1.000", True),
]


@pytest.mark.parametrize(("stem", "block", "statistic", "p", "chi2_differs"), SPSS_PRINTED)
def test_spss_fisher_statistic_and_exact_p_reproduce_the_paper(
    tables, stem, block, statistic, p, chi2_differs
):
    counts = count_table(tables[stem], block).to_numpy()
    assert rounds_to(spss_fisher_statistic(counts), statistic)
    ffh = exact_tests(counts)[0]
    assert ffh.test == "fisher_freeman_halton" and ffh.p_method == "exact"
    assert rounds_to(ffh.p_value, p)
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    # the χ²(df) p of the same statistic is (mostly) not what the paper prints
    assert rounds_to(stats.chi2.sf(float(statistic), df), p) == (not chi2_differs)


def test_spss_fisher_statistic_formula_by_hand():
    counts = np.array([[1, 0, 0, 1], [63, 37, 36, 49]])  # Table 9 fatigue
    r, c, n = counts.sum(1), counts.sum(0), counts.sum()
    gamma = (2 * math.pi) ** 1.5 * n ** (-3.5) * np.prod(r.astype(float) ** 1.5) * np.prod(c**0.5)
    probability = stats.random_table(r, c).pmf(counts)
    assert spss_fisher_statistic(counts) == pytest.approx(-2 * math.log(gamma * probability))


def test_monte_carlo_is_seeded_and_agrees_with_the_exact_p(tables):
    counts = count_table(tables["table1_baseline"], "ecog").to_numpy()
    exact = exact_tests(counts)[0]
    first = exact_tests(counts, method="monte_carlo", monte_carlo_samples=20_000, seed=7)[0]
    again = exact_tests(counts, method="monte_carlo", monte_carlo_samples=20_000, seed=7)[0]
    other = exact_tests(counts, method="monte_carlo", monte_carlo_samples=20_000, seed=8)[0]
    assert first == again
    assert first.p_value != other.p_value
    assert first.p_method == "monte_carlo" and first.seed == 7 and first.n_tables == 20_000
    assert first.monte_carlo_se == pytest.approx(
        math.sqrt(first.p_value * (1 - first.p_value) / 20_000)
    )
    assert abs(first.p_value - exact.p_value) < 4 * first.monte_carlo_se


def test_large_table_falls_back_to_monte_carlo_with_its_error(tables):
    counts = count_table(tables["table1_baseline"], "stage").to_numpy()
    ffh = exact_tests(counts, monte_carlo_samples=20_000, seed=20250101)[0]
    assert ffh.p_method == "monte_carlo"
    assert rounds_to(spss_fisher_statistic(counts), "11.323")  # Table 1, clinical stage
    assert abs(ffh.p_value - 0.228) < 0.0005 + 4 * ffh.monte_carlo_se  # printed 0.228
    with pytest.raises(PublishedDataError, match="seed"):
        exact_tests(counts)


def test_contingency_tests_lists_every_candidate():
    frame = contingency_tests(pair(0, 2))
    assert frame["test"].tolist() == [
        "pearson_chi2",
        "pearson_chi2_yates",
        "likelihood_ratio_g2",
        "fisher_exact",
        "fisher_freeman_halton",
        "pearson_chi2_exact",
        "likelihood_ratio_g2_exact",
    ]
    assert {"statistic", "df", "p_value", "p_method", "monte_carlo_se"} <= set(frame.columns)
    assert len(contingency_tests(RESPONSE)) == 5


@pytest.mark.parametrize(
    "bad",
    [[1, 2, 3], [[1, -2], [3, 4]], [[1.5, 2], [3, 4]], [[0, 0], [3, 4]], [[np.nan, 1], [1, 1]]],
)
def test_bad_tables_raise_a_named_error(bad):
    with pytest.raises(PublishedDataError):
        pearson_chi2(bad)


def test_empty_rows_are_dropped_as_spss_does():
    with_empty = np.array([[5, 3], [0, 0], [2, 6]])
    assert pearson_chi2(with_empty).df == 1
    assert pearson_chi2(with_empty).statistic == pytest.approx(
        pearson_chi2(with_empty[[0, 2]]).statistic
    )


# --- summary statistics ----------------------------------------------------------------------


def sample_with(mean: float, sd: float, n: int, seed: int) -> np.ndarray:
    """A sample with exactly this mean and SD (ddof=1)."""
    draws = np.random.default_rng(seed).normal(size=n)
    return mean + sd * (draws - draws.mean()) / draws.std(ddof=1)


AGE = ([59.72, 58.05, 54.69, 58.68], [9.85, 9.98, 11.72, 9.62], [64, 37, 36, 50])  # Table 1


def test_anova_from_summary_matches_f_oneway_on_samples():
    samples = [sample_with(m, s, n, i) for i, (m, s, n) in enumerate(zip(*AGE, strict=True))]
    result = anova_from_summary(*AGE)
    reference = stats.f_oneway(*samples)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert (result.df, result.df2) == (3, 183)
    welch = welch_anova_from_summary(*AGE)
    welch_reference = stats.f_oneway(*samples, equal_var=False)
    assert welch.statistic == pytest.approx(welch_reference.statistic, rel=1e-9)
    assert welch.p_value == pytest.approx(welch_reference.pvalue, rel=1e-8)


def test_age_f_is_within_rounding_of_the_printed_value():
    means, sds, ns = (np.asarray(v, float) for v in AGE)

    def f(x):
        return anova_from_summary(x[:4], x[4:], ns).statistic

    nominal = f(np.concatenate([means, sds]))
    low, high = value_range(f, np.concatenate([means, sds]), [0.005] * 8)
    assert not rounds_to(nominal, "1.928")  # 1.932 from the rounded means and SDs
    assert low <= 1.928 <= high  # Table 1 prints 1.928: within the rounding of the inputs
    assert low < nominal < high


def test_value_range_is_exact_for_a_linear_function():
    low, high = value_range(lambda x: 2 * x[0] - 3 * x[1], [1.0, 2.0], [0.5, 0.1])
    assert (low, high) == pytest.approx((-4 - 1.0 - 0.3, -4 + 1.0 + 0.3))
    with pytest.raises(PublishedDataError):
        value_range(lambda x: x[0], [1.0], [-0.1])


def test_wald_chi_square_by_hand():
    two = wald_chi2_from_summary([91.12, 121.00], [4.73, 10.46])  # Table 4 day 7
    assert two.statistic == pytest.approx((121.00 - 91.12) ** 2 / (4.73**2 + 10.46**2))
    assert two.df == 1
    means, ses = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.5, 2.0])
    w = 1 / ses**2
    expected = (w * (means - (w * means).sum() / w.sum()) ** 2).sum()
    result = wald_chi2_from_summary(means, ses)
    assert result.statistic == pytest.approx(expected)
    assert result.p_value == pytest.approx(stats.chi2.sf(expected, 2))


def test_two_sample_differences_match_scipy():
    args = (9.12, 2.66, 33, 6.69, 2.21, 13)
    for equal_var in (True, False):
        result = two_sample_difference(*args, equal_var=equal_var)
        reference = stats.ttest_ind_from_stats(*args, equal_var=equal_var)
        assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
        half = (result.ci_high - result.ci_low) / 2
        assert half == pytest.approx(stats.t.ppf(0.975, result.df) * result.standard_error)
    pooled = two_sample_difference(*args)
    sp = math.sqrt((32 * 2.66**2 + 12 * 2.21**2) / 44)
    assert pooled.standard_error == pytest.approx(sp * math.sqrt(1 / 33 + 1 / 13))


def test_lsd_difference_by_hand():
    means, sds, ns = [9.12, 9.33, 6.69, 9.25], [2.66, 3.24, 2.21, 2.86], [33, 9, 13, 16]
    mse = sum((n - 1) * s**2 for s, n in zip(sds, ns, strict=True)) / (sum(ns) - 4)
    se = math.sqrt(mse * (1 / 33 + 1 / 13))
    result = lsd_difference(means, sds, ns, 0, 2)
    assert result.standard_error == pytest.approx(se)
    assert result.df == 67
    assert result.p_value == pytest.approx(2 * stats.t.sf((9.12 - 6.69) / se, 67))


def test_p_from_statistic_distributions():
    assert p_from_statistic(4.775, "chi2", 3) == pytest.approx(stats.chi2.sf(4.775, 3))
    assert p_from_statistic(3.029, "f", 3, 183) == pytest.approx(stats.f.sf(3.029, 3, 183))
    assert p_from_statistic(-2.0, "t", 10) == pytest.approx(2 * stats.t.sf(2.0, 10))
    assert p_from_statistic(1.959964, "z") == pytest.approx(0.05, abs=1e-6)
    with pytest.raises(PublishedDataError):
        p_from_statistic(1.0, "gamma", 1)


def test_summary_inputs_are_validated():
    with pytest.raises(PublishedDataError):
        anova_from_summary([1.0, 2.0], [1.0], [5, 5])
    with pytest.raises(PublishedDataError):
        anova_from_summary([1.0, 2.0], [1.0, 1.0], [1, 5])
    with pytest.raises(PublishedDataError):
        wald_chi2_from_summary([1.0, 2.0], [0.0, 1.0])
