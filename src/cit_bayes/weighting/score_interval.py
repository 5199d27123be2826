"""Score intervals for weighted response rates at 0 % or 100 % (Wilson, Newcombe).

When every patient of an arm has the same 0/1 outcome, the weighted rate is exactly 0 or 1, its
sandwich SE is 0 and every bootstrap resample of the arm repeats it, so the Wald and percentile
intervals collapse to a point. :func:`weighted_outcome <cit_bayes.weighting.weighted_outcome>`
gives such an arm Wilson's score interval at the arm's Kish effective sample size
:math:`n_\\mathrm{eff} = (\\sum w)^2 / \\sum w^2` (the weighted rate :math:`\\hat p` read as
:math:`n_\\mathrm{eff}\\,\\hat p` successes of :math:`n_\\mathrm{eff}`), and a difference involving
it Newcombe's hybrid score interval (method 10) from the two arms' Wilson limits at their Kish
effective sample sizes. The closed forms are written here because scipy's ``binomtest`` needs
integer counts.

References
----------
Wilson EB (1927). Probable inference, the law of succession, and statistical inference. Journal
of the American Statistical Association 22:209-212.
Newcombe RG (1998). Interval estimation for the difference between independent proportions:
comparison of eleven methods. Statistics in Medicine 17:873-890.
Kish L (1965). Survey Sampling. Wiley.
"""

from __future__ import annotations

import numpy as np

__all__ = ["newcombe_interval", "wilson_interval"]


def wilson_interval(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` of ``n`` (``n`` need not be an integer).

    Centre :math:`(p + z^2/2n) / (1 + z^2/n)`, half-width
    :math:`z \\sqrt{p(1-p)/n + z^2/4n^2} / (1 + z^2/n)`.

    Parameters
    ----------
    p : float
        The proportion, in [0, 1].
    n : float
        The (effective) number of trials, positive.
    z : float
        The standard normal quantile of the two-sided level.

    Returns
    -------
    tuple of float
        The lower and upper limits.

    Examples
    --------
    >>> low, high = wilson_interval(1.0, 20.0, 1.959964)  # at p = 1: [n / (n + z^2), 1]
    >>> round(low, 4), high, round(20 / (20 + 1.959964**2), 4)
    (0.8389, 1.0, 0.8389)
    """
    shrink = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / shrink
    half = z * np.sqrt(max(p * (1 - p), 0.0) / n + z**2 / (4 * n**2)) / shrink
    low = 0.0 if p == 0 else max(centre - half, 0.0)  # exact at the bounds, not round-off
    high = 1.0 if p == 1 else min(centre + half, 1.0)
    return float(low), float(high)


def newcombe_interval(arm: tuple, comparator: tuple) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for ``p_arm - p_comparator``.

    Parameters
    ----------
    arm, comparator : tuple of float
        ``(p, low, high)``: each proportion with its Wilson limits.

    Returns
    -------
    tuple of float
        :math:`d - \\sqrt{(p_1 - l_1)^2 + (u_2 - p_2)^2}` and
        :math:`d + \\sqrt{(u_1 - p_1)^2 + (p_2 - l_2)^2}`, with :math:`d = p_1 - p_2`.

    Examples
    --------
    >>> low, high = newcombe_interval((1.0, 0.8, 1.0), (0.5, 0.3, 0.7))
    >>> round(low, 4), round(high, 4)  # 0.5 -+ hypot(0.2, 0.2) and hypot(0, 0.2)
    (0.2172, 0.7)
    """
    (p1, l1, u1), (p2, l2, u2) = arm, comparator
    d = p1 - p2
    return float(d - np.hypot(p1 - l1, u2 - p2)), float(d + np.hypot(u1 - p1, p2 - l2))
