"""Balance diagnostics for weighted comparisons of k >= 2 arms: plain functions, tidy tables.

Balance is judged on the balance encoding of :func:`cit_bayes.weighting.design.encode_covariates`:
numeric covariates by their mean, categorical covariates by the share of every level.

Standardised mean difference
----------------------------
For a covariate (or level) x and a pair of arms (a, b),

.. math::

    \\mathrm{SMD}_{ab} = \\frac{|\\bar x_a - \\bar x_b|}{\\sqrt{(s_a^2 + s_b^2)/2}},

where the means are unweighted (``smd_unweighted``) or weighted (``smd_weighted``, Hajek means
:math:`\\sum w_i x_i / \\sum w_i` within the arm) and the **denominator is the same in both**: the
square root of the mean of the two arms' *unweighted* variances, so that a change from before to
after weighting reflects the means only (Austin & Stuart 2015; Li, Morgan & Zaslavsky 2018).
Variances: :math:`p(1-p)` for a 0/1 covariate or a level indicator, the sample variance
(divisor n - 1) otherwise. If both arms have variance 0 (a level absent from both), the
denominator falls back to the unweighted variance of all patients; ``smd_denominator`` holds the
value used. An arm needs 2 patients with positive weight (else a ``WeightingError`` names it).
``max_smd_*`` is the maximum over all pairs of arms.

Variance ratio
--------------
``variance_ratio_* = s_a^2 / s_b^2``, unweighted or weighted. The weighted variance of a numeric
covariate is :math:`\\sum w (x - \\bar x_w)^2 / (V_1 - V_2 / V_1)` with :math:`V_1 = \\sum w`,
:math:`V_2 = \\sum w^2` (reliability weights; the sample variance when all weights are equal); of a
0/1 covariate :math:`\\bar x_w (1 - \\bar x_w)`. The ratio is NaN where arm b's variance is 0.

Effective sample size and weight summary
----------------------------------------
Kish's effective sample size of an arm is :math:`(\\sum w)^2 / \\sum w^2` (Kish 1965). The weight
summary reports, among patients with positive weight, the maximum, the coefficient of variation
(SD with divisor n over the mean) and the share of the total weight held by the top 1% of patients
(the :math:`\\lceil 0.01 n \\rceil` largest weights).

References
----------
Austin PC, Stuart EA (2015). Moving towards best practice when using inverse probability of
treatment weighting (IPTW) using the propensity score to estimate causal treatment effects in
observational studies. Statistics in Medicine 34(28):3661-3679.
Li F, Morgan KL, Zaslavsky AM (2018). Balancing covariates via propensity score weighting.
Journal of the American Statistical Association 113(521):390-400.
Kish L (1965). Survey Sampling. New York: Wiley.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from cit_bayes.exceptions import WeightingError
from cit_bayes.weighting.design import encode_covariates

__all__ = [
    "arm_codes",
    "arm_means",
    "balance_from_matrix",
    "balance_summary",
    "balance_table",
    "effective_sample_size",
    "propensity_overlap",
    "weight_summary",
    "weighted_table_one",
]

BALANCE_COLUMNS: tuple[str, ...] = (
    "covariate", "level", "kind", "arm_a", "arm_b",
    "mean_a_unweighted", "mean_b_unweighted", "mean_a_weighted", "mean_b_weighted",
    "difference_unweighted", "difference_weighted", "smd_denominator",
    "smd_unweighted", "smd_weighted", "variance_ratio_unweighted", "variance_ratio_weighted",
    "max_smd_unweighted", "max_smd_weighted",
)  # fmt: skip


def arm_codes(arm, arms=None) -> tuple[np.ndarray, tuple]:
    """Integer codes of ``arm`` and the arm order (categories, else sorted, unless ``arms``).

    Examples
    --------
    >>> codes, arms = arm_codes(["b", "a", "b"])
    >>> codes.tolist(), arms
    ([1, 0, 1], ('a', 'b'))
    """
    series = pd.Series(arm).reset_index(drop=True)
    n_missing = int(series.isna().sum())
    if n_missing:
        raise WeightingError(f"the treatment has {n_missing} missing value(s)")
    if arms is None:
        if isinstance(series.dtype, pd.CategoricalDtype):
            present = set(series)
            arms = tuple(c for c in series.cat.categories if c in present)
        else:
            arms = tuple(sorted(set(series), key=lambda v: (str(type(v)), v)))
    else:
        arms = tuple(arms)
        if len(set(arms)) != len(arms):
            raise WeightingError(f"arms must be distinct; got {list(arms)}")
    lookup = {label: j for j, label in enumerate(arms)}
    values = series.astype(object)
    unknown = sorted({str(v) for v in values if v not in lookup})
    if unknown:
        raise WeightingError(f"treatment values {unknown} are not among the arms {list(arms)}")
    return np.array([lookup[v] for v in values], dtype=int), arms


def _weighted_stats(x, w, kind):
    """Weighted mean and variance of one column within one arm (see module docstring)."""
    total = w.sum()
    mean = float(np.sum(w * x) / total)
    if kind != "numeric":
        return mean, mean * (1.0 - mean)
    denom = total - np.sum(w**2) / total
    var = float(np.sum(w * (x - mean) ** 2) / denom) if denom > 0 else np.nan
    return mean, var


def _arm_statistics(matrix, kinds, codes, arms, weights):
    q = matrix.shape[1]
    stats = {key: np.zeros((len(arms), q)) for key in ("mu", "vu", "mw", "vw")}
    for j, label in enumerate(arms):
        rows = codes == j
        ones = np.ones(int(rows.sum()))
        w = weights[rows]
        if np.sum(w > 0) < 2:  # one patient: its variance (in the SMD) is not defined
            raise WeightingError(
                f"arm {label!r} has {np.sum(w > 0)} patient(s) with positive weight: balance "
                "needs at least 2 (the SMD uses its variance)"
            )
        for c in range(q):
            x = matrix[rows, c]
            stats["mu"][j, c], stats["vu"][j, c] = _weighted_stats(x, ones, kinds[c])
            stats["mw"][j, c], stats["vw"][j, c] = _weighted_stats(x, w, kinds[c])
    return stats


def _ratio(numerator, denominator):
    return numerator / denominator if denominator > 0 else np.nan


def balance_from_matrix(matrix, columns: pd.DataFrame, codes, arms, weights) -> pd.DataFrame:
    """Array core of :func:`balance_table` on an already encoded balance matrix.

    Examples
    --------
    >>> d = encode_covariates(pd.DataFrame({"age": [50, 60, 70, 80]}))
    >>> t = balance_from_matrix(d.balance_matrix, d.balance_columns, [0, 0, 1, 1], "ab", [1] * 4)
    >>> round(float(t.loc[0, "smd_weighted"]), 3)
    2.828
    """
    codes = np.asarray(codes, dtype=int)
    weights = np.asarray(weights, dtype=float)
    kinds = list(columns["kind"])
    stats = _arm_statistics(matrix, kinds, codes, arms, weights)
    rows = []
    for c, (covariate, level, kind) in enumerate(
        columns[["covariate", "level", "kind"]].itertuples(index=False)
    ):
        x = matrix[:, c]
        overall = _weighted_stats(x, np.ones(len(x)), kind)[1]
        for a, b in itertools.combinations(range(len(arms)), 2):
            s2 = (stats["vu"][a, c] + stats["vu"][b, c]) / 2
            denominator = math.sqrt(s2) if s2 > 0 else math.sqrt(overall)
            du = stats["mu"][a, c] - stats["mu"][b, c]
            dw = stats["mw"][a, c] - stats["mw"][b, c]
            rows.append(
                {
                    "covariate": covariate,
                    "level": level,
                    "kind": kind,
                    "arm_a": arms[a],
                    "arm_b": arms[b],
                    "mean_a_unweighted": stats["mu"][a, c],
                    "mean_b_unweighted": stats["mu"][b, c],
                    "mean_a_weighted": stats["mw"][a, c],
                    "mean_b_weighted": stats["mw"][b, c],
                    "difference_unweighted": du,
                    "difference_weighted": dw,
                    "smd_denominator": denominator,
                    "smd_unweighted": abs(du) / denominator,
                    "smd_weighted": abs(dw) / denominator,
                    "variance_ratio_unweighted": _ratio(stats["vu"][a, c], stats["vu"][b, c]),
                    "variance_ratio_weighted": _ratio(stats["vw"][a, c], stats["vw"][b, c]),
                }
            )
    table = pd.DataFrame(rows)
    keys = ["covariate", "level"]
    for when in ("unweighted", "weighted"):
        table[f"max_smd_{when}"] = table.groupby(keys, sort=False)[f"smd_{when}"].transform("max")
    return table.loc[:, list(BALANCE_COLUMNS)]


def balance_table(X, arm, weights, *, arms=None, rare_level_min: int = 0) -> pd.DataFrame:
    """Balance of every covariate (or level) for every pair of arms, before and after weighting.

    Parameters
    ----------
    X : pandas.DataFrame
        Covariates, one row per patient (missing values are an error).
    arm : array-like, shape (n,)
        Each patient's arm.
    weights : array-like, shape (n,)
        Non-negative weights (0 = outside the target population). Unweighted statistics use
        every patient. Every arm needs 2 patients with positive weight (else WeightingError).
    arms : sequence, optional
        Arm order (default: the categories of ``arm`` if categorical, else sorted).
    rare_level_min : int, default 0
        Pool rare levels as the propensity model does (0: every level on its own).

    Returns
    -------
    pandas.DataFrame
        One row per covariate (or level) and pair of arms; columns ``covariate, level, kind,
        arm_a, arm_b``, the arms' unweighted and weighted means, the signed differences (a - b),
        ``smd_denominator``, ``smd_unweighted``, ``smd_weighted`` (absolute),
        ``variance_ratio_unweighted``, ``variance_ratio_weighted`` and ``max_smd_unweighted``,
        ``max_smd_weighted`` (over pairs). Definitions in the module docstring.

    References
    ----------
    Austin PC, Stuart EA (2015). Statistics in Medicine 34(28):3661-3679.

    Examples
    --------
    >>> table = balance_table(pd.DataFrame({"age": [50, 60, 70, 80]}), list("aabb"), [1, 1, 1, 1])
    >>> table.shape, round(float(table.loc[0, "smd_unweighted"]), 3)
    ((1, 18), 2.828)
    """
    codes, arms = arm_codes(arm, arms)
    weights = _check_weights(weights, len(codes))
    design = encode_covariates(X, rare_level_min=rare_level_min)
    if len(design.balance_matrix) != len(codes):
        raise WeightingError(f"{len(codes)} arm labels for {len(design.balance_matrix)} rows")
    return balance_from_matrix(design.balance_matrix, design.balance_columns, codes, arms, weights)


def balance_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per covariate (or level): the largest pairwise |SMD| before and after weighting.

    Columns ``covariate, level, kind, max_smd_unweighted, max_smd_weighted,
    pair_max_unweighted, pair_max_weighted`` (the pair of arms attaining each maximum).

    Examples
    --------
    >>> table = balance_table(pd.DataFrame({"age": [50, 60, 70, 80]}), list("aabb"), [1, 1, 1, 1])
    >>> balance_summary(table)["pair_max_weighted"].tolist()
    ['a vs b']
    """
    keys = ["covariate", "level", "kind"]
    rows = []
    for key, group in table.groupby(keys, sort=False):
        record = dict(zip(keys, key, strict=True))
        for when in ("unweighted", "weighted"):
            top = group.loc[group[f"smd_{when}"].idxmax()]
            record[f"max_smd_{when}"] = float(top[f"smd_{when}"])
            record[f"pair_max_{when}"] = f"{top['arm_a']} vs {top['arm_b']}"
        rows.append(record)
    return pd.DataFrame(rows)


def _check_weights(weights, n: int) -> np.ndarray:
    values = np.asarray(weights, dtype=float)
    if values.shape != (n,):
        raise WeightingError(f"expected {n} weights; got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise WeightingError("weights must be finite and non-negative")
    return values


def arm_means(matrix, columns: pd.DataFrame, codes, arms, weights) -> pd.DataFrame:
    """Per covariate (or level) and arm: unweighted and weighted mean and SD (tidy).

    Examples
    --------
    >>> d = encode_covariates(pd.DataFrame({"age": [50, 60, 70, 80]}))
    >>> means = arm_means(d.balance_matrix, d.balance_columns, [0, 0, 1, 1], "ab", [1] * 4)
    >>> means["mean_weighted"].tolist()
    [55.0, 75.0]
    """
    weights = np.asarray(weights, dtype=float)
    kinds = list(columns["kind"])
    stats = _arm_statistics(matrix, kinds, np.asarray(codes), arms, weights)
    rows = []
    for c, (covariate, level, kind) in enumerate(
        columns[["covariate", "level", "kind"]].itertuples(index=False)
    ):
        for j, label in enumerate(arms):
            rows.append(
                {
                    "covariate": covariate,
                    "level": level,
                    "kind": kind,
                    "arm": label,
                    "mean_unweighted": stats["mu"][j, c],
                    "sd_unweighted": math.sqrt(stats["vu"][j, c]),
                    "mean_weighted": stats["mw"][j, c],
                    "sd_weighted": math.sqrt(stats["vw"][j, c]),
                }
            )
    return pd.DataFrame(rows)


def effective_sample_size(weights, arm, *, arms=None) -> pd.DataFrame:
    """Kish effective sample size per arm, ``(sum w)^2 / sum w^2``.

    Returns
    -------
    pandas.DataFrame
        ``arm, n, n_weighted`` (patients with positive weight), ``sum_weights``, ``ess`` and
        ``ess_share`` (ess / n).

    References
    ----------
    Kish L (1965). Survey Sampling. New York: Wiley.

    Examples
    --------
    >>> effective_sample_size([1, 3, 2, 2], ["a", "a", "b", "b"])["ess"].tolist()
    [1.6, 2.0]
    """
    codes, arms = arm_codes(arm, arms)
    weights = _check_weights(weights, len(codes))
    rows = []
    for j, label in enumerate(arms):
        w = weights[codes == j]
        total = w.sum()
        ess = total**2 / np.sum(w**2) if total > 0 else 0.0
        rows.append(
            {
                "arm": label,
                "n": len(w),
                "n_weighted": int(np.sum(w > 0)),
                "sum_weights": float(total),
                "ess": float(ess),
                "ess_share": float(ess / len(w)) if len(w) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _summarise(w: np.ndarray) -> dict:
    positive = w[w > 0]
    if len(positive) == 0:
        return {"n_weighted": 0, "min": np.nan, "max": np.nan, "mean": np.nan, "cv": np.nan,
                "top1_n": 0, "top1_share": np.nan}  # fmt: skip
    top_n = math.ceil(0.01 * len(positive))
    top = np.sort(positive)[::-1][:top_n]
    return {
        "n_weighted": len(positive),
        "min": float(positive.min()),
        "max": float(positive.max()),
        "mean": float(positive.mean()),
        "cv": float(positive.std() / positive.mean()),
        "top1_n": top_n,
        "top1_share": float(top.sum() / positive.sum()),
    }


def weight_summary(weights, arm, *, arms=None) -> pd.DataFrame:
    """Weight distribution per arm and over all patients.

    Returns
    -------
    pandas.DataFrame
        ``scope`` (``"arm"`` or ``"all"``), ``arm`` (empty for ``"all"``), ``n``, ``n_weighted``
        (positive weight), ``min``, ``max``, ``mean``, ``cv`` (SD with divisor n / mean),
        ``top1_n`` (ceil(1% of n_weighted)) and ``top1_share`` (their share of the total weight),
        all among patients with positive weight.

    Examples
    --------
    >>> summary = weight_summary([1, 3, 2, 2], ["a", "a", "b", "b"])
    >>> summary["scope"].tolist(), summary["max"].tolist()
    (['arm', 'arm', 'all'], [3.0, 2.0, 3.0])
    """
    codes, arms = arm_codes(arm, arms)
    weights = _check_weights(weights, len(codes))
    rows = [
        {
            "scope": "arm",
            "arm": label,
            "n": int(np.sum(codes == j)),
            **_summarise(weights[codes == j]),
        }
        for j, label in enumerate(arms)
    ]
    rows.append({"scope": "all", "arm": "", "n": len(weights), **_summarise(weights)})
    return pd.DataFrame(rows)


def propensity_overlap(propensity: pd.DataFrame, arm, *, arms=None) -> pd.DataFrame:
    """Distribution of each arm's propensity among the patients of each actual arm.

    Parameters
    ----------
    propensity : pandas.DataFrame, shape (n, k)
        One column per arm.
    arm : array-like, shape (n,)

    Returns
    -------
    pandas.DataFrame
        ``propensity_arm`` (whose propensity), ``arm`` (actual arm), ``n``, ``min``, ``p05``,
        ``p25``, ``median``, ``p75``, ``p95``, ``max``, ``support_low``, ``support_high`` and
        ``n_outside_support``. The common support of ``propensity_arm``'s propensity is
        [max over actual arms of their minimum, min over actual arms of their maximum]: the range
        where every arm has patients; ``n_outside_support`` counts the arm's patients outside it.

    Examples
    --------
    >>> propensity = pd.DataFrame({"a": [0.7, 0.5, 0.6, 0.3], "b": [0.3, 0.5, 0.4, 0.7]})
    >>> propensity_overlap(propensity, ["a", "a", "b", "b"])["n_outside_support"].tolist()
    [1, 1, 1, 1]
    """
    codes, arms = arm_codes(arm, arms if arms is not None else list(propensity.columns))
    values = propensity.to_numpy(dtype=float)
    rows = []
    for k, target in enumerate(propensity.columns):
        by_arm = [values[codes == j, k] for j in range(len(arms))]
        low = max(v.min() for v in by_arm)
        high = min(v.max() for v in by_arm)
        for j, label in enumerate(arms):
            v = by_arm[j]
            q = np.percentile(v, [5, 25, 50, 75, 95])
            rows.append(
                {
                    "propensity_arm": target,
                    "arm": label,
                    "n": len(v),
                    "min": float(v.min()),
                    "p05": q[0],
                    "p25": q[1],
                    "median": q[2],
                    "p75": q[3],
                    "p95": q[4],
                    "max": float(v.max()),
                    "support_low": float(low),
                    "support_high": float(high),
                    "n_outside_support": int(np.sum((v < low) | (v > high))),
                }
            )
    return pd.DataFrame(rows)


def weighted_table_one(
    means: pd.DataFrame, summary: pd.DataFrame, ess: pd.DataFrame, *, digits: int = 1
) -> pd.DataFrame:
    """A weighted "Table 1" ready for a paper, from :func:`arm_means` and :func:`balance_summary`.

    One row per numeric covariate (mean (SD)) and per level of a categorical covariate (%),
    with, for every arm, the unweighted and the weighted value, then the largest pairwise |SMD|
    before and after weighting. The first row gives each arm's n (unweighted) and Kish effective
    sample size (weighted).

    Examples
    --------
    >>> X, arm, w = pd.DataFrame({"age": [50, 60, 70, 80]}), list("aabb"), [1, 1, 1, 1]
    >>> d = encode_covariates(X)
    >>> means = arm_means(d.balance_matrix, d.balance_columns, [0, 0, 1, 1], "ab", w)
    >>> summary = balance_summary(balance_table(X, arm, w))
    >>> table = weighted_table_one(means, summary, effective_sample_size(w, arm))
    >>> table.loc[1, ["characteristic", "a: weighted", "max |SMD| weighted"]].tolist()
    ['age', '55.0 (7.1)', '2.828']
    """
    arms = list(dict.fromkeys(means["arm"]))
    ess_by_arm = ess.set_index("arm")
    first = {"characteristic": "patients", "level": "", "statistic": "n (weighted: ESS)"}
    for label in arms:
        first[f"{label}: unweighted"] = f"{int(ess_by_arm.loc[label, 'n'])}"
        first[f"{label}: weighted"] = f"{ess_by_arm.loc[label, 'ess']:.{digits}f}"
    first["max |SMD| unweighted"] = ""
    first["max |SMD| weighted"] = ""
    rows = [first]
    smd = summary.set_index(["covariate", "level"])
    for (covariate, level), group in means.groupby(["covariate", "level"], sort=False):
        kind = group["kind"].iloc[0]
        record = {
            "characteristic": covariate,
            "level": level,
            "statistic": "mean (SD)" if kind == "numeric" else "%",
        }
        for row in group.itertuples(index=False):
            for when in ("unweighted", "weighted"):
                mean, sd = getattr(row, f"mean_{when}"), getattr(row, f"sd_{when}")
                text = (
                    f"{mean:.{digits}f} ({sd:.{digits}f})"
                    if kind == "numeric"
                    else f"{100 * mean:.{digits}f}"
                )
                record[f"{row.arm}: {when}"] = text
        record["max |SMD| unweighted"] = f"{smd.loc[(covariate, level), 'max_smd_unweighted']:.3f}"
        record["max |SMD| weighted"] = f"{smd.loc[(covariate, level), 'max_smd_weighted']:.3f}"
        rows.append(record)
    return pd.DataFrame(rows)
