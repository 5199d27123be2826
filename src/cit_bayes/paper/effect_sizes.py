"""Effect sizes recomputed from printed counts: the odds ratio of a 2x2 table with its interval."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from cit_bayes.exceptions import PublishedDataError

__all__ = ["odds_ratio_woolf"]


def odds_ratio_woolf(table, *, confidence: float = 0.95, zero_correction: float = 0.5) -> dict:
    """Odds ratio of a 2x2 table with Woolf's (logit) confidence interval.

    Parameters
    ----------
    table : array_like of int
        ``[[a, b], [c, d]]``: rows are the two groups (first row = numerator group), columns
        are event / no event.
    confidence : float
        Confidence level of the interval.
    zero_correction : float
        Added to every cell when a cell is zero (Haldane-Anscombe); 0 leaves the table as is.

    Returns
    -------
    dict
        ``odds_ratio``, ``ci_low``, ``ci_high``, ``se_log_odds_ratio``, ``zero_corrected``.

    Notes
    -----
    :math:`\\widehat{OR} = ad / bc`,
    :math:`SE(\\ln \\widehat{OR}) = \\sqrt{1/a + 1/b + 1/c + 1/d}`, interval
    :math:`\\exp(\\ln \\widehat{OR} \\pm z_{1-\\alpha/2} SE)`.

    References
    ----------
    Woolf B (1955). On estimating the relation between blood group and disease. *Ann Hum Genet*
    19:251-253.

    Examples
    --------
    >>> from cit_bayes.paper.effect_sizes import odds_ratio_woolf
    >>> result = odds_ratio_woolf([[45, 19], [34, 2]])
    >>> round(result["odds_ratio"], 3), result["zero_corrected"]
    (0.139, False)
    """
    counts = np.asarray(table, dtype=float)
    if counts.shape != (2, 2) or np.any(counts < 0):
        raise PublishedDataError("an odds ratio needs a 2x2 table of non-negative counts")
    if not 0 < confidence < 1:
        raise PublishedDataError("confidence must lie strictly between 0 and 1")
    corrected = bool(np.any(counts == 0) and zero_correction > 0)
    if corrected:
        counts = counts + zero_correction
    (a, b), (c, d) = counts
    with np.errstate(divide="ignore"):
        odds_ratio = float(a * d / (b * c)) if b * c > 0 else math.inf
        se = float(np.sqrt((1 / counts).sum())) if np.all(counts > 0) else math.inf
    z = stats.norm.isf((1 - confidence) / 2)
    if math.isfinite(se) and odds_ratio > 0:
        low, high = odds_ratio * math.exp(-z * se), odds_ratio * math.exp(z * se)
    else:
        low, high = math.nan, math.nan
    return {
        "odds_ratio": odds_ratio,
        "ci_low": low,
        "ci_high": high,
        "se_log_odds_ratio": se,
        "zero_corrected": corrected,
    }
