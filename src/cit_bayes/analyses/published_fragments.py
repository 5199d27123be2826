"""From posterior draws of each endpoint to the ``results.json`` fragments and tidy tables.

Used by :mod:`cit_bayes.analyses.published`; the comparisons themselves are :mod:`cit_bayes.contrasts`.
Each ``*_analysis`` function takes the draws of one endpoint under one analysis and returns
``(fragment, tables)``: the dict that goes under ``results[endpoint][analysis]`` and tidy
DataFrames (one row per quantity, an ``analysis`` column added by the caller).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import xarray as xr

from cit_bayes import contrasts

__all__ = [
    "ContrastSpec",
    "response_analysis",
    "plt_analysis",
    "recovery_analysis",
    "safety_analysis",
]


@dataclass(frozen=True)
class ContrastSpec:
    """What to compare: the plan's pairs, margins and thresholds (see the reanalysis plan)."""

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


def _tag(table: pd.DataFrame, **columns) -> pd.DataFrame:
    table = table.copy()
    for position, (name, value) in enumerate(columns.items()):
        table.insert(position, name, value)
    return table


def response_analysis(
    draws: xr.DataArray, spec: ContrastSpec
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Rates, risk differences, odds ratios, P(superior), P(best), P(non-inferior), P(RD > d)."""
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
        "odds_ratio": contrasts.interval_fragment(odds_ratio),
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
    """Mean PLT per day and arm; differences and P(A > B) at the contrast days."""
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
    """Mean days per arm, differences, P(faster) and P(faster by at least d days)."""
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
    """Rate per event and arm; difference from the reference arm and P(higher by >= threshold)."""
    events = [str(e) for e in draws["event"].values]
    pairs = contrasts.pairs_against(spec.arms, spec.safety_reference)
    rates, differences, harms = {}, {}, {}
    rate_rows, difference_rows, probability_rows = [], [], []
    for event, event_draws in _by_block(draws, "event", events):
        data = contrasts.as_draws(event_draws, spec.arms)
        summary = contrasts.summarise(data, ci_level=spec.ci_level)
        difference = contrasts.pairwise(data, pairs=pairs, ci_level=spec.ci_level)
        harm = contrasts.prob_exceeds(data, pairs=pairs, thresholds=[spec.harm_threshold])
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
