"""Recovery's results fragments: curves, marginal contrasts, day-averaged hazard ratios.

The Bayesian side (:func:`recovery_fragment`) reads the recovery model's g-computed cumulative
recovery per day and arm, its restricted mean time to recovery (RMTR), its day-averaged arm
effects and its log daily hazards per arm; the frequentist side
(:func:`frequentist_recovery_fragment`) the weighted Kaplan-Meier table and the weighted Cox
rows. Every key is documented in ``docs/results-schema.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from cit_bayes import contrasts
from cit_bayes.analyses.fragments import (
    NOT_REACHED,
    ContrastSpec,
    finite_value,
    recovery_analysis,
)

__all__ = [
    "HAZARD_RATIO_ESTIMAND",
    "INTERCURRENT_EVENTS",
    "median_days",
    "POPULATIONS",
    "recovery_fragment",
    "recovery_population",
    "frequentist_recovery_fragment",
    "km_differences",
]

#: What the Bayesian hazard ratio estimates (written into results.json beside it).
HAZARD_RATIO_ESTIMAND = (
    "day-averaged hazard ratio, conditional on the covariates: exp of the difference of the two "
    "arms' mean log daily hazard over the follow-up days; a constant hazard ratio only under "
    "proportional hazards (see hazard_ratio_change). Not the marginal hazard ratio of a weighted "
    "Cox model, which averages differently (hazard ratios are non-collapsible)"
)

#: The intercurrent-event strategies of the recovery endpoint (ICH E9(R1)).
INTERCURRENT_EVENTS = (
    "transfusion: treatment policy: platelet transfusions and other supportive care are part of "
    "the regimen as given, and a count >= 100 x10^9/L reached after a transfusion counts as "
    "recovery (the cohort records whether a transfusion was given, not when, so a hypothetical or "
    "composite strategy cannot be emulated); death or loss before the end of follow-up: censored "
    "at the last count, a hypothetical strategy for death (the curves describe recovery had no "
    "patient died; valid if censoring is independent of recovery given arm and covariates), not "
    "a competing-risks cumulative incidence"
)

#: Whose recovery the g-computed curves describe, by estimand (``None``: unadjusted).
POPULATIONS = {
    None: "each arm's own patients (unadjusted: no covariates, no weights)",
    "ate": "all patients of the cohort (standardised over their covariates)",
    "ato": "the overlap population (the patients standardised over, tilted by the overlap weights)",
    "att": "patients like those treated in the ATT arm (standardised over them)",
}


def recovery_population(estimand: str | None, horizon: int, n_left_out: int = 0) -> str:
    """The recovery fragment's ``population``: whose curves, the time scale, the censoring.

    ``n_left_out``: patients without a recovery time, left out of the fit and of the
    standardisation (said, so that a reader knows the curves describe the others).

    Examples
    --------
    >>> recovery_population("ato", 14)[:25]
    'the overlap population (t'
    >>> recovery_population(None, 14, 2).split("; ")[-1]
    '2 patient(s) without a recovery time left out of the fit and of the standardisation'
    """
    text = (
        f"{POPULATIONS[estimand]}; time to PLT >= 100 x10^9/L within {horizon} days, "
        f"right-censored at day {horizon} or at the last recorded count"
    )
    if n_left_out:
        text += (
            f"; {n_left_out} patient(s) without a recovery time left out of the fit and of the "
            "standardisation"
        )
    return text


#: Days at which the shares recovered are contrasted (those within the horizon are used).
RECOVERED_DAYS = (7, 14)


def median_days(cumulative: xr.DataArray, arms, ci_level: float) -> tuple[dict, pd.DataFrame]:
    """Posterior of the median recovery day per arm (first day with cumulative recovery >= 1/2).

    In a draw where the curve stays below 1/2 the median is beyond the horizon. The summary is
    the posterior median and the equal-tailed interval of the per-draw median day, a quantile
    beyond the horizon written ``"not reached"``; ``prob_reached`` is the share of draws whose
    median lies within the horizon.

    Examples
    --------
    >>> curve = xr.DataArray([[[[0.3, 0.1], [0.6, 0.4]]]], dims=("chain", "draw", "day", "arm"))
    >>> [m["median"] for m in median_days(curve, ["A", "B"], 0.95)[0].values()]
    [2, 'not reached']
    """
    values = cumulative.transpose("chain", "draw", "day", "arm").values
    n_days = values.shape[2]
    samples = values.reshape(-1, n_days, values.shape[3])
    reached = samples >= 0.5
    day = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1, n_days + 1)  # (S, arm)
    alpha = (1 - ci_level) / 2
    fragment, rows = {}, []
    for j, arm in enumerate(arms):
        quantiles = np.quantile(day[:, j], [0.5, alpha, 1 - alpha], method="inverted_cdf")
        text = [int(q) if q <= n_days else NOT_REACHED for q in quantiles]
        prob = float(np.mean(day[:, j] <= n_days))
        fragment[arm] = {
            "median": text[0],
            "ci_low": text[1],
            "ci_high": text[2],
            "prob_reached": prob,
        }
        rows.append(
            {
                "arm": arm,
                "median": text[0],
                "ci_low": text[1],
                "ci_high": text[2],
                "prob_reached": prob,
            }
        )
    return fragment, pd.DataFrame(rows)


def recovery_fragment(
    cumulative: xr.DataArray,
    rmtr: xr.DataArray,
    arm_effect: xr.DataArray,
    spec: ContrastSpec,
    *,
    reference: str,
    horizon: int,
    arm_log_hazard: xr.DataArray | None = None,
    population: str | None = None,
) -> tuple[dict, dict]:
    """Cumulative recovery, RMTR and its comparisons, medians, hazard ratios, P(faster).

    The marginal contrasts come from the g-computed cumulative-recovery curves (averaged over
    the target population): the difference in the share recovered by each contrast day
    (``recovered_difference``) and in RMTR (``difference``). The hazard ratios are
    day-averaged and conditional on the covariates (``hazard_ratio_estimand``): the exponent
    of the difference of two arms' mean log daily hazard over the days, a constant hazard
    ratio only under proportional hazards. ``hazard_ratio_change`` is the check of that
    assumption: the ratio of an arm's hazard ratio in the first half of the follow-up to that in
    the second (1 under proportional hazards). "Faster" is read two ways, both reported: a
    smaller RMTR (``prob_superior``, ``"A<B"``) and a higher day-averaged hazard
    (``prob_higher_hazard``, ``"A>B"``). ``population``: whose curves they are
    (:func:`recovery_population`; default that of the ATE).

    Examples
    --------
    >>> spec = ContrastSpec(("A", "B"), (("A", "B"),), "A", faster_by_days=(1.0,))
    >>> v = np.random.default_rng(0).normal([[0.7, 0.4]], 0.02, (1, 400, 1, 2))
    >>> cum = xr.DataArray(v, {"day": ["day1"], "arm": ["A", "B"]}, ("chain", "draw", "day", "arm"))
    >>> d1 = cum.sel(day="day1")
    >>> recovery_fragment(cum, 2 - d1, d1, spec, reference="B", horizon=1)[0]["prob_higher_hazard"]
    {'A>B': 1.0, 'B>A': 0.0}
    """
    fragment, tables = recovery_analysis(rmtr, spec)
    fragment["rmtr"] = fragment.pop("mean_days")
    tables["rmtr"] = tables.pop("mean_days")
    curve, curve_rows = {}, []
    for day in [str(d) for d in cumulative["day"].values]:
        data = contrasts.as_draws(cumulative.sel(day=day, drop=True), spec.arms)
        summary = contrasts.summarise(data, ci_level=spec.ci_level)
        curve[day] = contrasts.interval_fragment(summary)
        curve_rows.append(summary.assign(day=int(day.removeprefix("day"))))
    effect = contrasts.as_draws(arm_effect, spec.arms)
    hazard_pairs = [(arm, reference) for arm in spec.arms if arm != reference]
    log_hr = contrasts.pairwise(effect, pairs=hazard_pairs, ci_level=spec.ci_level)
    samples = effect.values.reshape(-1, len(effect.arms))
    hazard_ratio = {}
    for a, b in hazard_pairs:
        ratio = np.exp(samples[:, effect.arms.index(a)] - samples[:, effect.arms.index(b)])
        low, high = np.quantile(ratio, [(1 - spec.ci_level) / 2, (1 + spec.ci_level) / 2])
        hazard_ratio[f"{a}/{b}"] = {
            "mean": float(ratio.mean()),
            "median": float(np.median(ratio)),
            "sd": float(ratio.std(ddof=1)),
            "ci_low": float(low),
            "ci_high": float(high),
        }
    higher = contrasts.prob_superior(effect)
    medians, median_table = median_days(cumulative, spec.arms, spec.ci_level)
    recovered, recovered_rows = _recovered_differences(cumulative, spec, horizon)
    fragment |= {
        "population": population or recovery_population("ate", horizon),
        "intercurrent_events": INTERCURRENT_EVENTS,
        "horizon_days": int(horizon),
        "cumulative_recovery": curve,
        "recovered_difference": recovered,
        "median_day": medians,
        "hazard_ratio": hazard_ratio,
        "hazard_ratio_estimand": HAZARD_RATIO_ESTIMAND,
        "prob_higher_hazard": contrasts.probability_fragment(higher),
    }
    tables |= {
        "cumulative_recovery": pd.concat(curve_rows, ignore_index=True),
        "recovered_difference": recovered_rows,
        "median_day": median_table,
        "log_hazard_ratio": log_hr,
    }
    if arm_log_hazard is not None:
        change, change_table = _hazard_ratio_change(arm_log_hazard, hazard_pairs, spec.ci_level)
        fragment["hazard_ratio_change"] = change
        tables["hazard_ratio_change"] = change_table
    return fragment, tables


def frequentist_recovery_fragment(
    km: pd.DataFrame, medians: pd.DataFrame, cox: pd.DataFrame, pairs=(), ci_level: float = 0.95
):
    """Weighted Kaplan-Meier by day, its medians and differences, the weighted Cox hazard ratios.

    The Kaplan-Meier differences in the share recovered by day 7 and the last day
    (``recovered_difference``) are marginal, like the posterior's; the Cox hazard ratio is a
    marginal hazard ratio under proportional hazards, a different quantity from the posterior's
    day-averaged conditional one (``hazard_ratio_estimand``).

    Examples
    --------
    >>> cox = pd.DataFrame([dict(key="A/B", hazard_ratio=2, ci_low=1, ci_high=4, p_value=0.04)])
    >>> frequentist_recovery_fragment(pd.DataFrame(), pd.DataFrame(), cox)["hazard_ratio"]
    {'A/B': {'estimate': 2.0, 'ci_low': 1.0, 'ci_high': 4.0, 'p_value': 0.04}}
    """
    curve: dict[str, dict] = {}
    for _, row in km.iterrows():
        curve.setdefault(f"day{int(row['day'])}", {})[row["arm"]] = {
            "estimate": finite_value(row["cumulative_recovery"]),
            "ci_low": finite_value(row["ci_low"]),
            "ci_high": finite_value(row["ci_high"]),
        }
    days = [d for d in RECOVERED_DAYS if not km.empty and d <= int(km["day"].max())]
    if not km.empty and int(km["day"].max()) not in days:
        days.append(int(km["day"].max()))
    return {
        "method": "weighted Kaplan-Meier; weighted Cox (Efron ties) with robust sandwich errors",
        "recovered_difference": km_differences(km, pairs, days, ci_level) if "se" in km else {},
        "hazard_ratio_estimand": (
            "marginal hazard ratio of the weighted Cox model (proportional hazards assumed)"
        ),
        "cumulative_recovery": curve,
        "median_day": {
            row["arm"]: (int(row["median_day"]) if bool(row["reached"]) else NOT_REACHED)
            for _, row in medians.iterrows()
        },
        "hazard_ratio": {
            row["key"]: {
                "estimate": finite_value(row["hazard_ratio"]),
                "ci_low": finite_value(row["ci_low"]),
                "ci_high": finite_value(row["ci_high"]),
                "p_value": finite_value(row["p_value"]),
            }
            | (
                {"note": str(row["note"])}
                if str(row.get("note", "") or "") not in ("", "nan")
                else {}
            )
            for _, row in cox.iterrows()
        },
    }


def _recovered_differences(cumulative: xr.DataArray, spec: ContrastSpec, horizon: int):
    """Differences in the share recovered by day 7 and by the horizon (marginal, g-computed)."""
    days = sorted({d for d in (*RECOVERED_DAYS, horizon) if d <= horizon})
    fragment, rows = {}, []
    for day in days:
        data = contrasts.as_draws(cumulative.sel(day=f"day{day}", drop=True), spec.arms)
        table = contrasts.pairwise(data, pairs=spec.pairs, ci_level=spec.ci_level)
        fragment[f"day{day}"] = contrasts.interval_fragment(table)
        rows.append(table.assign(day=day))
    return fragment, pd.concat(rows, ignore_index=True)


def _hazard_ratio_change(log_hazard: xr.DataArray, pairs, ci_level: float):
    """Ratio of each pair's hazard ratio in the first half of the days to that in the second."""
    values = log_hazard.transpose("chain", "draw", "day", "arm").values
    arms = [str(a) for a in log_hazard["arm"].values]
    n_days = values.shape[2]
    first, second = values[:, :, : n_days // 2], values[:, :, n_days // 2 :]
    fragment, rows = {}, []
    for a, b in pairs:
        i, j = arms.index(a), arms.index(b)
        log_change = (first[..., i] - first[..., j]).mean(-1) - (
            second[..., i] - second[..., j]
        ).mean(-1)
        ratio = np.exp(log_change).ravel()
        low, high = np.quantile(ratio, [(1 - ci_level) / 2, (1 + ci_level) / 2])
        entry = {
            "median": float(np.median(ratio)),
            "ci_low": float(low),
            "ci_high": float(high),
            "prob_greater_than_1": float(np.mean(ratio > 1)),
        }
        fragment[f"{a}/{b}"] = entry
        rows.append({"key": f"{a}/{b}", "first_days": n_days // 2, **entry})
    return fragment, pd.DataFrame(rows)


def km_differences(km: pd.DataFrame, pairs, days, ci_level: float) -> dict:
    """Differences of weighted Kaplan-Meier shares recovered by given days, with Wald intervals.

    The standard error of each arm's share is the robust one of :func:`~cit_bayes.weighting.
    survival.weighted_kaplan_meier` (``se``), the arms are taken as independent and the weights
    as fixed: a cross-check of the posterior's marginal differences, not a primary analysis.

    Examples
    --------
    >>> km = pd.DataFrame({"arm": ["A", "B"], "day": [7, 7], "cumulative_recovery": [0.6, 0.4],
    ...                    "se": [0.06, 0.08]})
    >>> km_differences(km, [("A", "B")], [7], 0.95)["day7"]["A-B"]["estimate"]
    0.2
    """
    z = norm.ppf(0.5 + ci_level / 2)
    table = km.set_index(["arm", "day"])
    out: dict[str, dict] = {}
    for day in days:
        for a, b in pairs:
            if (a, day) not in table.index or (b, day) not in table.index:
                continue
            estimate = (
                table.loc[(a, day), "cumulative_recovery"]
                - table.loc[(b, day), "cumulative_recovery"]
            )
            se = float(np.hypot(table.loc[(a, day), "se"], table.loc[(b, day), "se"]))
            out.setdefault(f"day{day}", {})[f"{a}-{b}"] = {
                "estimate": round(float(estimate), 12),
                "ci_low": finite_value(estimate - z * se),
                "ci_high": finite_value(estimate + z * se),
            }
    return out
