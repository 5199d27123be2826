"""From posterior draws to the ``results.json`` fragments and tidy tables, for both analyses.

The comparisons themselves are :mod:`cit_bayes.contrasts`. Each ``*_analysis`` function takes
the draws of one endpoint under one analysis and returns ``(fragment, tables)``: the dict that
goes under ``results[endpoint][analysis]`` and tidy DataFrames (one row per quantity, an
``analysis`` column added by the caller). Both analyses use them (rates, differences, odds
ratios, P(A > B), P(best), P(non-inferior), P(difference > d)); the ``*_fragment`` functions add
what only patient-level data allow: ΔPLT at the last day, cumulative recovery by day,
restricted mean time to recovery (RMTR), median recovery day where reached, hazard ratios, and
the frequentist cross-checks (weighted outcomes, weighted Kaplan-Meier and Cox). Every key is
documented in ``docs/results-schema.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from cit_bayes import contrasts
from cit_bayes.weighting.outcome import INTERVAL_DEFAULT

__all__ = [
    "ContrastSpec",
    "NOT_REACHED",
    "response_analysis",
    "plt_analysis",
    "recovery_analysis",
    "safety_analysis",
    "plt_fragment",
    "frequentist_response_fragment",
]


@dataclass(frozen=True)
class ContrastSpec:
    """What to compare: the plan's pairs, margins and thresholds (see the reanalysis plan).

    Examples
    --------
    >>> ContrastSpec(arms=("A", "B", "C"), pairs=(), focus_arm="B").focus_pairs
    [('B', 'A'), ('B', 'C')]
    """

    arms: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    focus_arm: str
    ci_level: float = 0.95
    noninferiority_pairs: tuple[tuple[str, str], ...] = ()
    noninferiority_margins: tuple[float, ...] = ()
    difference_thresholds: tuple[float, ...] = ()
    contrast_days: tuple[str, ...] = ()
    faster_by_days: tuple[float, ...] = ()
    safety_reference: str = ""
    harm_threshold: float = 0.05

    @property
    def focus_pairs(self) -> list[tuple[str, str]]:
        """(focus arm, other arm) for every other arm."""
        return [(self.focus_arm, arm) for arm in self.arms if arm != self.focus_arm]


#: What results.json keeps of a ratio's posterior (the median is the summary reports print).
_RATIO_FIELDS = ("mean", "sd", "median", "ci_low", "ci_high")


def _tag(table: pd.DataFrame, **columns) -> pd.DataFrame:
    table = table.copy()
    for position, (name, value) in enumerate(columns.items()):
        table.insert(position, name, value)
    return table


def response_analysis(
    draws: xr.DataArray, spec: ContrastSpec
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Rates, risk differences, odds ratios, P(superior), P(best), P(non-inferior), P(RD > d).

    Examples
    --------
    >>> spec = ContrastSpec(("A", "B"), (("A", "B"),), "A", 0.95, (("A", "B"),), (0.1,), (0.0,))
    >>> draws = np.array([[0.7, 0.5], [0.8, 0.4], [0.6, 0.5], [0.7, 0.3]])  # 4 draws of A, B
    >>> response_analysis(draws, spec)[0]["prob_superior"]
    {'A>B': 1.0, 'B>A': 0.0}
    """
    data = contrasts.as_draws(draws, spec.arms)
    rate = contrasts.summarise(data, ci_level=spec.ci_level)
    difference = contrasts.pairwise(data, pairs=spec.pairs, ci_level=spec.ci_level)
    odds_ratio = contrasts.pairwise(
        data, measure="odds_ratio", pairs=spec.pairs, ci_level=spec.ci_level
    )
    superior = contrasts.prob_superior(data)
    best = contrasts.prob_best(data)
    noninferior = contrasts.prob_noninferior(
        data, pairs=spec.noninferiority_pairs, margins=spec.noninferiority_margins
    )
    exceeds = contrasts.prob_exceeds(
        data, pairs=spec.focus_pairs, thresholds=spec.difference_thresholds
    )
    fragment = {
        "rate": contrasts.interval_fragment(rate),
        "risk_difference": contrasts.interval_fragment(difference),
        # the median beside the mean: a ratio's posterior is skewed, its mean can exceed 1 while
        # P(A > B) < 1/2 (P(OR > 1) = P(A > B)); the reports print the median
        "odds_ratio": contrasts.interval_fragment(odds_ratio, fields=_RATIO_FIELDS),
        "prob_superior": contrasts.probability_fragment(superior),
        "prob_best": contrasts.probability_fragment(best),
        "prob_noninferior": contrasts.probability_fragment(noninferior),
        "prob_difference_exceeds": contrasts.probability_fragment(exceeds),
    }
    probabilities = pd.concat(
        [
            _tag(superior[["key", "prob", "mcse"]], quantity="prob_superior"),
            _tag(best[["key", "prob", "mcse"]], quantity="prob_best"),
            _tag(noninferior[["key", "prob", "mcse"]], quantity="prob_noninferior"),
            _tag(exceeds[["key", "prob", "mcse"]], quantity="prob_difference_exceeds"),
        ],
        ignore_index=True,
    )
    samples = data.values.reshape(-1, len(data.arms))
    difference_draws = pd.concat(
        [
            pd.DataFrame(
                {
                    "key": f"{a}-{b}",
                    "value": samples[:, data.arms.index(a)] - samples[:, data.arms.index(b)],
                }
            )
            for a, b in spec.pairs
        ],
        ignore_index=True,
    )
    tables = {
        "rate": rate,
        "risk_difference": difference,
        "odds_ratio": odds_ratio,
        "probabilities": probabilities,
        "difference_draws": difference_draws,
    }
    return fragment, tables


def _by_block(draws: xr.DataArray, dim: str, blocks: Sequence[str]):
    for block in blocks:
        yield block, draws.sel({dim: block}, drop=True)


def plt_analysis(draws: xr.DataArray, spec: ContrastSpec) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Mean PLT per day and arm; differences and P(A > B) at the contrast days.

    Examples
    --------
    >>> spec = ContrastSpec(("A", "B"), (("A", "B"),), "A", contrast_days=("day7",))
    >>> v = np.random.default_rng(0).normal([[80.0, 60.0], [120.0, 70.0]], 5.0, (400, 2, 2))
    >>> da = xr.DataArray(v, {"day": ["day3", "day7"], "arm": ["A", "B"]}, ("sample", "day", "arm"))
    >>> plt_analysis(da, spec)[0]["prob_superior"]
    {'day7': {'A>B': 1.0, 'B>A': 0.0}}
    """
    days = [str(d) for d in draws["day"].values]
    means, differences, superiors = {}, {}, {}
    mean_rows, difference_rows, probability_rows = [], [], []
    for day, day_draws in _by_block(draws, "day", days):
        data = contrasts.as_draws(day_draws, spec.arms)
        summary = contrasts.summarise(data, ci_level=spec.ci_level)
        means[day] = contrasts.interval_fragment(summary)
        mean_rows.append(_tag(summary, day=day))
        if day not in spec.contrast_days:
            continue
        difference = contrasts.pairwise(data, pairs=spec.pairs, ci_level=spec.ci_level)
        superior = contrasts.prob_superior(data)
        differences[day] = contrasts.interval_fragment(difference)
        superiors[day] = contrasts.probability_fragment(superior)
        difference_rows.append(_tag(difference, day=day))
        probability_rows.append(
            _tag(superior[["key", "prob", "mcse"]], day=day, quantity="prob_superior")
        )
    missing = [d for d in spec.contrast_days if d not in days]
    if missing:
        raise ValueError(f"contrast day(s) {missing} not among the fitted days {days}")
    fragment = {"mean": means, "difference": differences, "prob_superior": superiors}
    tables = {
        "mean": pd.concat(mean_rows, ignore_index=True),
        "difference": pd.concat(difference_rows, ignore_index=True),
        "probabilities": pd.concat(probability_rows, ignore_index=True),
    }
    return fragment, tables


def recovery_analysis(
    draws: xr.DataArray, spec: ContrastSpec
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Mean days per arm, differences, P(faster) and P(faster by at least d days).

    Examples
    --------
    >>> spec = ContrastSpec(("A", "B"), (("A", "B"),), "A", faster_by_days=(1.0,))
    >>> draws = np.array([[6.0, 9.0], [7.0, 8.0], [5.0, 9.5], [6.5, 8.5]])  # mean days of A, B
    >>> recovery_analysis(draws, spec)[0]["prob_superior"]
    {'A<B': 1.0, 'B<A': 0.0}
    """
    data = contrasts.as_draws(draws, spec.arms)
    summary = contrasts.summarise(data, ci_level=spec.ci_level)
    difference = contrasts.pairwise(data, pairs=spec.pairs, ci_level=spec.ci_level)
    faster = contrasts.prob_superior(data, higher_is_better=False)
    faster_by = contrasts.prob_exceeds(
        data, pairs=spec.focus_pairs, thresholds=spec.faster_by_days, higher_is_better=False
    )
    fragment = {
        "mean_days": contrasts.interval_fragment(summary),
        "difference": contrasts.interval_fragment(difference),
        "prob_superior": contrasts.probability_fragment(faster),
        "prob_difference_exceeds": contrasts.probability_fragment(faster_by),
    }
    probabilities = pd.concat(
        [
            _tag(faster[["key", "prob", "mcse"]], quantity="prob_superior"),
            _tag(faster_by[["key", "prob", "mcse"]], quantity="prob_difference_exceeds"),
        ],
        ignore_index=True,
    )
    return fragment, {
        "mean_days": summary,
        "difference": difference,
        "probabilities": probabilities,
    }


def safety_analysis(
    draws: xr.DataArray, spec: ContrastSpec
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Rate per event and arm; difference from the reference arm, P(higher risk) (difference
    > 0) and P(higher by more than the harm threshold).

    Examples
    --------
    >>> spec = ContrastSpec(("A", "B"), (("A", "B"),), "A", safety_reference="B")
    >>> v = np.random.default_rng(0).uniform([[0.3, 0.1]], [[0.4, 0.2]], (400, 1, 2))
    >>> da = xr.DataArray(v, {"event": ["fatigue"], "arm": ["A", "B"]}, ("sample", "event", "arm"))
    >>> safety_analysis(da, spec)[0]["prob_difference_exceeds"]
    {'fatigue': {'A-B > 0.00': 1.0, 'A-B > 0.05': 1.0}}
    """
    events = [str(e) for e in draws["event"].values]
    pairs = contrasts.pairs_against(spec.arms, spec.safety_reference)
    rates, differences, harms = {}, {}, {}
    rate_rows, difference_rows, probability_rows = [], [], []
    for event, event_draws in _by_block(draws, "event", events):
        data = contrasts.as_draws(event_draws, spec.arms)
        summary = contrasts.summarise(data, ci_level=spec.ci_level)
        difference = contrasts.pairwise(data, pairs=pairs, ci_level=spec.ci_level)
        thresholds = sorted({0.0, float(spec.harm_threshold)})  # higher at all; by the threshold
        harm = contrasts.prob_exceeds(data, pairs=pairs, thresholds=thresholds)
        rates[event] = contrasts.interval_fragment(summary)
        differences[event] = contrasts.interval_fragment(difference)
        harms[event] = contrasts.probability_fragment(harm)
        rate_rows.append(_tag(summary, event=event))
        difference_rows.append(_tag(difference, event=event))
        probability_rows.append(
            _tag(harm[["key", "prob", "mcse"]], event=event, quantity="prob_difference_exceeds")
        )
    fragment = {"rate": rates, "risk_difference": differences, "prob_difference_exceeds": harms}
    tables = {
        "rate": pd.concat(rate_rows, ignore_index=True),
        "risk_difference": pd.concat(difference_rows, ignore_index=True),
        "probabilities": pd.concat(probability_rows, ignore_index=True),
    }
    return fragment, tables


#: How a median recovery day that is not reached within the horizon is written.
NOT_REACHED = "not reached"


def plt_fragment(
    mean: xr.DataArray, delta: xr.DataArray, baseline: dict[str, float], spec: ContrastSpec
) -> tuple[dict, dict]:
    """Mean PLT per day and arm (day 0 observed), contrasts at the contrast days, ΔPLT.

    ``baseline`` is the target population's observed mean day-0 count per arm (the same value
    for every arm in an adjusted analysis).

    Examples
    --------
    >>> spec = ContrastSpec(("A", "B"), (("A", "B"),), "A", contrast_days=("day7",))
    >>> v = np.random.default_rng(0).normal([[120.0, 70.0]], 5.0, (400, 1, 2))
    >>> mean = xr.DataArray(v, {"day": ["day7"], "arm": ["A", "B"]}, ("sample", "day", "arm"))
    >>> plt_fragment(mean, mean[:, 0] - 50, dict.fromkeys("AB", 50.0), spec)[0]["delta_day"]
    'day7'
    """
    fragment, tables = plt_analysis(mean, spec)
    data = contrasts.as_draws(delta, spec.arms)
    summary = contrasts.summarise(data, ci_level=spec.ci_level)
    difference = contrasts.pairwise(data, pairs=spec.pairs, ci_level=spec.ci_level)
    last = str(mean["day"].values[-1])
    fragment |= {
        "baseline_mean": {arm: float(baseline[arm]) for arm in spec.arms},
        "delta_day": last,
        "delta_plt": contrasts.interval_fragment(summary),
        "delta_plt_difference": contrasts.interval_fragment(difference),
    }
    tables |= {"delta_plt": summary, "delta_plt_difference": difference}
    return fragment, tables


def finite_value(value) -> float | str:
    """A number for results.json, or ``"not estimable"`` where it is not finite.

    Examples
    --------
    >>> finite_value(0.25), finite_value(float("nan"))
    (0.25, 'not estimable')
    """
    value = float(value)
    return value if np.isfinite(value) else "not estimable"


def frequentist_response_fragment(outcome: pd.DataFrame, pairs) -> dict:
    """Weighted (or plain) response rate per arm and differences with bootstrap CIs.

    Differences are oriented like the posterior contrasts (the plan's ``pairs``, ``"A-B"``): a
    row computed the other way round (B - A) is negated and its interval mirrored.

    Examples
    --------
    >>> row = dict(quantity="difference", arm="B", comparator="A", n_bootstrap=0, confidence=0.9)
    >>> row |= dict(estimate=-0.2, ci_low_sandwich=-0.3, ci_high_sandwich=-0.1)
    >>> frequentist_response_fragment(pd.DataFrame([row]), [("A", "B")])["risk_difference"]
    {'A-B': {'estimate': 0.2, 'ci_low': 0.1, 'ci_high': 0.3}}
    """
    column = "bootstrap" if outcome["n_bootstrap"].max() > 0 else "sandwich"
    arm_rows = outcome[outcome["quantity"] == "arm_mean"]
    diff_rows = outcome[outcome["quantity"] == "difference"].set_index(["arm", "comparator"])

    def entry(row, sign=1.0):
        low, high = sign * row[f"ci_low_{column}"], sign * row[f"ci_high_{column}"]
        return {
            "estimate": finite_value(sign * row["estimate"]),
            "ci_low": finite_value(min(low, high)),
            "ci_high": finite_value(max(low, high)),
        }

    differences = {}
    for a, b in pairs:
        if (a, b) in diff_rows.index:
            differences[f"{a}-{b}"] = entry(diff_rows.loc[(a, b)])
        elif (b, a) in diff_rows.index:
            differences[f"{a}-{b}"] = entry(diff_rows.loc[(b, a)], sign=-1.0)
    confidence = int(round(100 * outcome["confidence"].iloc[0]))
    resamples = int(outcome["n_bootstrap"].max())
    if "method" in outcome:  # the unadjusted analysis says what it did
        method = str(outcome["method"].iloc[0])
    else:
        method = f"weighted mean per arm, {column} {confidence}% CI" + (
            f" ({resamples} resamples)" if column == "bootstrap" else ""
        )
        if "interval_method" in outcome:  # an arm with 0 % or 100 %: its rows' score intervals
            scored = arm_rows.loc[arm_rows["interval_method"] != INTERVAL_DEFAULT]
            if len(scored):
                method += (
                    f"; arm(s) {', '.join(map(str, scored['arm']))} with 0 % or 100 % "
                    f"responders (and their differences): {scored['interval_method'].iloc[0]}"
                )
    return {
        "method": method,
        "rate": {row["arm"]: entry(row) for _, row in arm_rows.iterrows()},
        "risk_difference": differences,
    }
