"""The measured covariates' own strengths: benchmarks for an unmeasured confounder.

"Would a confounder as strong as stage IV overturn the answer?" is easier to judge than an
abstract odds ratio. For each column of the outcome models' design this module gives the two
strengths the tipping-point surface has on its axes (:func:`cit_bayes.confounding.bias.tipping_surface`):

* its **prevalence difference** between the focus and the reference arm *before weighting*
  (the imbalance it would leave if it had not been measured);
* its **odds ratio on the outcome** given the arm and the other covariates: exp of the posterior
  median of its coefficient in the endpoint's adjusted model (log odds for response; for
  recovery the model's coefficient is a log hazard ratio of the discrete-time cloglog hazard,
  shown on the same axis as an approximation).

An indicator column (two values: 0/1, or a 0/1 characteristic standardised) is used as it is,
its odds ratio that of having the characteristic. A numeric column (standardised in the design) is
split at the two arms' pooled median: the prevalence is the share above it, and the odds
ratio that of the mean standardised value above against below it (coefficient times the
difference of those means).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cit_bayes.exceptions import ModelError

__all__ = ["BENCHMARK_COLUMNS", "covariate_benchmarks"]

BENCHMARK_COLUMNS = (
    "covariate", "kind", "prevalence_difference", "odds_ratio", "strength", "bias_scale",
)  # fmt: skip


def covariate_benchmarks(
    design: np.ndarray,
    columns,
    in_focus: np.ndarray,
    in_reference: np.ndarray,
    coefficient_median,
) -> pd.DataFrame:
    """One row per design column: its imbalance between two arms and its outcome odds ratio.

    Parameters
    ----------
    design : numpy.ndarray, shape (n, p)
        The outcome models' design (0/1 indicators, standardised numerics).
    columns : sequence of str
        Its column names.
    in_focus, in_reference : numpy.ndarray of bool, shape (n,)
        Which patients are in the focus and in the reference arm.
    coefficient_median : array_like, shape (p,)
        Posterior median of each column's coefficient in the endpoint's adjusted model.

    Returns
    -------
    pandas.DataFrame
        ``covariate``, ``kind`` (``indicator`` or ``numeric, split at the median``),
        ``prevalence_difference`` (focus - reference, signed), ``odds_ratio`` (signed effect,
        exp of the coefficient), ``strength`` (that odds ratio turned to >= 1, exp|log OR|),
        ``bias_scale`` (|prevalence difference| x |log OR|: to first order, the shift in the log
        odds of the arm contrast that leaving the covariate out would cause), sorted by
        ``bias_scale``, the most dangerous first.

    Examples
    --------
    >>> design = np.array([[0.0, -1.0], [1.0, 0.5], [1.0, 1.2], [0.0, -0.7]])
    >>> focus = np.array([False, True, True, False])
    >>> table = covariate_benchmarks(design, ["stage=IV", "age"], focus, ~focus, [0.4, -0.2])
    >>> table[["covariate", "prevalence_difference"]].to_dict("records")
    [{'covariate': 'stage=IV', 'prevalence_difference': 1.0}, {'covariate': 'age', 'prevalence_difference': 1.0}]
    """
    design = np.asarray(design, dtype=float)
    columns = [str(c) for c in columns]
    coefficient = np.asarray(coefficient_median, dtype=float)
    in_focus, in_reference = np.asarray(in_focus, bool), np.asarray(in_reference, bool)
    if design.ndim != 2 or design.shape[1] != len(columns) or coefficient.shape != (len(columns),):
        raise ModelError("need one column name and one coefficient per design column")
    if in_focus.shape != (design.shape[0],) or in_reference.shape != in_focus.shape:
        raise ModelError("need the arm masks of the design's rows")
    if not in_focus.any() or not in_reference.any():
        raise ModelError("both arms need patients")
    both = in_focus | in_reference
    rows = []
    for j, name in enumerate(columns):
        x = design[:, j]
        levels = np.unique(x[both])
        if levels.size == 2:  # an indicator (0/1, or a 0/1 column standardised)
            kind = "indicator"
            indicator = (x == levels[1]).astype(float)
            log_or = coefficient[j] * (levels[1] - levels[0])
        elif levels.size > 2:
            median = np.median(x[both])
            indicator = (x > median).astype(float)
            above, below = x[both & (x > median)], x[both & (x <= median)]
            kind = "numeric, split at the median"
            log_or = coefficient[j] * (above.mean() - below.mean())
        else:
            continue  # a column constant in these arms says nothing
        difference = indicator[in_focus].mean() - indicator[in_reference].mean()
        strength = abs(float(log_or))
        rows.append(
            (name, kind, float(difference), float(np.exp(log_or)), float(np.exp(strength)),
             abs(float(difference)) * strength)
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=list(BENCHMARK_COLUMNS))
    return table.sort_values("bias_scale", ascending=False, kind="stable").reset_index(drop=True)
