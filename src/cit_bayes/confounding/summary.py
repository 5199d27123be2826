"""The ``unmeasured_confounding`` block of ``results.json``: E-values, the bias analysis with a
latent confounder U, the tipping-point surfaces and the measured covariates' benchmarks.

Computed from the primary adjusted analysis's posterior draws (no refit). For every pair of
the plan's ``[contrasts] pairs``:

* **response**: the risk ratio of the arms' marginal response rates (the estimand of the
  analysis: ATE, ATO or ATT) -- a risk ratio already, no conversion;
* **recovery**: the ratio of the shares recovered by the horizon (cumulative incidence, the
  model's own handling of censoring) -- a risk ratio already;
* **plt**: the difference in the mean count on the last day over the pooled within-arm SD of
  the observed counts that day in the two arms, as a risk ratio exp(0.91 d) (VanderWeele & Ding
  2017's conversion for a continuous outcome; approximate).

Each gives the ratio's posterior median and equal-tailed interval and their E-values
(:func:`~cit_bayes.confounding.evalue.interval_evalues`). For response and recovery the bias
analysis pairs every posterior draw with a draw of U's parameters from the plan's priors
(:class:`~cit_bayes.confounding.bias.ConfoundingPrior`), U commoner in the arm the posterior
favours (toward the null), and reports the bias-adjusted difference and P(A better than B);
for the key pair (the focus arm against the recovery reference) also the tipping-point surface
and the benchmarks.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.bayes.seeds import derive_seed
from cit_bayes.confounding.benchmarks import covariate_benchmarks
from cit_bayes.confounding.bias import (
    ConfoundingPrior,
    bias_adjusted,
    draw_bias_parameters,
    tipping_surface,
)
from cit_bayes.confounding.evalue import interval_evalues, risk_ratio_from_mean_difference

__all__ = ["DIFFERENCE_GRID", "TIPPING_THRESHOLDS", "confounding_summary", "odds_ratio_grid"]

#: The probabilities whose crossing the tipping-point summary reports.
TIPPING_THRESHOLDS = (0.95, 0.5)
#: Prevalence differences of U on the tipping-point surface.
DIFFERENCE_GRID = tuple(np.round(np.arange(0.0, 0.61, 0.05), 2))

SCALES = {
    "response": "risk ratio of the marginal response rates (no conversion)",
    "recovery": "risk ratio of the shares recovered by the horizon (no conversion)",
    "plt": "exp(0.91 d), d = difference in the mean count on the last day / pooled "
    "within-arm SD of the observed counts that day (approximate)",
}


def odds_ratio_grid(max_odds_ratio: float) -> tuple[float, ...]:
    """Odds ratios of U on the tipping-point surface: 1 to ``max_odds_ratio`` in 21 steps
    evenly spaced on the log scale.

    Examples
    --------
    >>> grid = odds_ratio_grid(4.0)
    >>> grid[0], grid[10], grid[-1], len(grid)
    (1.0, 2.0, 4.0, 21)
    """
    return tuple(float(v) for v in np.round(np.exp(np.linspace(0, np.log(max_odds_ratio), 21)), 4))


def _tipping(surface: np.ndarray, ratios, threshold: float) -> list:
    """Per prevalence difference, the smallest odds ratio of U on the grid at which
    P(focus > reference) falls below ``threshold`` (a string when none on the grid does)."""
    out = []
    for column in surface.T:
        below = np.flatnonzero(column < threshold)
        out.append(float(ratios[below[0]]) if below.size else f"above {ratios[-1]:g}")
    return out


def _interval(values: np.ndarray, level: float) -> dict:
    tail = (1.0 - level) / 2.0
    low, median, high = np.quantile(values, [tail, 0.5, 1.0 - tail])
    return {"median": float(median), "ci_low": float(low), "ci_high": float(high)}


def _difference(values: np.ndarray, level: float) -> dict:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)),
            "ci_low": float(low), "ci_high": float(high)}  # fmt: skip


def _evalues(ratio: np.ndarray, level: float, scale: str) -> dict:
    interval = _interval(ratio, level)
    return {"scale": scale, "ratio": interval} | interval_evalues(
        interval["median"], interval["ci_low"], interval["ci_high"]
    )


def _flat(draws, arm: str) -> np.ndarray:
    return np.ravel(draws.sel(arm=arm).values)


def _arm_risks(fits: dict, name: str, endpoint: str):
    fit = fits.get(f"{endpoint}/{name}")
    if fit is None:
        return None, None
    if endpoint == "response":
        return fit.draws["rate"], fit
    return fit.draws["cumulative_recovery"].isel(day=-1, drop=True), fit


def _bias_block(focus, reference, prior, rng, share, level) -> dict:
    favours_first = np.median(focus - reference) >= 0
    first, second = (focus, reference) if favours_first else (reference, focus)
    bias = draw_bias_parameters(prior, first.size, rng)
    a, b = bias_adjusted(first, second, bias, focus_share=share if favours_first else 1 - share)
    adjusted_first, adjusted_second = (a, b) if favours_first else (b, a)
    return {
        "u_commoner_in": "first arm" if favours_first else "second arm",
        "prob_superior": float(np.mean(focus > reference)),
        "prob_superior_bias_adjusted": float(np.mean(adjusted_first > adjusted_second)),
        "difference": _difference(focus - reference, level),
        "difference_bias_adjusted": _difference(adjusted_first - adjusted_second, level),
    }


def _pooled_sd(values: np.ndarray, groups: list[np.ndarray]) -> float:
    parts = [values[g][np.isfinite(values[g])] for g in groups]
    dof = sum(p.size - 1 for p in parts)
    if dof <= 0:
        return float("nan")
    return float(np.sqrt(sum(((p - p.mean()) ** 2).sum() for p in parts) / dof))


def confounding_summary(fits: dict, plan, runner, analysis: str = "adjusted") -> dict | None:
    """The results block, or None when the primary analysis's fits are absent.

    Parameters
    ----------
    fits : dict
        Fit name -> :class:`~cit_bayes.bayes.patient_fit.PatientFit`.
    plan : AnalysisPlan
        Pairs, focus and reference arms, last day, credible level, seed and the U priors
        (``plan.confounding``).
    runner
        The endpoint runner: ``arms``, ``codes`` (each patient's arm), ``design`` (the outcome
        models' design) and ``data`` (the cohort, for the observed counts of the last day).
    analysis : str
        The analysis whose draws are used (the primary adjusted one).

    Examples
    --------
    >>> confounding_summary({}, None, None) is None
    True
    """
    if not any(name.endswith(f"/{analysis}") for name in fits):
        return None
    prior: ConfoundingPrior = plan.confounding
    level = plan.spec.ci_level
    arms = list(runner.arms)
    pairs = [(a, b) for a, b in plan.spec.pairs if a in arms and b in arms]
    key_pair = (plan.spec.focus_arm, plan.recovery_reference)
    counts = np.bincount(runner.codes, minlength=len(arms))
    out: dict = {
        "analysis": analysis,
        "key_pair": "-".join(key_pair),
        "prior": prior.as_dict(),
        "evalues": {},
        "bias_analysis": {},
        "tipping": {},
        "benchmarks": {},
    }
    last_day = plan.days[-1]
    for endpoint in ("response", "plt", "recovery"):
        if endpoint == "plt":
            fit = fits.get(f"plt/{analysis}")
            if fit is None:
                continue
            mean = fit.draws["mean"].sel(day=last_day, drop=True)
            counts_last = runner.data[f"plt_{last_day}"].to_numpy(dtype=float, na_value=np.nan)
            block = {}
            for a, b in pairs:
                groups = [runner.codes == arms.index(a), runner.codes == arms.index(b)]
                sd = _pooled_sd(counts_last, groups)
                if not np.isfinite(sd) or sd <= 0:
                    continue
                d = (_flat(mean, a) - _flat(mean, b)) / sd
                block[f"{a}/{b}"] = _evalues(
                    risk_ratio_from_mean_difference(d), level, SCALES["plt"]
                ) | {"pooled_sd": sd}
            out["evalues"]["plt"] = block
            continue
        risks, fit = _arm_risks(fits, analysis, endpoint)
        if risks is None:
            continue
        rng = np.random.default_rng(derive_seed(plan.seed, "unmeasured confounding", endpoint))
        evalues, bias = {}, {}
        for a, b in pairs:
            focus, reference = _flat(risks, a), _flat(risks, b)
            evalues[f"{a}/{b}"] = _evalues(focus / reference, level, SCALES[endpoint])
            share = counts[arms.index(a)] / (counts[arms.index(a)] + counts[arms.index(b)])
            bias[f"{a}-{b}"] = _bias_block(focus, reference, prior, rng, share, level)
        out["evalues"][endpoint] = evalues
        out["bias_analysis"][endpoint] = bias
        if key_pair[0] in arms and key_pair[1] in arms:
            focus, reference = _flat(risks, key_pair[0]), _flat(risks, key_pair[1])
            ratios = odds_ratio_grid(prior.max_odds_ratio)
            surface = tipping_surface(focus, reference, DIFFERENCE_GRID, ratios)
            out["tipping"][endpoint] = {
                "prevalence_differences": [float(d) for d in DIFFERENCE_GRID],
                "odds_ratios": list(ratios),
                "prob_superior": np.round(surface, 6).tolist(),
                "tipping_odds_ratio": {
                    f"{threshold:.2f}": _tipping(surface, ratios, threshold)
                    for threshold in TIPPING_THRESHOLDS
                },
            }
            coefficient = fit.idata.posterior["coefficient"]
            table = covariate_benchmarks(
                runner.design.matrix,
                [str(c) for c in coefficient["covariate"].values],
                runner.codes == arms.index(key_pair[0]),
                runner.codes == arms.index(key_pair[1]),
                coefficient.median(("chain", "draw")).values,
            )
            out["benchmarks"][endpoint] = table.to_dict("records")
    return out
