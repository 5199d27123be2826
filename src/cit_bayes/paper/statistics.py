"""Tests of contingency tables, recomputed from printed counts.

Plain functions that take a table of counts (rows x columns, any size) and return plain results:
:class:`TestResult` (a frozen dataclass) for one test, or a tidy DataFrame of every candidate test
(:func:`contingency_tests`), so that the audit can ask which test reproduces a printed statistic.

The tests are those SPSS 29 prints in its *Crosstabs* "Chi-Square Tests" table: Pearson
chi-square (asymptotic and exact p), the continuity-corrected chi-square (2x2 only), the
likelihood-ratio chi-square G², Fisher's exact test (2x2) and the Fisher-Freeman-Halton exact
test (r x c), with the statistic SPSS prints for the latter.

Exact p-values are computed by complete enumeration of the tables with the observed margins where
that is feasible (``max_tables``), otherwise by a seeded Monte Carlo over tables drawn with
Patefield's algorithm (:mod:`cit_bayes.paper.table_enumeration`); every :class:`TestResult` says which (``p_method``), and a Monte Carlo p
carries its standard error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.table_enumeration import (
    enumerate_tables,
    enumeration_bound,
    expected_counts,
    g2_statistic,
    log_probability,
    pearson_statistic,
    sample_tables,
)

__all__ = [
    "TestResult",
    "contingency_tests",
    "exact_tests",
    "fisher_exact_2x2",
    "likelihood_ratio_g2",
    "pearson_chi2",
    "spss_fisher_statistic",
    "table_log_probability",
]

#: Relative tolerance when comparing a table's probability or statistic with the observed one, so
#: that ties are not lost to floating-point error (the value R's ``fisher.test`` uses).
RELATIVE_TOLERANCE = 1e-7


@dataclass(frozen=True)
class TestResult:
    """One test of a table or of summary statistics.

    Attributes
    ----------
    test : str
        Machine name (``pearson_chi2``, ``pearson_chi2_yates``, ``likelihood_ratio_g2``,
        ``fisher_exact``, ``fisher_freeman_halton``, ``pearson_chi2_exact``, ...).
    statistic : float
        The test statistic (NaN where the test has none, as for Fisher's 2x2 test).
    df : float
        Degrees of freedom of the reference distribution (numerator df for F); NaN if none.
    p_value : float
        Two-sided p-value.
    p_method : str
        ``asymptotic``, ``exact`` (complete enumeration) or ``monte_carlo``.
    monte_carlo_se : float
        Standard error of a Monte Carlo p-value, ``sqrt(p (1 - p) / B)``; 0 otherwise.
    n_tables : int
        Tables enumerated (exact) or drawn (Monte Carlo); 0 for asymptotic tests.
    seed : int or None
        Seed of a Monte Carlo p-value.
    df2 : float
        Denominator degrees of freedom of an F test; NaN otherwise.

    Examples
    --------
    >>> from cit_bayes.paper.statistics import TestResult
    >>> TestResult("pearson_chi2", 8.09, 1.0, 0.0045).p_method
    'asymptotic'
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    df: float
    p_value: float
    p_method: str = "asymptotic"
    monte_carlo_se: float = 0.0
    n_tables: int = 0
    seed: int | None = None
    df2: float = math.nan

    def to_dict(self) -> dict:
        """Return the fields as a plain dict."""
        return asdict(self)


def _as_table(table) -> np.ndarray:
    """Validate a table of counts; drop empty rows and columns (as SPSS does)."""
    array = np.asarray(table)
    if array.ndim != 2:
        raise PublishedDataError(f"a contingency table must be 2-dimensional, got {array.ndim}")
    if not np.all(np.isfinite(array.astype(float))):
        raise PublishedDataError("a contingency table must hold finite counts")
    if np.any(array < 0) or np.any(np.abs(array - np.round(array)) > 1e-9):
        raise PublishedDataError("a contingency table must hold non-negative integer counts")
    array = np.round(array).astype(np.int64)
    array = array[array.sum(axis=1) > 0][:, array.sum(axis=0) > 0]
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise PublishedDataError(
            "a contingency table needs at least two non-empty rows and two non-empty columns"
        )
    return array


def pearson_chi2(table, *, correction: bool = False) -> TestResult:
    """Pearson's chi-square test of independence, with an asymptotic p-value.

    Parameters
    ----------
    table : array_like of int
        Counts, rows x columns.
    correction : bool
        Apply Yates' continuity correction. Only defined for a 2x2 table (as in SPSS and
        ``scipy.stats.chi2_contingency``); ignored otherwise.

    Notes
    -----
    :math:`X^2 = \\sum_{ij} (O_{ij} - E_{ij})^2 / E_{ij}` with
    :math:`E_{ij} = r_i c_j / N`, referred to :math:`\\chi^2_{(r-1)(c-1)}`. With Yates'
    correction each :math:`|O - E|` is reduced by 0.5 (not below 0).

    References
    ----------
    Yates F (1934). Contingency tables involving small numbers and the chi-squared test.
    *Suppl J R Stat Soc* 1:217-235.

    Examples
    --------
    >>> from cit_bayes.paper.statistics import pearson_chi2
    >>> result = pearson_chi2([[45, 19], [34, 2]])
    >>> result.df, round(result.statistic, 3), round(result.p_value, 4)
    (1.0, 8.088, 0.0045)
    """
    counts = _as_table(table)
    expected = expected_counts(counts)
    deviation = np.abs(counts - expected)
    corrected = bool(correction and counts.shape == (2, 2))
    if corrected:
        deviation = np.maximum(deviation - 0.5, 0.0)
    statistic = float((deviation**2 / expected).sum())
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    name = "pearson_chi2_yates" if corrected else "pearson_chi2"
    return TestResult(name, statistic, float(df), float(stats.chi2.sf(statistic, df)))


def likelihood_ratio_g2(table) -> TestResult:
    """Likelihood-ratio chi-square :math:`G^2 = 2 \\sum O \\ln(O/E)`, asymptotic p.

    References
    ----------
    Agresti A (2013). *Categorical Data Analysis*, 3rd ed. Wiley, section 3.2.1.

    Examples
    --------
    >>> from cit_bayes.paper.statistics import likelihood_ratio_g2
    >>> f"{likelihood_ratio_g2([[45, 19], [34, 2]]).statistic:.3f}"
    '9.494'
    """
    counts = _as_table(table)
    statistic = g2_statistic(counts[None], expected_counts(counts))[0]
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    return TestResult(
        "likelihood_ratio_g2", statistic, float(df), float(stats.chi2.sf(statistic, df))
    )


def fisher_exact_2x2(table) -> TestResult:
    """Fisher's exact test of a 2x2 table, two-sided (sum of tables no more probable).

    This is the two-sided p SPSS prints as "Fisher's Exact Test, Exact Sig. (2-sided)" and
    ``scipy.stats.fisher_exact`` returns.

    Examples
    --------
    >>> from cit_bayes.paper.statistics import fisher_exact_2x2
    >>> f"{fisher_exact_2x2([[45, 19], [34, 2]]).p_value:.4f}"
    '0.0044'
    """
    counts = _as_table(table)
    if counts.shape != (2, 2):
        raise PublishedDataError(f"Fisher's 2x2 test needs a 2x2 table, got {counts.shape}")
    p_value = float(stats.fisher_exact(counts).pvalue)
    return TestResult("fisher_exact", math.nan, math.nan, p_value, "exact")


def table_log_probability(table) -> float:
    """Log of the multiple hypergeometric probability of a table given its margins.

    Notes
    -----
    :math:`P = \\prod_i r_i! \\prod_j c_j! / (N! \\prod_{ij} n_{ij}!)`.

    Examples
    --------
    >>> from cit_bayes.paper.statistics import table_log_probability
    >>> round(table_log_probability([[3, 1], [1, 5]]), 3)
    -2.169
    """
    counts = _as_table(table)
    return float(log_probability(counts[None], counts.sum(axis=1), counts.sum(axis=0))[0])


def spss_fisher_statistic(table) -> float:
    """The Fisher-Freeman-Halton statistic that SPSS prints for an r x c table.

    Notes
    -----
    SPSS Exact Tests define the statistic as :math:`FI = -2 \\ln(\\gamma P)`, where :math:`P` is
    the hypergeometric probability of the observed table (:func:`table_log_probability`) and

    .. math::

        \\gamma = (2\\pi)^{(r-1)(c-1)/2} \\, N^{-(rc-1)/2}
                  \\prod_i r_i^{(c-1)/2} \\prod_j c_j^{(r-1)/2},

    so that :math:`FI` is asymptotically :math:`\\chi^2_{(r-1)(c-1)}`. The formula is verified
    against the paper's printed statistics (for example Table 9 "fatigue", 1.484, and Table 1
    ECOG, 5.060) in ``tests/test_statistics.py``. SPSS reports this statistic with the *exact*
    p-value of the Fisher-Freeman-Halton test (:func:`exact_tests`), not with a chi-square p.

    References
    ----------
    Freeman GH, Halton JH (1951). Note on an exact treatment of contingency, goodness of fit and
    other problems of significance. *Biometrika* 38:141-149.
    Mehta CR, Patel NR (2011). *IBM SPSS Exact Tests*. IBM Corp., chapter "Contingency tables".

    Examples
    --------
    >>> from cit_bayes.paper.statistics import spss_fisher_statistic
    >>> round(spss_fisher_statistic([[3, 1, 4], [1, 5, 9]]), 3)
    3.389
    """
    counts = _as_table(table)
    rows, columns = counts.sum(axis=1), counts.sum(axis=0)
    n_rows, n_columns = counts.shape
    total = counts.sum()
    log_gamma = (
        (n_rows - 1) * (n_columns - 1) / 2 * math.log(2 * math.pi)
        - (n_rows * n_columns - 1) / 2 * math.log(total)
        + (n_columns - 1) / 2 * np.log(rows).sum()
        + (n_rows - 1) / 2 * np.log(columns).sum()
    )
    return float(-2 * (log_gamma + table_log_probability(counts)))


def exact_tests(
    table,
    *,
    method: str = "auto",
    max_tables: int = 2_000_000,
    monte_carlo_samples: int = 100_000,
    seed: int | np.random.Generator | None = None,
) -> list[TestResult]:
    """Exact (or Monte Carlo) p-values of the Fisher-Freeman-Halton, Pearson and G² tests.

    Parameters
    ----------
    table : array_like of int
        Counts, rows x columns (any size; empty rows/columns are dropped).
    method : {"auto", "exact", "monte_carlo"}
        ``auto`` enumerates when an upper bound on the number of tables visited is at most
        ``max_tables`` and samples otherwise.
    max_tables : int
        Largest enumeration attempted by ``auto``.
    monte_carlo_samples : int
        Tables drawn for a Monte Carlo p-value.
    seed : int or numpy.random.Generator
        Needed for a Monte Carlo p-value (an error is raised if it is needed and missing).

    Returns
    -------
    list of TestResult
        ``fisher_freeman_halton`` (statistic: :func:`spss_fisher_statistic`),
        ``pearson_chi2_exact`` and ``likelihood_ratio_g2_exact``, in that order.

    Notes
    -----
    Conditional on both margins, tables follow the multiple hypergeometric distribution. The
    Fisher-Freeman-Halton p is :math:`\\sum P(t)` over tables :math:`t` with
    :math:`P(t) \\le P(\\text{observed})`; the exact p of a statistic :math:`S` (Pearson's
    :math:`X^2`, :math:`G^2`) is :math:`\\sum P(t)` over tables with :math:`S(t) \\ge S(obs)`.
    Ties are kept with a relative tolerance of 1e-7. Enumeration fills one row at a time (all
    rows but the largest), the table oriented so that the fewest tables are visited; the
    statistics are sums over rows, so only the remaining column totals and running sums are
    carried. The Monte Carlo p is the share of :math:`B` tables drawn with Patefield's algorithm
    (``scipy.stats.random_table``) that are at least as extreme, with standard error
    :math:`\\sqrt{\\hat p (1 - \\hat p) / B}`.

    Examples
    --------
    The 2 x 2 table [[3, 1], [1, 3]] has margins 4, 4 and 4, 4: its five possible tables (top
    left cell 0 to 4) have probabilities 1, 16, 36, 16 and 1 in 70, and the observed one (3)
    16/70, so every test's exact p is (1 + 16 + 16 + 1) / 70, as Fisher's exact test gives:

    >>> from cit_bayes.paper.statistics import exact_tests
    >>> fisher, pearson, g2 = exact_tests([[3, 1], [1, 3]])
    >>> fisher.test, fisher.p_method, fisher.n_tables
    ('fisher_freeman_halton', 'exact', 5)
    >>> abs(fisher.p_value - 34 / 70) < 1e-12, abs(pearson.p_value - 34 / 70) < 1e-12
    (True, True)
    >>> pearson.statistic  # X2 = N (ad - bc)^2 / (4 * 4 * 4 * 4) = 8 * 64 / 256
    2.0

    References
    ----------
    Freeman GH, Halton JH (1951). *Biometrika* 38:141-149.
    Patefield WM (1981). Algorithm AS 159: an efficient method of generating random r x c tables
    with given row and column totals. *Appl Stat* 30:91-97.
    Mehta CR, Patel NR (1983). A network algorithm for performing Fisher's exact test in r x c
    contingency tables. *J Am Stat Assoc* 78:427-434.
    """
    counts = _as_table(table)
    if method not in ("auto", "exact", "monte_carlo"):
        raise PublishedDataError(f"unknown method {method!r}; use auto, exact or monte_carlo")
    bound = min(enumeration_bound(counts), enumeration_bound(counts.T))
    use_exact = method == "exact" or (method == "auto" and bound <= max_tables)
    expected = expected_counts(counts)
    observed_log_p = log_probability(counts[None], counts.sum(axis=1), counts.sum(axis=0))[0]
    observed_x2 = pearson_statistic(counts[None], expected)[0]
    observed_g2 = g2_statistic(counts[None], expected)[0]
    fisher_statistic = spss_fisher_statistic(counts)
    df = float((counts.shape[0] - 1) * (counts.shape[1] - 1))
    log_tolerance = math.log1p(RELATIVE_TOLERANCE)
    if use_exact:
        oriented = counts if enumeration_bound(counts) <= enumeration_bound(counts.T) else counts.T
        log_p, x2, g2 = enumerate_tables(oriented)
        probability = np.exp(log_p)
        p_values = [
            probability[log_p <= observed_log_p + log_tolerance].sum(),
            probability[x2 >= observed_x2 * (1 - RELATIVE_TOLERANCE)].sum(),
            probability[g2 >= observed_g2 * (1 - RELATIVE_TOLERANCE)].sum(),
        ]
        p_values = [float(min(1.0, p)) for p in p_values]
        ses, n_tables, used_seed, p_method = [0.0] * 3, len(log_p), None, "exact"
    else:
        if seed is None:
            raise PublishedDataError(
                "a Monte Carlo p-value needs a seed (the table is too large to enumerate)"
            )
        if monte_carlo_samples < 1:
            raise PublishedDataError("monte_carlo_samples must be at least 1")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        log_p, x2, g2 = sample_tables(counts, monte_carlo_samples, rng)
        p_values = [
            float(np.mean(log_p <= observed_log_p + log_tolerance)),
            float(np.mean(x2 >= observed_x2 * (1 - RELATIVE_TOLERANCE))),
            float(np.mean(g2 >= observed_g2 * (1 - RELATIVE_TOLERANCE))),
        ]
        ses = [math.sqrt(p * (1 - p) / monte_carlo_samples) for p in p_values]
        n_tables, p_method = monte_carlo_samples, "monte_carlo"
        used_seed = seed if isinstance(seed, int | np.integer) else None
    names = ("fisher_freeman_halton", "pearson_chi2_exact", "likelihood_ratio_g2_exact")
    statistics_ = (fisher_statistic, float(observed_x2), float(observed_g2))
    return [
        TestResult(name, stat, df, p, p_method, se, int(n_tables), used_seed)
        for name, stat, p, se in zip(names, statistics_, p_values, ses, strict=True)
    ]


def contingency_tests(
    table,
    *,
    max_tables: int = 2_000_000,
    monte_carlo_samples: int = 100_000,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Every candidate test of a table, as SPSS would print them, in one tidy DataFrame.

    Returns
    -------
    pandas.DataFrame
        One row per test with columns ``test``, ``statistic``, ``df``, ``p_value``,
        ``p_method``, ``monte_carlo_se``, ``n_tables``, ``seed``, ``df2``: Pearson
        chi-square (asymptotic), continuity-corrected chi-square (2x2 only), G² (asymptotic),
        Fisher's exact test (2x2 only), Fisher-Freeman-Halton with the SPSS statistic, and
        exact (or Monte Carlo) p-values of Pearson and G².

    Examples
    --------
    >>> contingency_tests([[45, 19], [34, 2]])["test"].tolist()[:3]
    ['pearson_chi2', 'pearson_chi2_yates', 'likelihood_ratio_g2']
    """
    counts = _as_table(table)
    results = [pearson_chi2(counts)]
    if counts.shape == (2, 2):
        results.append(pearson_chi2(counts, correction=True))
    results.append(likelihood_ratio_g2(counts))
    if counts.shape == (2, 2):
        results.append(fisher_exact_2x2(counts))
    results.extend(
        exact_tests(
            counts, max_tables=max_tables, monte_carlo_samples=monte_carlo_samples, seed=seed
        )
    )
    return pd.DataFrame([result.to_dict() for result in results])
