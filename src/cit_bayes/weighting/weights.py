"""Balancing weights for k >= 2 arms from a matrix of propensities (Li & Li 2019).

Every estimand is a *tilting function* h(x) of the generalized propensity
:math:`e(x) = (e_1(x), \\dots, e_k(x))`, and patient i in arm :math:`a_i` gets

.. math::  w_i = h(x_i) / e_{a_i}(x_i),

which re-weights every arm to the same target population with density proportional to
:math:`f(x) h(x)`:

===============  ===========================================  ===============================
estimand         h(x)                                         target population
===============  ===========================================  ===============================
``"ate"``        1                                            everyone (inverse probability)
``"ato"``        :math:`1 / \\sum_k 1/e_k(x)`                  the overlap population
``"att"``        :math:`e_t(x)` for the focal arm t           patients like those in arm t
``"matching"``   :math:`\\min_k e_k(x)`                         the matching population
===============  ===========================================  ===============================

With two arms ``"ato"`` gives the overlap weights of Li, Morgan & Zaslavsky (2018): 1 - e for the
treated and e for the controls (h = e(1 - e)), and ``"matching"`` the matching weights of
Li & Greene (2013).

Trimming (k-arm rule): patients with :math:`\\min_k e_k(x_i) < \\alpha` are removed from the target
population (weight 0), the multinomial extension of Crump et al. (2009) studied by Yoshida et al.
(2019). Propensities are not re-estimated after trimming: :math:`e(x)` is a property of x and does
not change when the population is restricted on x.

Truncation: weights of the retained patients below the ``lower`` or above the ``upper``
percentile of those weights (all arms pooled) are set to that percentile (Cole & Hernan 2008).

References
----------
Li F, Li F (2019). Propensity score weighting for causal inference with multiple treatments.
Annals of Applied Statistics 13(4):2389-2415.
Li F, Morgan KL, Zaslavsky AM (2018). Balancing covariates via propensity score weighting.
Journal of the American Statistical Association 113(521):390-400.
Li L, Greene T (2013). A weighting analogue to pair matching in propensity score analysis.
International Journal of Biostatistics 9(2):215-234.
Crump RK, Hotz VJ, Imbens GW, Mitnik OA (2009). Dealing with limited overlap in estimation of
average treatment effects. Biometrika 96(1):187-199.
Yoshida K, Solomon DH, Haneuse S, et al. (2019). Multinomial extension of propensity score trimming
methods: a simulation study. American Journal of Epidemiology 188(3):609-616.
Cole SR, Hernan MA (2008). Constructing inverse probability weights for marginal structural
models. American Journal of Epidemiology 168(6):656-664.
"""

from __future__ import annotations

import numpy as np

from cit_bayes.exceptions import WeightingError

__all__ = [
    "ESTIMANDS",
    "estimand_weights",
    "tilting",
    "tilting_weights",
    "trim_mask",
    "truncate_weights",
    "truncation_bounds",
    "weight_gradient",
]

#: Estimands understood by the weighting module.
ESTIMANDS: tuple[str, ...] = ("ate", "ato", "att", "matching")


def _check_estimand(estimand: str, focal: int | None, n_arms: int) -> None:
    if estimand not in ESTIMANDS:
        raise WeightingError(f"estimand must be one of {ESTIMANDS}; got {estimand!r}")
    if estimand == "att" and (focal is None or not 0 <= focal < n_arms):
        raise WeightingError("estimand 'att' needs a focal arm (reference=...)")


def tilting(propensity: np.ndarray, estimand: str, focal: int | None = None) -> np.ndarray:
    """Return the tilting function h(x_i) for every patient (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.weights import tilting
    >>> tilting(np.array([[0.8, 0.2], [0.5, 0.5]]), "matching").tolist()
    [0.2, 0.5]
    """
    e = np.asarray(propensity, dtype=float)
    _check_estimand(estimand, focal, e.shape[1])
    if estimand == "ate":
        return np.ones(len(e))
    if estimand == "ato":
        return 1.0 / np.sum(1.0 / e, axis=1)
    if estimand == "att":
        return e[:, focal].copy()
    return e.min(axis=1)


def tilting_weights(
    propensity: np.ndarray, codes: np.ndarray, estimand: str, focal: int | None = None
) -> np.ndarray:
    """Array core of :func:`estimand_weights`: ``h(x_i) / e_{a_i}(x_i)`` with integer arm codes.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.weights import tilting_weights
    >>> e = np.array([[0.8, 0.2], [0.5, 0.5]])
    >>> tilting_weights(e, np.array([0, 1]), "ato").round(3).tolist()
    [0.2, 0.5]
    """
    e = np.asarray(propensity, dtype=float)
    codes = np.asarray(codes, dtype=int)
    own = e[np.arange(len(codes)), codes]
    if not np.all(np.isfinite(e)) or np.any(e < 0) or np.any(own <= 0):
        raise WeightingError(
            "propensities must be finite and every patient's own-arm propensity positive"
        )
    return tilting(e, estimand, focal) / own


def estimand_weights(propensity, arm, estimand: str = "ato", *, reference=None):
    """Balancing weights ``w_i = h(x_i) / e_{a_i}(x_i)`` from given propensities.

    Parameters
    ----------
    propensity : pandas.DataFrame, shape (n, k)
        One column per arm (the column labels are the arm labels), rows summing to 1.
    arm : array-like, shape (n,)
        Each patient's arm, one of the column labels.
    estimand : {"ate", "ato", "att", "matching"}, default "ato"
    reference : label, optional
        The focal arm of ``"att"`` (required there, ignored otherwise).

    Returns
    -------
    pandas.Series
        ``weight``, indexed like ``propensity``.

    Notes
    -----
    The tilting functions are listed in the module docstring. No trimming, truncation or
    stabilisation is applied here (see :class:`cit_bayes.weighting.PropensityWeighting`).

    References
    ----------
    Li F, Li F (2019). Annals of Applied Statistics 13(4):2389-2415.

    Examples
    --------
    >>> import pandas as pd
    >>> from cit_bayes.weighting.weights import estimand_weights
    >>> propensity = pd.DataFrame({"a": [0.8, 0.5], "b": [0.2, 0.5]})
    >>> estimand_weights(propensity, ["a", "b"], "ate").round(3).tolist()
    [1.25, 2.0]
    """
    import pandas as pd

    frame = pd.DataFrame(propensity)
    labels = list(frame.columns)
    arm = np.asarray(arm, dtype=object)
    if len(arm) != len(frame):
        raise WeightingError(f"{len(arm)} arm labels for {len(frame)} rows of propensities")
    lookup = {label: j for j, label in enumerate(labels)}
    unknown = sorted({str(a) for a in arm if a not in lookup})
    if unknown:
        raise WeightingError(f"arm labels {unknown} are not propensity columns {labels}")
    if not np.allclose(frame.to_numpy(dtype=float).sum(axis=1), 1.0, atol=1e-8):
        raise WeightingError("each row of propensities must sum to 1")
    focal = lookup.get(reference) if estimand == "att" else None
    if estimand == "att" and reference not in lookup:
        raise WeightingError(f"estimand 'att' needs reference= one of {labels}; got {reference!r}")
    codes = np.array([lookup[a] for a in arm])
    values = tilting_weights(frame.to_numpy(dtype=float), codes, estimand, focal)
    return pd.Series(values, index=frame.index, name="weight")


def weight_gradient(
    propensity: np.ndarray, codes: np.ndarray, estimand: str, focal: int | None = None
) -> np.ndarray:
    """Partial derivatives :math:`\\partial w_i / \\partial e_{ik}`, shape (n, k).

    With :math:`w = h/e_a`: :math:`\\partial w/\\partial e_k = (\\partial h/\\partial e_k)/e_a -
    \\delta_{ka} h / e_a^2`, where :math:`\\partial h/\\partial e_k` is 0 (ATE),
    :math:`h^2/e_k^2` (ATO), :math:`\\delta_{kt}` (ATT) or :math:`1\\{k = \\arg\\min_l e_l\\}`
    (matching; ties have probability zero for continuous covariates).

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.weights import weight_gradient
    >>> e = np.array([[0.8, 0.2], [0.5, 0.5]])
    >>> weight_gradient(e, np.array([0, 1]), "ate").round(3).tolist()
    [[-1.562, 0.0], [0.0, -4.0]]
    """
    e = np.asarray(propensity, dtype=float)
    n, k = e.shape
    rows = np.arange(n)
    own = e[rows, codes]
    h = tilting(e, estimand, focal)
    if estimand == "ate":
        dh = np.zeros((n, k))
    elif estimand == "ato":
        dh = h[:, None] ** 2 / e**2
    elif estimand == "att":
        dh = np.zeros((n, k))
        dh[:, focal] = 1.0
    else:
        dh = np.zeros((n, k))
        dh[rows, np.argmin(e, axis=1)] = 1.0
    gradient = dh / own[:, None]
    gradient[rows, codes] -= h / own**2
    return gradient


def trim_mask(propensity: np.ndarray, alpha: float | None) -> np.ndarray:
    """Patients kept by the k-arm trimming rule ``min_k e_k(x_i) >= alpha`` (all if None).

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.weights import trim_mask
    >>> trim_mask(np.array([[0.8, 0.2], [0.5, 0.5]]), 0.25).tolist()
    [False, True]
    """
    e = np.asarray(propensity, dtype=float)
    if alpha is None:
        return np.ones(len(e), dtype=bool)
    k = e.shape[1]
    if not 0 < alpha < 1.0 / k:
        raise WeightingError(
            f"trim must be a threshold in (0, 1/k) = (0, {1 / k:.3g}); got {alpha!r}"
        )
    return e.min(axis=1) >= alpha


def truncation_bounds(truncate) -> tuple[float, float]:
    """Parse ``truncate``: a percentile p (meaning p and 100 - p) or a pair (lower, upper).

    Examples
    --------
    >>> from cit_bayes.weighting.weights import truncation_bounds
    >>> truncation_bounds(1), truncation_bounds((5, 99))
    ((1.0, 99.0), (5.0, 99.0))
    """
    if np.ndim(truncate) == 0:
        lower, upper = float(truncate), 100.0 - float(truncate)
    else:
        values = [float(v) for v in truncate]
        if len(values) != 2:
            raise WeightingError(
                f"truncate must be a percentile or a (lower, upper) pair; got {truncate!r}"
            )
        lower, upper = values
    if not (0 <= lower < upper <= 100) or lower >= 50 or upper <= 50:
        raise WeightingError(
            "truncate percentiles must satisfy 0 <= lower < 50 < upper <= 100; "
            f"got ({lower:g}, {upper:g})"
        )
    return lower, upper


def truncate_weights(weights: np.ndarray, included: np.ndarray, truncate):
    """Clip the weights of included patients at two percentiles of their distribution.

    Returns the new weights and two boolean arrays: patients raised to the lower bound and
    patients lowered to the upper bound.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.weights import truncate_weights
    >>> weights, included = np.array([1.0, 2, 3, 10]), np.ones(4, dtype=bool)
    >>> clipped, raised, lowered = truncate_weights(weights, included, (0, 75))
    >>> clipped.round(3).tolist(), lowered.tolist()
    ([1.0, 2.0, 3.0, 4.75], [False, False, False, True])
    """
    lower, upper = truncation_bounds(truncate)
    values = np.asarray(weights, dtype=float)
    low, high = np.percentile(values[included], [lower, upper])
    raised = included & (values < low)
    lowered = included & (values > high)
    clipped = values.copy()
    clipped[included] = np.clip(values[included], low, high)
    return clipped, raised, lowered
