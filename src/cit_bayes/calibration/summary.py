"""Coverage, bias and decision rates of a calibration, with their Monte Carlo errors.

From the replicates' records (:mod:`cit_bayes.calibration.replicate`), per scenario, analysis
and quantity (a per-arm marginal quantity or a difference between two arms):

* coverage of the equal-tailed interval at each level, with its Monte Carlo SE
  :math:`\\sqrt{c(1 - c) / R}` over the R replicates that finished;
* bias of the posterior mean (mean of mean - truth) with its MC SE, the mean posterior SD and
  the SD of the posterior means over replicates (they agree when the posterior's width is
  right);
* for differences, how often P(difference > 0) exceeded 0.95 (a claim of superiority) and fell
  below 0.05; under the null scenario, where every true difference is 0, that is the rate of
  false claims.

Replicates that failed are counted per scenario (with their errors), never dropped silently;
fits that missed a gate (R-hat, ESS, divergences) are counted per analysis and endpoint and
their replicates stay in the coverage (leaving them out would select on the data).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy.stats import binomtest

__all__ = [
    "COVERAGE_GOAL",
    "coverage_interval",
    "coverage_table",
    "coverage_verdict",
    "fit_counts",
    "replicate_counts",
    "verdicts",
]

#: The range a 95 % interval's coverage should fall in to be read at face value.
COVERAGE_GOAL = (0.93, 0.97)
#: Keys of a quantity.
QUANTITY = ["scenario", "analysis", "endpoint", "kind", "label", "day"]
#: Below this many replicates a verdict is not given (the MC SE of a coverage near 0.95 is
#: then above 0.02).
VERDICT_REPLICATES = 100


def _rows(records: list[dict]) -> pd.DataFrame:
    rows = [
        {"scenario": r["scenario"], "index": r["index"], **q}
        for r in records
        if r.get("status") == "done"
        for q in r.get("quantities", ())
    ]
    return pd.DataFrame(rows)


def coverage_table(records: list[dict], levels) -> pd.DataFrame:
    """One row per scenario, analysis and quantity.

    Examples
    --------
    >>> q = lambda mean, covered: {"analysis": "a", "endpoint": "response", "kind": "arm",
    ...     "label": "A", "day": "", "truth": 0.5, "mean": mean, "sd": 0.1,
    ...     "covered 0.95": covered}
    >>> records = [{"scenario": "s", "index": i, "status": "done",
    ...             "quantities": [q(0.5 + 0.1 * (i % 2), i < 3)]} for i in range(4)]
    >>> table = coverage_table(records, [0.95])
    >>> table[["replicates", "coverage 0.95", "mc_se 0.95", "bias"]].round(4).to_dict("records")
    [{'replicates': 4, 'coverage 0.95': 0.75, 'mc_se 0.95': 0.2165, 'bias': 0.05}]
    """
    frame = _rows(records)
    if frame.empty:
        return pd.DataFrame(columns=QUANTITY + ["replicates"])
    out = []
    for key, group in frame.groupby(QUANTITY, sort=False):
        error = group["mean"] - group["truth"]
        r = len(group)
        row = dict(zip(QUANTITY, key, strict=True))
        row |= {
            "replicates": r,
            "mean_truth": float(group["truth"].mean()),
            "bias": float(error.mean()),
            "bias_mc_se": float(error.std(ddof=1) / np.sqrt(r)) if r > 1 else np.nan,
            "rmse": float(np.sqrt(np.mean(error**2))),
            "mean_posterior_sd": float(group["sd"].mean()),
            "sd_of_means": float(group["mean"].std(ddof=1)) if r > 1 else np.nan,
        }
        for level in levels:
            covered = group[f"covered {level:g}"].astype(float)
            share = float(covered.mean())
            row[f"coverage {level:g}"] = share
            row[f"mc_se {level:g}"] = float(np.sqrt(share * (1 - share) / r))
        if "p_greater" in group and group["p_greater"].notna().any():
            row["share P>0.95"] = float((group["p_greater"] > 0.95).mean())
            row["share P<0.05"] = float((group["p_greater"] < 0.05).mean())
        out.append(row)
    return pd.DataFrame(out)


def replicate_counts(records: list[dict], setup) -> dict:
    """Per scenario and SBC group: replicates asked for, done, failed (with their errors),
    not yet run.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> setup = SimpleNamespace(groups=lambda: ["s"], replicates=3, sbc=0,
    ...                         scenario_name=lambda s: s)
    >>> records = [{"scenario": "s", "index": 0, "status": "done"},
    ...            {"scenario": "s", "index": 1, "status": "failed", "error": "E: x"}]
    >>> replicate_counts(records, setup)
    {'s': {'asked': 3, 'done': 1, 'failed': 1, 'not run': 1, 'errors': {'E: x': 1}}}
    """
    out = {}
    for group in setup.groups():
        name = setup.scenario_name(group)
        asked = setup.sbc if group.startswith("sbc-") else setup.replicates
        mine = [r for r in records if r["scenario"] == name]
        status = Counter(r["status"] for r in mine)
        out[name] = {
            "asked": asked,
            "done": status["done"],
            "failed": status["failed"],
            "not run": asked - len(mine),
            "errors": dict(Counter(r["error"] for r in mine if r["status"] == "failed")),
        }
    return out


def fit_counts(records: list[dict]) -> pd.DataFrame:
    """Per scenario, analysis and endpoint: fits, fits that missed a gate, divergences, the
    worst R-hat and the smallest bulk and tail ESS.

    Examples
    --------
    >>> from cit_bayes.calibration.summary import fit_counts
    >>> fit = lambda passed, rhat, ess, divergences: {"analysis": "adjusted",
    ...     "endpoint": "response", "passed": passed, "divergences": divergences,
    ...     "max_rhat": rhat, "min_ess_bulk": ess, "min_ess_tail": ess - 100}
    >>> records = [
    ...     {"scenario": "null", "index": 0, "status": "done", "fits": [fit(True, 1.002, 900, 0)]},
    ...     {"scenario": "null", "index": 1, "status": "done", "fits": [fit(False, 1.02, 300, 3)]},
    ...     {"scenario": "null", "index": 2, "status": "failed"}]
    >>> fit_counts(records)[["fits", "missed_gate", "divergences", "max_rhat", "min_ess_bulk"]
    ...                     ].to_dict("records")
    [{'fits': 2, 'missed_gate': 1, 'divergences': 3, 'max_rhat': 1.02, 'min_ess_bulk': 300}]
    """
    rows = [
        {"scenario": r["scenario"], **fit}
        for r in records
        if r.get("status") == "done"
        for fit in r.get("fits", ())
    ]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["scenario", "analysis", "endpoint"], sort=False)
    return grouped.agg(
        fits=("passed", "size"),
        missed_gate=("passed", lambda p: int((~p.astype(bool)).sum())),
        divergences=("divergences", "sum"),
        max_rhat=("max_rhat", "max"),
        min_ess_bulk=("min_ess_bulk", "min"),
        min_ess_tail=("min_ess_tail", "min"),
    ).reset_index()


def _name(row) -> str:
    arm, difference = {
        "response": ("response rate", "response difference"),
        "plt": ("PLT mean", "PLT difference"),
        "recovery": ("recovered", "recovered difference"),
    }[row["endpoint"]]
    day = f" ({row['day']})" if row["day"] else ""
    return f"{difference if row['kind'] == 'difference' else arm} {row['label']}{day}"


def coverage_interval(share: float, replicates: int) -> tuple[float, float]:
    """Wilson 95 % interval of a coverage share over ``replicates`` (scipy's binomtest): unlike
    share +- 2 SE it does not shrink to a point at 0 or 1.

    Examples
    --------
    >>> [round(x, 3) for x in coverage_interval(1.0, 10)]
    [0.722, 1.0]
    """
    successes = int(round(share * replicates))
    interval = binomtest(successes, replicates).proportion_ci(0.95, method="wilson")
    return float(interval.low), float(interval.high)


def coverage_verdict(
    group: pd.DataFrame, level: float = 0.95
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The verdict on one scenario and analysis's ``level`` intervals: ``"no verdict"`` below
    :data:`VERDICT_REPLICATES` replicates, else ``"too narrow"`` when some quantity's Wilson
    interval (:func:`coverage_interval`) lies below :data:`COVERAGE_GOAL`, ``"conservative"``
    when some lies above it (and none below), ``"face value"`` otherwise; with the rows below
    and above the goal. The one rule the summary's sentences and ``results.json`` use.

    Examples
    --------
    >>> group = pd.DataFrame({"replicates": [200, 200], "coverage 0.95": [0.95, 0.80]})
    >>> status, below, above = coverage_verdict(group)
    >>> status, below["coverage 0.95"].tolist(), len(above)
    ('too narrow', [0.8], 0)
    """
    column = f"coverage {level:g}"
    if int(group["replicates"].min()) < VERDICT_REPLICATES:
        return "no verdict", group.iloc[:0], group.iloc[:0]
    bounds = [
        coverage_interval(c, int(r))
        for c, r in zip(group[column], group["replicates"], strict=True)
    ]
    below = group[[high < COVERAGE_GOAL[0] for _, high in bounds]]
    above = group[[low > COVERAGE_GOAL[1] for low, _ in bounds]]
    status = "too narrow" if len(below) else "conservative" if len(above) else "face value"
    return status, below, above


def verdicts(table: pd.DataFrame, level: float = 0.95) -> list[str]:
    """One plain sentence per scenario and analysis on whether the ``level`` intervals can be
    read at face value (:func:`coverage_verdict`); below :data:`VERDICT_REPLICATES` replicates
    no verdict is given and nothing is listed.

    Examples
    --------
    >>> table = pd.DataFrame({"scenario": ["s", "s"], "analysis": ["a", "a"],
    ...     "endpoint": ["response"] * 2, "kind": ["arm", "difference"], "label": ["A", "A - B"],
    ...     "day": ["", ""], "replicates": [200, 200], "coverage 0.95": [0.95, 0.80],
    ...     "mc_se 0.95": [0.015, 0.028]})
    >>> print(verdicts(table)[0])
    s, a: the 95 % intervals of 2 quantities covered the truth in 0.80-0.95 of 200 replicates (Monte Carlo SE up to 0.028). Below 93 %: response difference A - B (0.80). Not to be read at face value.
    """
    low_goal, high_goal = (f"{100 * g:g} %" for g in COVERAGE_GOAL)
    endings = {
        "no verdict": f" Fewer than {VERDICT_REPLICATES} replicates: no verdict.",
        "too narrow": " Not to be read at face value.",
        "conservative": " Conservative: wider than needed.",
        "face value": (
            f" Within {low_goal.removesuffix(' %')}-{high_goal} allowing for Monte Carlo "
            "error: can be read at face value."
        ),
    }
    column, se = f"coverage {level:g}", f"mc_se {level:g}"
    out = []
    for (scenario, analysis), group in table.groupby(["scenario", "analysis"], sort=False):
        status, below, above = coverage_verdict(group, level)
        sentence = (
            f"{scenario}, {analysis}: the {100 * level:g} % intervals of {len(group)} quantities "
            f"covered the truth in {group[column].min():.2f}-{group[column].max():.2f} of "
            f"{int(group['replicates'].min())} replicates (Monte Carlo SE up to "
            f"{group[se].max():.3f})."
        )
        for rows, words in (
            (below, f"Below {low_goal}"),
            (above, f"Above {high_goal} (conservative)"),
        ):
            if len(rows):
                listed = ", ".join(f"{_name(r)} ({r[column]:.2f})" for _, r in rows.iterrows())
                sentence += f" {words}: {listed}."
        out.append(sentence + endings[status])
    return out
