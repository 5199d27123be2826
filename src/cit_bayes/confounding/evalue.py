r"""E-values (VanderWeele & Ding 2017) of a ratio and of its credible interval.

The E-value of a risk ratio RR is the smallest strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the treatment and the outcome,
conditional on the measured covariates, to move RR to 1:

.. math:: E = RR + \sqrt{RR\,(RR - 1)} \quad (RR \ge 1; \text{ for } RR < 1 \text{ use } 1/RR).

The E-value of an interval is that of the limit nearest 1, and 1 when the interval contains 1.
Other effect scales are first turned into approximate risk ratios with the paper's conversions:
an odds ratio OR as sqrt(OR) and a hazard ratio HR as
(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) when the outcome is common (more than 15 % by the end
of follow-up in the reference arm), unchanged when it is rare; a standardised mean difference d
as exp(0.91 d).

Written here because no maintained Python library computes them (R's ``EValue`` package does;
these formulas are its ``evalues.RR``, ``evalues.OR``, ``evalues.HR`` and ``evalues.MD``, and
the tests check them against its documented examples).

References
----------
VanderWeele, T. J. & Ding, P. (2017). Sensitivity analysis in observational research:
introducing the E-value. *Annals of Internal Medicine* 167(4), 268-274.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.exceptions import ModelError

__all__ = [
    "COMMON_OUTCOME",
    "evalue",
    "interval_evalues",
    "is_common",
    "risk_ratio_from_hazard_ratio",
    "risk_ratio_from_mean_difference",
    "risk_ratio_from_odds_ratio",
]

#: Above this risk in the reference arm an outcome counts as common (VanderWeele & Ding 2017).
COMMON_OUTCOME = 0.15


def _positive(ratio, name: str) -> np.ndarray:
    value = np.asarray(ratio, dtype=float)
    if not np.all(np.isfinite(value)) or np.any(value <= 0):
        raise ModelError(f"{name} must be finite and positive")
    return value


def evalue(ratio):
    """E-value of a risk ratio (either side of 1).

    Examples
    --------
    >>> round(float(evalue(3.9)), 2), round(float(evalue(1 / 3.9)), 2), float(evalue(1.0))
    (7.26, 7.26, 1.0)
    """
    rr = _positive(ratio, "a risk ratio")
    rr = np.where(rr < 1.0, 1.0 / rr, rr)
    out = rr + np.sqrt(rr * (rr - 1.0))
    return out if out.ndim else float(out)


def is_common(reference_risk: float) -> bool:
    """Whether an outcome with this risk in the reference arm is common (> 15 %).

    Examples
    --------
    >>> is_common(0.6), is_common(0.05)
    (True, False)
    """
    return bool(reference_risk > COMMON_OUTCOME)


def risk_ratio_from_odds_ratio(odds_ratio, *, common: bool):
    """Approximate risk ratio of an odds ratio: sqrt(OR) for a common outcome, OR for a rare one.

    Examples
    --------
    >>> float(risk_ratio_from_odds_ratio(4.0, common=True))
    2.0
    """
    value = _positive(odds_ratio, "an odds ratio")
    return np.sqrt(value) if common else value


def risk_ratio_from_hazard_ratio(hazard_ratio, *, common: bool):
    """Approximate risk ratio of a hazard ratio (VanderWeele's conversion for a common outcome).

    Examples
    --------
    >>> round(float(risk_ratio_from_hazard_ratio(2.0, common=True)), 4)
    1.6125
    >>> float(risk_ratio_from_hazard_ratio(2.0, common=False))
    2.0
    """
    hr = _positive(hazard_ratio, "a hazard ratio")
    if not common:
        return hr
    return (1.0 - 0.5 ** np.sqrt(hr)) / (1.0 - 0.5 ** np.sqrt(1.0 / hr))


def risk_ratio_from_mean_difference(standardised_difference):
    """Approximate risk ratio of a standardised mean difference d: exp(0.91 d).

    Examples
    --------
    >>> round(float(risk_ratio_from_mean_difference(0.5)), 4)
    1.5762
    """
    d = np.asarray(standardised_difference, dtype=float)
    if not np.all(np.isfinite(d)):
        raise ModelError("a standardised mean difference must be finite")
    return np.exp(0.91 * d)


def interval_evalues(point: float, low: float, high: float) -> dict:
    """E-values of a risk ratio's point estimate and of the credible limit nearest 1.

    Returns
    -------
    dict
        ``evalue_point``; ``evalue_limit`` (1 when the interval contains 1); ``limit``, which
        limit that is (``"ci_low"``, ``"ci_high"`` or ``"none: the interval contains 1"``).

    Examples
    --------
    >>> out = interval_evalues(1.3, 1.1, 1.6)
    >>> round(out["evalue_point"], 3), round(out["evalue_limit"], 3), out["limit"]
    (1.924, 1.432, 'ci_low')
    >>> interval_evalues(0.8, 0.6, 1.05)["evalue_limit"]
    1.0
    """
    point, low, high = (float(v) for v in _positive([point, low, high], "a risk ratio"))
    if not low <= point <= high:
        raise ModelError(f"need ci_low <= point <= ci_high, got {low}, {point}, {high}")
    if low <= 1.0 <= high:
        limit, value = "none: the interval contains 1", 1.0
    elif point > 1.0:
        limit, value = "ci_low", evalue(low)
    else:
        limit, value = "ci_high", evalue(high)
    return {"evalue_point": float(evalue(point)), "evalue_limit": float(value), "limit": limit}
