"""The target population of entropy balancing: base weights, propensity model and tilting.

The patients' base weights q, checked and rescaled to mean 1 (:func:`checked_base_weights`); the
multinomial logistic propensity model that defines the ATO and matching targets and gives every
estimand its overlap diagnostics (:func:`fit_target_propensity`); and the target population's
tilting :math:`h_i` (:func:`target_tilt`). :class:`cit_bayes.weighting.BalancingWeights` balances
every arm to the target means :math:`\\sum_i q_i h_i c_i / \\sum_i q_i h_i`.
"""

from __future__ import annotations

import warnings

import numpy as np

from cit_bayes.exceptions import PositivityWarning, WeightingError, WeightingWarning
from cit_bayes.weighting.diagnostics import SEPARATION_BOUND
from cit_bayes.weighting.propensity import fit_multinomial_logistic
from cit_bayes.weighting.weights import tilting

__all__ = ["checked_base_weights", "fit_target_propensity", "target_tilt"]


def checked_base_weights(base_weights, n: int) -> np.ndarray:
    """The base weights q (default uniform), checked and rescaled to mean 1.

    Examples
    --------
    >>> from cit_bayes.weighting.balancing_target import checked_base_weights
    >>> checked_base_weights([1, 2, 3], 3).tolist(), checked_base_weights(None, 2).tolist()
    ([0.5, 1.0, 1.5], [1.0, 1.0])
    >>> checked_base_weights([1.0, 0.0], 2)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.WeightingError: base weights must be finite and positive
    """
    if base_weights is None:
        return np.ones(n)
    values = np.asarray(base_weights, dtype=float)
    if values.shape != (n,):
        raise WeightingError(f"expected {n} base weights; got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise WeightingError("base weights must be finite and positive")
    return values / values.mean()


def target_tilt(estimand: str, propensity, codes, focal) -> np.ndarray:
    """The target population's tilting h_i: 1 (ATE), 1{a_i = focal} (ATT), h(e(x_i)) (ATO,
    matching).

    Examples
    --------
    For the ATO, :math:`h = 1 / \\sum_k 1 / e_k`: 1 / (1.25 + 5) = 0.16 and 1 / (2 + 2) = 0.25.

    >>> import numpy as np
    >>> from cit_bayes.weighting.balancing_target import target_tilt
    >>> propensity, codes = np.array([[0.8, 0.2], [0.5, 0.5]]), np.array([0, 1])
    >>> target_tilt("ato", propensity, codes, None).round(3).tolist()
    [0.16, 0.25]
    >>> target_tilt("att", propensity, codes, 1).tolist()  # the focal arm's patients only
    [0.0, 1.0]
    """
    if estimand == "ate":
        return np.ones(len(codes))
    if estimand == "att":
        return (codes == focal).astype(float)
    with np.errstate(divide="ignore"):  # a propensity that underflows to 0 gives h = 0
        return tilting(propensity, estimand)


def fit_target_propensity(
    design, codes, arms, *, estimand: str, penalty, positivity_bound: float, diagnose: bool
):
    """The multinomial logistic propensity model: the target of ATO and matching, and the
    overlap diagnostics (warnings only with ``diagnose``). Returns ``(propensity, fit)``.

    Examples
    --------
    The same ages in both arms: the fitted propensities are one half everywhere.

    >>> import numpy as np
    >>> import pandas as pd
    >>> from cit_bayes.weighting.balancing_target import fit_target_propensity
    >>> from cit_bayes.weighting.design import encode_covariates
    >>> design = encode_covariates(pd.DataFrame({"age": [50.0, 60.0, 50.0, 60.0]}))
    >>> propensity, fit = fit_target_propensity(
    ...     design, np.array([0, 0, 1, 1]), ("A", "B"), estimand="ato", penalty=1.0,
    ...     positivity_bound=0.05, diagnose=True)
    >>> propensity.shape, bool(np.allclose(propensity, 0.5)), fit.converged
    ((4, 2), True, True)

    Ages that separate the arms leave an unpenalised model without an ATO target:

    >>> separated = encode_covariates(pd.DataFrame({"age": [50.0, 52.0, 70.0, 72.0]}))
    >>> fit_target_propensity(separated, np.array([0, 0, 1, 1]), ("A", "B"), estimand="ato",
    ...                       penalty=0, positivity_bound=0.05, diagnose=False)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.WeightingError: the unpenalised propensity model that defines the ATO target separates the arms (fitted propensities below 1e-06); use penalty > 0
    """
    penalty = float(penalty)
    logistic_fit, propensity = fit_multinomial_logistic(
        design.model_matrix, codes, len(arms), penalty=penalty
    )
    tilted = estimand in ("ato", "matching")
    if tilted and penalty == 0 and propensity.min() < SEPARATION_BOUND:
        raise WeightingError(
            f"the unpenalised propensity model that defines the {estimand.upper()} "
            f"target separates the arms (fitted propensities below {SEPARATION_BOUND:g}); "
            "use penalty > 0"
        )
    if diagnose and not logistic_fit.converged:
        warnings.warn(
            "the logistic propensity model did not converge (largest score component "
            f"{logistic_fit.max_abs_score:.2g})"
            + ("; the target means may be inaccurate" if tilted else ""),
            WeightingWarning,
            stacklevel=4,
        )
    if diagnose and propensity.min() < positivity_bound:
        low = propensity < positivity_bound
        which = [str(arms[k]) for k in range(len(arms)) if low[:, k].any()]
        warnings.warn(
            f"{int(low.any(axis=1).sum())} patient(s) have a propensity below "
            f"{positivity_bound:g} for arm(s) {', '.join(which)} (smallest "
            f"{propensity.min():.2g}): limited overlap; balancing weights of such patients "
            "can be large",
            PositivityWarning,
            stacklevel=4,
        )
    return propensity, logistic_fit
