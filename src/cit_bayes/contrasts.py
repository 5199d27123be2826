"""Posterior comparisons between arms, computed from draws.

Generic over the number of arms and their labels: nothing here knows PyMC or the CIT study. The
input is a set of posterior draws of one quantity per arm (a response rate, a mean platelet count,
a mean recovery time, ...), given as

* an :class:`xarray.DataArray` with dims ``(chain, draw, arm)`` (any order; a stacked ``sample``
  dimension instead of ``chain``/``draw`` is read as one chain), or
* a plain ``(draws, arms)`` or ``(chains, draws, arms)`` numpy array plus the arm labels.

Every function returns a tidy :class:`pandas.DataFrame` with a ``key`` column holding the name the
row gets in ``results.json`` (see ``docs/results-schema.md``), and the small ``*_fragment``
helpers turn such a table into the JSON dict fragment. Key conventions (``d`` printed with two
decimals by :func:`format_threshold`):

==================  ===========================================================================
``"A"``             a per-arm summary (:func:`summarise`)
``"A-B"``           the difference theta_A - theta_B (:func:`pairwise`, ``measure="difference"``)
``"A/B"``           the ratio or odds ratio of A over B (``measure="ratio"`` / ``"odds_ratio"``)
``"A>B"``           P(theta_A > theta_B); ``"A<B"`` is P(theta_A < theta_B) (:func:`prob_superior`)
``"A vs B @ d"``    P(A non-inferior to B at margin d) (:func:`prob_noninferior`)
``"A-B > d"``       P(theta_A - theta_B > d) (:func:`prob_exceeds`)
==================  ===========================================================================

Monte Carlo standard errors of probabilities (column ``mcse``) use the effective sample size of
the indicator draws (ArviZ, ``method="mean"``), so they account for autocorrelation within chains.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations, permutations

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from cit_bayes.arm_draws import ArmDraws, as_draws

__all__ = [
    "ArmDraws",
    "as_draws",
    "all_pairs",
    "pairs_against",
    "format_threshold",
    "summarise",
    "pairwise",
    "prob_superior",
    "prob_best",
    "prob_noninferior",
    "prob_exceeds",
    "interval_fragment",
    "probability_fragment",
]

_MEASURES = ("difference", "ratio", "odds_ratio")


def all_pairs(arms: Sequence[str], *, ordered: bool = False) -> list[tuple[str, str]]:
    """Return every pair of arms: ``(A, B)`` with A before B, or both orders if ``ordered``.

    Examples
    --------
    >>> all_pairs(["A", "B", "C"]), len(all_pairs(["A", "B", "C"], ordered=True))
    ([('A', 'B'), ('A', 'C'), ('B', 'C')], 6)
    """
    arms = list(arms)
    return list(permutations(arms, 2)) if ordered else list(combinations(arms, 2))


def pairs_against(arms: Sequence[str], reference: str) -> list[tuple[str, str]]:
    """Return ``(arm, reference)`` for every arm other than ``reference``.

    Examples
    --------
    >>> pairs_against(["A", "B", "C"], "A")
    [('B', 'A'), ('C', 'A')]
    """
    if reference not in arms:
        raise ValueError(f"reference arm {reference!r} is not among {list(arms)}")
    return [(arm, reference) for arm in arms if arm != reference]


def format_threshold(value: float) -> str:
    """Format a margin or threshold for a results key: two decimals (``0.1`` -> ``"0.10"``).

    Examples
    --------
    >>> format_threshold(0.1), format_threshold(-0.001)
    ('0.10', '0.00')
    """
    text = f"{float(value):.2f}"
    return "0.00" if text == "-0.00" else text


def _check_pairs(data: ArmDraws, pairs: Iterable[tuple[str, str]] | None, ordered: bool):
    pairs = all_pairs(data.arms, ordered=ordered) if pairs is None else [tuple(p) for p in pairs]
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ValueError(f"a pair must name two different arms, got {pair!r}")
        for label in pair:
            if label not in data.arms:
                raise ValueError(f"unknown arm {label!r}; the draws have {data.arms}")
    return pairs


def _interval(values: np.ndarray, ci_level: float) -> tuple[float, float]:
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"ci_level must lie in (0, 1), got {ci_level}")
    tail = (1.0 - ci_level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def _probability(indicator: np.ndarray) -> tuple[float, float]:
    """Mean of ``(chains, draws)`` indicator (or weight) draws and its Monte Carlo SE."""
    prob = float(indicator.mean())
    if np.ptp(indicator) == 0.0:
        return prob, 0.0
    ess = float(azs.ess(np.asarray(indicator, dtype=float), method="mean"))
    variance = float(indicator.var())
    mcse = float(np.sqrt(variance / ess)) if np.isfinite(ess) and ess > 0 else float("nan")
    return prob, mcse


def _describe(values: np.ndarray, ci_level: float) -> dict[str, float]:
    """Mean, SD, median and equal-tailed interval of a flat array of draws."""
    low, high = _interval(values, ci_level)
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "median": float(np.median(values)),
        "ci_low": low,
        "ci_high": high,
        "ci_level": ci_level,
    }


def summarise(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Posterior summary of each arm's quantity.

    Returns
    -------
    pandas.DataFrame
        One row per arm: ``key`` (the arm), ``arm``, ``mean``, ``sd``, ``median``, ``ci_low``,
        ``ci_high`` (equal-tailed credible interval) and ``ci_level``.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> summarise(draws, ["A", "B"])["mean"].round(3).tolist()
    [0.4, 0.5]
    """
    data = as_draws(draws, arms)
    rows = []
    for label in data.arms:
        values = data.arm(label).ravel()
        rows.append({"key": label, "arm": label, **_describe(values, ci_level)})
    return pd.DataFrame(rows)


def pairwise(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    measure: str = "difference",
    pairs: Iterable[tuple[str, str]] | None = None,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Pairwise contrasts between arms with equal-tailed credible intervals.

    Parameters
    ----------
    draws, arms
        See :func:`as_draws`.
    measure : {"difference", "ratio", "odds_ratio"}
        ``theta_A - theta_B``; ``theta_A / theta_B`` (needs positive draws); or the odds ratio
        ``[theta_A / (1 - theta_A)] / [theta_B / (1 - theta_B)]`` (needs draws in (0, 1)).
    pairs : iterable of (A, B), optional
        The contrasts, oriented A versus B. Default: every pair, A before B in arm order.
    ci_level : float
        Credible level of the interval.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``key`` (``"A-B"`` or ``"A/B"``), ``arm_a``, ``arm_b``, ``measure``,
        ``mean``, ``sd``, ``median``, ``ci_low``, ``ci_high``, ``ci_level`` and
        ``prob_a_greater`` = P(theta_A > theta_B) (the same event on every scale).

    Notes
    -----
    The posterior of a contrast is the set of contrasts computed draw by draw, so its interval
    and probabilities carry the joint posterior of the two arms (Gelman et al., 2013, ch. 2).
    A ratio's mean is the posterior mean of the ratio, not the ratio of means; the median and
    the interval are invariant under the log transformation.

    References
    ----------
    Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. *Bayesian Data Analysis*,
    3rd ed. CRC Press, 2013.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> table = pairwise(draws, ["A", "B"])
    >>> table["key"].tolist(), table["mean"].round(3).tolist()
    (['A-B'], [-0.1])
    """
    if measure not in _MEASURES:
        raise ValueError(f"measure must be one of {_MEASURES}, got {measure!r}")
    data = as_draws(draws, arms)
    if measure == "ratio" and np.any(data.values <= 0):
        raise ValueError("a ratio needs strictly positive draws")
    if measure == "odds_ratio" and np.any((data.values <= 0) | (data.values >= 1)):
        raise ValueError("an odds ratio needs draws of probabilities strictly inside (0, 1)")
    rows = []
    for arm_a, arm_b in _check_pairs(data, pairs, ordered=False):
        a, b = data.arm(arm_a).ravel(), data.arm(arm_b).ravel()
        if measure == "difference":
            values, key = a - b, f"{arm_a}-{arm_b}"
        elif measure == "ratio":
            values, key = a / b, f"{arm_a}/{arm_b}"
        else:
            values, key = (a / (1.0 - a)) / (b / (1.0 - b)), f"{arm_a}/{arm_b}"
        rows.append(
            {"key": key, "arm_a": arm_a, "arm_b": arm_b, "measure": measure}
            | _describe(values, ci_level)
            | {"prob_a_greater": float(np.mean(a > b))}
        )
    return pd.DataFrame(rows)


def prob_superior(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    pairs: Iterable[tuple[str, str]] | None = None,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Posterior probability that arm A is better than arm B.

    ``P(theta_A > theta_B)`` when higher is better (key ``"A>B"``), ``P(theta_A < theta_B)``
    otherwise (key ``"A<B"``). Default pairs: every ordered pair.

    Returns
    -------
    pandas.DataFrame
        ``key``, ``arm_a``, ``arm_b``, ``event`` (the event in words), ``prob``, ``mcse``.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> table = prob_superior(draws, ["A", "B"])
    >>> table["key"].tolist(), table["prob"].round(3).tolist()
    (['A>B', 'B>A'], [0.333, 0.667])
    """
    data = as_draws(draws, arms)
    sign = ">" if higher_is_better else "<"
    rows = []
    for arm_a, arm_b in _check_pairs(data, pairs, ordered=True):
        a, b = data.arm(arm_a), data.arm(arm_b)
        indicator = (a > b) if higher_is_better else (a < b)
        prob, mcse = _probability(indicator.astype(float))
        rows.append(
            {
                "key": f"{arm_a}{sign}{arm_b}",
                "arm_a": arm_a,
                "arm_b": arm_b,
                "event": f"theta[{arm_a}] {sign} theta[{arm_b}]",
                "prob": prob,
                "mcse": mcse,
            }
        )
    return pd.DataFrame(rows)


def prob_best(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Posterior probability that each arm is the best of all arms.

    Returns
    -------
    pandas.DataFrame
        ``key`` (the arm), ``arm``, ``prob``, ``mcse``. Probabilities sum to 1.

    Notes
    -----
    In each draw the best arm has the highest value (lowest if ``higher_is_better`` is False).
    Ties are split: when m arms share the best value in a draw, each gets 1/m for that draw. With
    continuous posteriors ties have probability zero; they arise only with discrete draws.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> prob_best(draws, ["A", "B"])["prob"].round(3).tolist()
    [0.333, 0.667]
    """
    data = as_draws(draws, arms)
    values = data.values if higher_is_better else -data.values
    is_best = values == values.max(axis=-1, keepdims=True)
    weight = is_best / is_best.sum(axis=-1, keepdims=True)
    rows = []
    for index, label in enumerate(data.arms):
        prob, mcse = _probability(weight[..., index])
        rows.append({"key": label, "arm": label, "prob": prob, "mcse": mcse})
    return pd.DataFrame(rows)


def prob_noninferior(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    pairs: Iterable[tuple[str, str]],
    margins: Iterable[float],
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Posterior probability that arm A is non-inferior to arm B at each margin.

    Non-inferior at margin d >= 0 means ``theta_A - theta_B > -d`` when higher is better and
    ``theta_A - theta_B < d`` when lower is better: A is worse than B by less than d.

    Returns
    -------
    pandas.DataFrame
        ``key`` (``"A vs B @ d"``), ``arm_a``, ``arm_b``, ``margin``, ``higher_is_better``,
        ``event``, ``prob``, ``mcse``.

    References
    ----------
    Spiegelhalter DJ, Abrams KR, Myles JP. *Bayesian Approaches to Clinical Trials and
    Health-Care Evaluation*. Wiley, 2004, section 6.7 (equivalence and non-inferiority).

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> table = prob_noninferior(draws, ["A", "B"], pairs=[("A", "B")], margins=[0.2])
    >>> table["key"].tolist(), table["prob"].round(3).tolist()
    (['A vs B @ 0.20'], [0.667])
    """
    data = as_draws(draws, arms)
    margins = [float(m) for m in margins]
    if any(m < 0 or not np.isfinite(m) for m in margins):
        raise ValueError(f"non-inferiority margins must be finite and >= 0, got {margins}")
    rows = []
    for arm_a, arm_b in _check_pairs(data, pairs, ordered=True):
        difference = data.arm(arm_a) - data.arm(arm_b)
        for margin in margins:
            if higher_is_better:
                indicator = difference > -margin
                event = f"theta[{arm_a}] - theta[{arm_b}] > -{format_threshold(margin)}"
            else:
                indicator = difference < margin
                event = f"theta[{arm_a}] - theta[{arm_b}] < {format_threshold(margin)}"
            prob, mcse = _probability(indicator.astype(float))
            rows.append(
                {
                    "key": f"{arm_a} vs {arm_b} @ {format_threshold(margin)}",
                    "arm_a": arm_a,
                    "arm_b": arm_b,
                    "margin": margin,
                    "higher_is_better": higher_is_better,
                    "event": event,
                    "prob": prob,
                    "mcse": mcse,
                }
            )
    return pd.DataFrame(rows)


def prob_exceeds(
    draws: ArmDraws | xr.DataArray | np.ndarray,
    arms: Sequence[str] | None = None,
    *,
    pairs: Iterable[tuple[str, str]],
    thresholds: Iterable[float],
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Posterior probability that arm A beats arm B by more than each threshold d.

    When higher is better this is ``P(theta_A - theta_B > d)`` (key ``"A-B > d"``); when lower is
    better it is ``P(theta_B - theta_A > d)`` (key ``"B-A > d"``), so the key always states the
    computed event literally. ``d`` may be any real number (``d = 0`` gives P(A better)).

    Returns
    -------
    pandas.DataFrame
        ``key``, ``arm_a``, ``arm_b``, ``threshold``, ``higher_is_better``, ``event``, ``prob``,
        ``mcse``.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> table = prob_exceeds(draws, ["A", "B"], pairs=[("B", "A")], thresholds=[0.0])
    >>> table["key"].tolist(), table["prob"].round(3).tolist()
    (['B-A > 0.00'], [0.667])
    """
    data = as_draws(draws, arms)
    thresholds = [float(d) for d in thresholds]
    if not all(np.isfinite(d) for d in thresholds):
        raise ValueError(f"thresholds must be finite, got {thresholds}")
    rows = []
    for arm_a, arm_b in _check_pairs(data, pairs, ordered=True):
        first, second = (arm_a, arm_b) if higher_is_better else (arm_b, arm_a)
        difference = data.arm(first) - data.arm(second)
        for threshold in thresholds:
            prob, mcse = _probability((difference > threshold).astype(float))
            rows.append(
                {
                    "key": f"{first}-{second} > {format_threshold(threshold)}",
                    "arm_a": arm_a,
                    "arm_b": arm_b,
                    "threshold": threshold,
                    "higher_is_better": higher_is_better,
                    "event": f"theta[{first}] - theta[{second}] > {format_threshold(threshold)}",
                    "prob": prob,
                    "mcse": mcse,
                }
            )
    return pd.DataFrame(rows)


def interval_fragment(
    table: pd.DataFrame,
    *,
    fields: Sequence[str] = ("mean", "sd", "ci_low", "ci_high"),
) -> dict[str, dict[str, float]]:
    """Turn a :func:`summarise` or :func:`pairwise` table into ``{key: {field: value}}``.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> fragment = interval_fragment(summarise(draws, ["A", "B"]))
    >>> sorted(fragment), sorted(fragment["A"]), round(fragment["A"]["mean"], 3)
    (['A', 'B'], ['ci_high', 'ci_low', 'mean', 'sd'], 0.4)
    """
    _check_columns(table, ["key", *fields])
    return {
        str(row["key"]): {field: float(row[field]) for field in fields}
        for _, row in table.iterrows()
    }


def probability_fragment(table: pd.DataFrame, *, field: str = "prob") -> dict[str, float]:
    """Turn a probability table (``prob_*``) into ``{key: probability}``.

    Examples
    --------
    >>> draws = np.array([[0.2, 0.5], [0.4, 0.3], [0.6, 0.7]])  # 3 draws of arms A, B
    >>> fragment = probability_fragment(prob_best(draws, ["A", "B"]))
    >>> {key: round(prob, 3) for key, prob in fragment.items()}
    {'A': 0.333, 'B': 0.667}
    """
    _check_columns(table, ["key", field])
    return {str(k): float(v) for k, v in zip(table["key"], table[field], strict=True)}


def _check_columns(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}")
    if table["key"].duplicated().any():
        raise ValueError("table has duplicated keys")
