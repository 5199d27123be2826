"""Tests recomputed from printed summary statistics (means, SDs or SEs, group sizes).

Plain functions for what a reader can recompute from a table of ``mean ± s`` cells: the one-way
ANOVA F (and Welch's F), the Wald chi-square of equal means from standard errors, two-sample and
post-hoc (Fisher LSD) mean differences with their intervals, and the p-value of a printed
statistic given its distribution and degrees of freedom. :func:`value_range` gives the range of
any such recomputation over the rounding of its printed inputs (statcheck-style).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.statistics import TestResult

__all__ = [
    "MeanDifference",
    "anova_from_summary",
    "lsd_difference",
    "p_from_statistic",
    "two_sample_difference",
    "value_range",
    "wald_chi2_from_summary",
    "welch_anova_from_summary",
]


@dataclass(frozen=True)
class MeanDifference:
    """A difference of two means (first minus second) with its interval and test.

    Attributes
    ----------
    method : str
        ``pooled_t`` (Student), ``welch_t`` or ``lsd`` (Fisher's least significant difference,
        pooled MSE of all groups).
    difference, ci_low, ci_high : float
        The difference and its confidence interval.
    standard_error, statistic, df, p_value : float
        Standard error of the difference, t statistic, its df and two-sided p.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import MeanDifference
    >>> d = MeanDifference("pooled_t", 2.0, 0.72, 3.28, 0.63, 3.16, 38.0, 0.003)
    >>> d.to_dict()["method"], d.df
    ('pooled_t', 38.0)
    """

    method: str
    difference: float
    ci_low: float
    ci_high: float
    standard_error: float
    statistic: float
    df: float
    p_value: float

    def to_dict(self) -> dict:
        """Return the fields as a plain dict."""
        return asdict(self)


def _vectors(*arrays: Sequence[float]) -> list[np.ndarray]:
    vectors = [np.asarray(a, dtype=float) for a in arrays]
    length = len(vectors[0])
    if any(v.ndim != 1 or len(v) != length for v in vectors) or length < 2:
        raise PublishedDataError("summary statistics need one value per group, two groups or more")
    if any(not np.all(np.isfinite(v)) for v in vectors):
        raise PublishedDataError("summary statistics must be finite numbers")
    return vectors


def p_from_statistic(
    statistic: float, distribution: str, df: float | None = None, df2: float | None = None
) -> float:
    """The p-value of a reported statistic.

    Parameters
    ----------
    statistic : float
    distribution : {"chi2", "f", "t", "z"}
        ``chi2`` and ``f`` are upper-tail; ``t`` and ``z`` are two-sided.
    df, df2 : float
        Degrees of freedom (``df2``: denominator of F).

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import p_from_statistic
    >>> round(p_from_statistic(1.96, "z"), 3), round(p_from_statistic(3.84, "chi2", 1), 3)
    (0.05, 0.05)
    """
    if distribution == "chi2":
        return float(stats.chi2.sf(statistic, df))
    if distribution == "f":
        return float(stats.f.sf(statistic, df, df2))
    if distribution == "t":
        return float(2 * stats.t.sf(abs(statistic), df))
    if distribution == "z":
        return float(2 * stats.norm.sf(abs(statistic)))
    raise PublishedDataError(f"unknown distribution {distribution!r}; use chi2, f, t or z")


def anova_from_summary(means, sds, ns) -> TestResult:
    """One-way ANOVA F from group means, standard deviations and sizes.

    Notes
    -----
    :math:`F = \\frac{\\sum_i n_i (\\bar y_i - \\bar y)^2 / (k-1)}
    {\\sum_i (n_i - 1) s_i^2 / (N-k)}` on :math:`(k-1, N-k)` df, with :math:`\\bar y` the
    size-weighted grand mean. Equal to ``scipy.stats.f_oneway`` on any samples with these
    summaries.

    References
    ----------
    Larson DA (1992). Analysis of variance with just summary statistics as input. *Am Stat*
    46:151-152.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import anova_from_summary
    >>> result = anova_from_summary([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [10, 10, 10])
    >>> round(result.statistic, 3), result.df, result.df2
    (10.0, 2.0, 27.0)
    """
    means, sds, ns = _vectors(means, sds, ns)
    if np.any(ns < 2) or np.any(sds < 0):
        raise PublishedDataError("ANOVA needs n >= 2 and a non-negative SD in every group")
    k, total = len(means), ns.sum()
    grand = (ns * means).sum() / total
    between = (ns * (means - grand) ** 2).sum() / (k - 1)
    within = ((ns - 1) * sds**2).sum() / (total - k)
    statistic = float(between / within)
    p_value = p_from_statistic(statistic, "f", k - 1, total - k)
    return TestResult("anova_f", statistic, float(k - 1), p_value, df2=float(total - k))


def welch_anova_from_summary(means, sds, ns) -> TestResult:
    """Welch's heteroscedastic one-way ANOVA F from summary statistics.

    References
    ----------
    Welch BL (1951). On the comparison of several mean values: an alternative approach.
    *Biometrika* 38:330-336.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import welch_anova_from_summary
    >>> result = welch_anova_from_summary([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [10, 10, 10])
    >>> round(result.statistic, 3), round(result.df2, 3)
    (9.643, 18.0)
    """
    means, sds, ns = _vectors(means, sds, ns)
    if np.any(ns < 2) or np.any(sds <= 0):
        raise PublishedDataError("Welch's ANOVA needs n >= 2 and a positive SD in every group")
    k = len(means)
    weights = ns / sds**2
    weighted_mean = (weights * means).sum() / weights.sum()
    a = (weights * (means - weighted_mean) ** 2).sum() / (k - 1)
    lam = ((1 - weights / weights.sum()) ** 2 / (ns - 1)).sum()
    statistic = float(a / (1 + 2 * (k - 2) / (k**2 - 1) * lam))
    df2 = float((k**2 - 1) / (3 * lam))
    p_value = p_from_statistic(statistic, "f", k - 1, df2)
    return TestResult("welch_anova_f", statistic, float(k - 1), p_value, df2=df2)


def wald_chi2_from_summary(means, standard_errors) -> TestResult:
    """Wald chi-square test that k means are equal, from their standard errors.

    Notes
    -----
    With independent estimates :math:`\\hat\\mu_i` and standard errors :math:`s_i`, weights
    :math:`w_i = 1/s_i^2` and :math:`\\bar\\mu_w = \\sum w_i \\hat\\mu_i / \\sum w_i`,

    .. math:: W = \\sum_i w_i (\\hat\\mu_i - \\bar\\mu_w)^2 \\sim \\chi^2_{k-1}.

    For two groups :math:`W = (\\hat\\mu_1 - \\hat\\mu_2)^2 / (s_1^2 + s_2^2)`, the square of a
    z statistic. This is the Wald test of equal means a generalised linear model with
    group-specific variances reports (for example SPSS GENLIN's pairwise comparisons of
    estimated marginal means).

    References
    ----------
    Wald A (1943). Tests of statistical hypotheses concerning several parameters when the number
    of observations is large. *Trans Am Math Soc* 54:426-482.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import wald_chi2_from_summary
    >>> result = wald_chi2_from_summary([1.0, 2.0], [0.5, 0.5])
    >>> round(result.statistic, 3), result.df, round(result.p_value, 3)
    (2.0, 1.0, 0.157)
    """
    means, standard_errors = _vectors(means, standard_errors)
    if np.any(standard_errors <= 0):
        raise PublishedDataError("standard errors must be positive")
    weights = 1 / standard_errors**2
    pooled = (weights * means).sum() / weights.sum()
    statistic = float((weights * (means - pooled) ** 2).sum())
    df = len(means) - 1
    return TestResult("wald_chi2", statistic, float(df), p_from_statistic(statistic, "chi2", df))


def two_sample_difference(
    mean_a: float,
    sd_a: float,
    n_a: float,
    mean_b: float,
    sd_b: float,
    n_b: float,
    *,
    equal_var: bool = True,
    confidence: float = 0.95,
) -> MeanDifference:
    """Difference of two means (a - b) with Student's (pooled) or Welch's t interval and test.

    Notes
    -----
    Pooled: :math:`s_p^2 = ((n_a-1)s_a^2 + (n_b-1)s_b^2)/(n_a+n_b-2)`,
    :math:`SE = s_p\\sqrt{1/n_a + 1/n_b}` on :math:`n_a+n_b-2` df. Welch:
    :math:`SE = \\sqrt{s_a^2/n_a + s_b^2/n_b}` on the Welch-Satterthwaite df. Agrees with
    ``scipy.stats.ttest_ind_from_stats``.

    References
    ----------
    Welch BL (1947). The generalization of "Student's" problem when several different population
    variances are involved. *Biometrika* 34:28-35.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import two_sample_difference
    >>> d = two_sample_difference(10.0, 2.0, 20, 8.0, 2.0, 20)
    >>> d.method, d.df, round(d.ci_low, 3), round(d.ci_high, 3)
    ('pooled_t', 38.0, 0.72, 3.28)
    """
    if min(n_a, n_b) < 2 or min(sd_a, sd_b) < 0:
        raise PublishedDataError("a two-sample t needs n >= 2 and non-negative SDs")
    if equal_var:
        df = n_a + n_b - 2
        pooled = ((n_a - 1) * sd_a**2 + (n_b - 1) * sd_b**2) / df
        se = math.sqrt(pooled * (1 / n_a + 1 / n_b))
        method = "pooled_t"
    else:
        va, vb = sd_a**2 / n_a, sd_b**2 / n_b
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
        method = "welch_t"
    return _difference(method, mean_a - mean_b, se, df, confidence)


def lsd_difference(means, sds, ns, a: int, b: int, *, confidence: float = 0.95) -> MeanDifference:
    """Fisher's least-significant-difference comparison of groups ``a`` and ``b`` (a - b).

    Notes
    -----
    The post-hoc test SPSS labels "LSD": :math:`SE = \\sqrt{MSE (1/n_a + 1/n_b)}` with the
    within-group mean square of the one-way ANOVA of all k groups,
    :math:`MSE = \\sum (n_i - 1) s_i^2 / (N - k)`, on :math:`N - k` df.

    References
    ----------
    Fisher RA (1935). *The Design of Experiments*. Oliver and Boyd, section 24.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import lsd_difference
    >>> d = lsd_difference([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [10, 10, 10], 2, 0)
    >>> d.method, d.df, round(d.statistic, 3)
    ('lsd', 27.0, 4.472)
    """
    means, sds, ns = _vectors(means, sds, ns)
    if np.any(ns < 2):
        raise PublishedDataError("LSD needs n >= 2 in every group")
    df = ns.sum() - len(means)
    mse = ((ns - 1) * sds**2).sum() / df
    se = math.sqrt(mse * (1 / ns[a] + 1 / ns[b]))
    return _difference("lsd", float(means[a] - means[b]), se, float(df), confidence)


def _difference(
    method: str, difference: float, se: float, df: float, confidence: float
) -> MeanDifference:
    if not 0 < confidence < 1:
        raise PublishedDataError("confidence must lie strictly between 0 and 1")
    half_width = stats.t.ppf(0.5 + confidence / 2, df) * se
    statistic = difference / se if se > 0 else math.copysign(math.inf, difference)
    return MeanDifference(
        method,
        float(difference),
        float(difference - half_width),
        float(difference + half_width),
        float(se),
        float(statistic),
        float(df),
        p_from_statistic(statistic, "t", df),
    )


def value_range(
    function: Callable[[np.ndarray], float],
    values: Sequence[float],
    half_widths: Sequence[float],
) -> tuple[float, float]:
    """Range of ``function(values)`` when each value may be off by up to its half-width.

    Used for the rounding of printed inputs: a mean printed as 9.12 lies in [9.115, 9.125].

    Parameters
    ----------
    function : callable
        Takes a 1-D array of the inputs, returns a number. Should be smooth on the box.
    values, half_widths : sequence of float
        The printed inputs and the half-width of their rounding (half a unit in the last
        printed place); 0 for an exact input such as a count.

    Returns
    -------
    (low, high) : tuple of float

    Notes
    -----
    The box is tiny, so the function is close to linear on it: its extremes lie at the corners
    the gradient points to. The gradient's signs are taken by central differences; the function
    is then evaluated exactly at the centre and at both corners, and the range is the minimum
    and maximum of the three.

    Examples
    --------
    >>> from cit_bayes.paper.statistics_summary import value_range
    >>> low, high = value_range(sum, [9.12, 1.0], [0.005, 0.0])
    >>> round(low, 3), round(high, 3)
    (10.115, 10.125)
    """
    centre = np.asarray(values, dtype=float)
    widths = np.asarray(half_widths, dtype=float)
    if centre.shape != widths.shape or np.any(widths < 0):
        raise PublishedDataError("values and non-negative half-widths must have the same shape")
    gradient = np.zeros_like(centre)
    for i in np.flatnonzero(widths):
        step = np.zeros_like(centre)
        step[i] = widths[i] * 1e-3
        gradient[i] = function(centre + step) - function(centre - step)
    direction = np.sign(gradient) * widths
    results = [function(centre), function(centre + direction), function(centre - direction)]
    return float(min(results)), float(max(results))
