"""What each endpoint's data show without its outcome model, beside the posterior.

Patients with the event per arm (the raw count beside every modelled rate), the observed
platelet means per arm and day, the observed baseline mean, and the frequentist cross-checks that
:class:`~cit_bayes.analyses.endpoints.EndpointRunner` sets beside the Bayesian fragments: the
unweighted share of responders per arm with score intervals (Wilson, Newcombe), and the
weighted Cox model of recovery, or rows that say why it could not be fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cit_bayes.bayes.patient_base import PatientData
from cit_bayes.exceptions import NotEstimableError
from cit_bayes.weighting.cox import weighted_cox
from cit_bayes.weighting.score_interval import newcombe_interval

__all__ = ["baseline_means", "cox_or_note", "event_counts", "observed_plt", "plain_outcomes"]


def plain_outcomes(y: np.ndarray, codes: np.ndarray, arms, ci_level: float) -> pd.DataFrame:
    """Unweighted response rate per arm and differences, in weighted_outcome's shape.

    The intervals are score intervals: Wilson's for each arm's share (from
    :meth:`scipy.stats.binomtest`'s ``proportion_ci``) and Newcombe's hybrid score interval for
    each difference (Newcombe 1998, method 10: the arms' Wilson limits combined; scipy and our
    other libraries do not have it:
    :func:`~cit_bayes.weighting.score_interval.newcombe_interval`). The Wald interval
    ``p +- z SE`` they replace collapses to a single point when an arm has 0 % or 100 %
    responders (SE 0) and under-covers near those bounds, where the combination's rate lies.
    ``se`` is the binomial standard error at the estimate, sqrt(p (1 - p) / n) (0 at 0 % and
    100 %), and for a difference the two combined; the intervals do not use it. The interval
    columns keep weighted_outcome's names (``ci_low_sandwich``, ``ci_high_sandwich``);
    ``method`` says what they are. An arm without a patient with a response has NaN rows
    (``"not estimable"`` in results.json).

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference. *J Am Stat
    Assoc* 1927;22:209-212.
    Newcombe RG. Interval estimation for the difference between independent proportions:
    comparison of eleven methods. *Stat Med* 1998;17:873-890.

    Examples
    --------
    >>> from cit_bayes.analyses.observed import plain_outcomes
    >>> y, codes = np.array([1.0, 0.0, 1.0, 1.0]), np.array([0, 0, 1, 1])
    >>> frame = plain_outcomes(y, codes, ("A", "B"), 0.95)
    >>> frame["quantity"].tolist(), frame["estimate"].tolist()  # A: 1/2, B: 2/2, B - A
    (['arm_mean', 'arm_mean', 'difference'], [0.5, 1.0, 0.5])
    >>> frame["se"].round(4).tolist()  # sqrt(0.5 * 0.5 / 2), 0, and the two combined
    [0.3536, 0.0, 0.3536]
    >>> frame["ci_low_sandwich"].round(4).tolist()  # B's 2 of 2: Wilson, not the point [1, 1]
    [0.0945, 0.3424, -0.2726]
    >>> frame["ci_high_sandwich"].round(4).tolist()
    [0.9055, 1.0, 0.9055]
    """
    from scipy.stats import binomtest

    rows, rates = [], {}
    for j, arm in enumerate(arms):
        values = y[codes == j]
        n, k = len(values), int(np.sum(values == 1.0))
        if n == 0:  # no patient of the arm with a response: nothing to estimate
            rates[arm] = (np.nan,) * 4
        else:
            p = k / n
            wilson = binomtest(k, n).proportion_ci(confidence_level=ci_level, method="wilson")
            rates[arm] = (p, np.sqrt(p * (1 - p) / n), wilson.low, wilson.high)
        rows.append(("arm_mean", arm, "", *rates[arm]))
    for a in range(len(arms)):
        for b in range(a + 1, len(arms)):
            (pb, sb, lb, ub), (pa, sa, la, ua) = rates[arms[b]], rates[arms[a]]
            low, high = newcombe_interval((pb, lb, ub), (pa, la, ua))
            rows.append(("difference", arms[b], arms[a], pb - pa, np.hypot(sa, sb), low, high))
    columns = ["quantity", "arm", "comparator", "estimate", "se"]
    frame = pd.DataFrame(rows, columns=[*columns, "ci_low_sandwich", "ci_high_sandwich"])
    level = round(100 * ci_level)
    return frame.assign(
        n_bootstrap=0,
        confidence=ci_level,
        method=f"share of responders per arm (unweighted), Wilson {level}% CI; differences: "
        "Newcombe's hybrid score CI",
    )


def cox_or_note(time, recovered, labels, weights, *, arms, reference, ci_level) -> pd.DataFrame:
    """The weighted Cox rows; when the model cannot be fitted, NaN rows that say why.

    A Cox model that cannot be estimated on the data (separation, no convergence:
    :class:`~cit_bayes.exceptions.NotEstimableError`) must not stop the Bayesian analysis it
    only cross-checks; the reason is kept in the ``note`` column and in ``results.json``. Bad
    input (any other :class:`~cit_bayes.exceptions.ModelError` or a ``WeightingError``) is an
    error, not a finding, and is raised.

    Examples
    --------
    Every patient of arm "b" recovers before any of arm "a" (complete separation): the
    Cox model does not converge, and its row says so instead of stopping the analysis.

    >>> from cit_bayes.analyses.observed import cox_or_note
    >>> rows = cox_or_note([1, 2, 3, 4], [1, 1, 1, 1], list("bbaa"), None, arms=("a", "b"),
    ...                    reference="a", ci_level=0.95)
    >>> rows["key"].tolist(), rows["hazard_ratio"].isna().tolist()
    (['b/a'], [True])
    >>> rows["note"][0].startswith("not estimable: the weighted Cox model did not converge")
    True
    """
    try:
        return weighted_cox(
            time, recovered, labels, weights, arms=arms, reference=reference, ci_level=ci_level
        )
    except NotEstimableError as error:
        return pd.DataFrame(
            {
                "key": f"{arm}/{reference}",
                "arm": arm,
                "reference": reference,
                "hazard_ratio": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_value": np.nan,
                "note": f"not estimable: {error}",
            }
            for arm in arms
            if arm != reference
        )


def observed_plt(day0, counts, codes, arms, days) -> pd.DataFrame:
    """Observed (unweighted) mean count per arm and day, with n: aggregate numbers only.

    Examples
    --------
    >>> from cit_bayes.analyses.observed import observed_plt
    >>> day0 = np.array([10.0, 20.0, 30.0])
    >>> counts = np.array([[15.0], [np.nan], [40.0]])  # day 7; one count missing in arm A
    >>> frame = observed_plt(day0, counts, np.array([0, 0, 1]), ("A", "B"), ("day7",))
    >>> frame["arm"].tolist(), frame["day"].tolist(), frame["n"].tolist()
    (['A', 'A', 'B', 'B'], [0, 7, 0, 7], [2, 1, 1, 1])
    >>> frame["observed_mean"].tolist()
    [15.0, 15.0, 30.0, 40.0]
    """
    rows = []
    values = np.column_stack([day0, counts])
    for j, arm in enumerate(arms):
        for k, day in enumerate(("day0", *days)):
            column = values[codes == j, k]
            column = column[np.isfinite(column)]
            rows.append(
                {
                    "arm": arm,
                    "day": int(day.removeprefix("day")),
                    "n": int(column.size),
                    "observed_mean": float(column.mean()) if column.size else float("nan"),
                    "observed_sd": float(column.std(ddof=1)) if column.size > 1 else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def baseline_means(day0: np.ndarray, data: PatientData, adjusted: bool) -> dict[str, float]:
    """Observed mean day-0 count: of the target population (adjusted) or of each arm.

    Examples
    --------
    >>> from cit_bayes.analyses.observed import baseline_means
    >>> from cit_bayes.bayes.patient_base import PatientData
    >>> data = PatientData(("a", "b"), [0, 0, 1], np.zeros((3, 0)), (), np.ones(3), [1, 3, 0])
    >>> day0 = np.array([10.0, 30.0, 50.0])
    >>> baseline_means(day0, data, adjusted=False)  # (10 + 30) / 2 and 50
    {'a': 20.0, 'b': 50.0}
    >>> baseline_means(day0, data, adjusted=True)  # tilted: (10 + 3 * 30) / 4, for every arm
    {'a': 25.0, 'b': 25.0}
    """
    if adjusted:
        value = float(np.sum(data.tilt * day0) / np.sum(data.tilt))
        return dict.fromkeys(data.arms, value)
    return {arm: float(day0[data.arm_codes == j].mean()) for j, arm in enumerate(data.arms)}


def event_counts(outcome: np.ndarray, codes: np.ndarray, arms) -> dict[str, int]:
    """Patients with the event (outcome 1) per arm, among those with it recorded: the raw
    count beside every modelled rate.

    Examples
    --------
    >>> event_counts(np.array([1.0, 0.0, np.nan, 1.0]), np.array([0, 0, 1, 1]), ("A", "B"))
    {'A': 1, 'B': 1}
    """
    outcome = np.asarray(outcome, dtype=float)
    hit = np.isfinite(outcome) & (outcome == 1.0)
    return {arm: int(np.sum(hit & (codes == j))) for j, arm in enumerate(arms)}
