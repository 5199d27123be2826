"""Propensity models for k >= 2 arms: multinomial logistic regression and cross-fitted boosting.

Numeric core on arrays: arms are integer codes ``0 .. k-1`` and the design matrix is the model
matrix of :func:`cit_bayes.weighting.design.encode_covariates`. The estimator
(:class:`cit_bayes.weighting.PropensityWeighting`) adds the labels.

Multinomial logistic model
--------------------------
Fitted with scikit-learn's ``LogisticRegression`` (lbfgs), then polished by Newton-Raphson steps
on the same objective so that the score equations hold to about 1e-10 (lbfgs stops near 1e-7,
which is too loose for the exact-balance property of overlap weights). The objective is

.. math::

    -\\sum_i \\log e_{a_i}(x_i) + \\frac{\\lambda}{2} \\sum_j \\lVert\\beta_j\\rVert^2,

with ``penalty`` = :math:`\\lambda` = 1 / ``C`` of scikit-learn (``penalty=0`` is the unpenalised
maximum-likelihood fit, ``C = inf``). Intercepts are not penalised. With two arms it is the usual
logistic model (one coefficient vector, arm 0 the reference); with three or more arms it is
scikit-learn's symmetric multinomial parameterisation (one vector per arm), so a ridge penalty does
not depend on which arm comes first. ``penalty=1`` is the MAP estimate under independent N(0, 1)
priors on the coefficients of standardised covariates.

Boosting model
--------------
``HistGradientBoostingClassifier`` with probabilities cross-fitted over ``n_folds`` stratified
folds (seeded): each patient's propensity comes from a model that did not see that patient
(Chernozhukov et al. 2018).

References
----------
Chernozhukov V, Chetverikov D, Demirer M, et al. (2018). Double/debiased machine learning for
treatment and structural parameters. Econometrics Journal 21:C1-C68.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from cit_bayes.exceptions import WeightingError

__all__ = [
    "LogisticFit",
    "fit_boosting_crossfit",
    "fit_multinomial_logistic",
    "logistic_hessian",
    "logistic_probabilities",
    "logistic_scores",
    "single_thread_if_small",
]

#: Newton polishing stops when the largest absolute score component falls below this.
SCORE_TOLERANCE = 1e-10
MAX_NEWTON_STEPS = 50
#: Boosting runs single-threaded below this many patients (see fit_boosting_crossfit).
SINGLE_THREAD_BELOW = 10_000


@dataclass(frozen=True)
class LogisticFit:
    """A fitted multinomial logistic propensity model (plain arrays).

    Attributes
    ----------
    coefficients : numpy.ndarray, shape (m, p + 1)
        One row per *free* arm: the intercept, then the slopes of the model matrix columns.
    free_arms : tuple of int
        The arms that have a row in ``coefficients`` (``(1,)`` with two arms: arm 0 is the
        reference with linear predictor 0; ``(0, ..., k-1)`` with k >= 3 arms).
    n_arms : int
    penalty : float
    max_abs_score : float
        Largest absolute component of the penalised score at the solution (convergence check).
    converged : bool

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import LogisticFit
    >>> fit = LogisticFit(np.array([[0.0, 1.0]]), free_arms=(1,), n_arms=2, penalty=1.0,
    ...                   max_abs_score=0.0, converged=True)
    >>> fit.coefficients.shape
    (1, 2)
    """

    coefficients: np.ndarray
    free_arms: tuple[int, ...]
    n_arms: int
    penalty: float
    max_abs_score: float
    converged: bool


def single_thread_if_small(n: int):
    """Context limiting BLAS and OpenMP to one thread for problems below ``SINGLE_THREAD_BELOW``.

    On clinical-size data (a few hundred patients, tens of columns) thread start-up and
    contention cost far more than they save: on two busy cores a 187-patient, 4-arm logistic fit
    took 1.4 s with multithreaded BLAS and 0.06 s single-threaded. Results do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import single_thread_if_small
    >>> with single_thread_if_small(100):
    ...     total = float(np.ones(3) @ np.ones(3))
    >>> total
    3.0
    """
    return threadpool_limits(limits=1 if n < SINGLE_THREAD_BELOW else None)


def _with_intercept(Z: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(Z)), Z])


def _linear_predictor(coefficients, free_arms, n_arms, Z1):
    eta = np.zeros((len(Z1), n_arms))
    eta[:, list(free_arms)] = Z1 @ coefficients.T
    return eta


def _softmax(eta: np.ndarray) -> np.ndarray:
    shifted = eta - eta.max(axis=1, keepdims=True)
    expd = np.exp(shifted)
    return expd / expd.sum(axis=1, keepdims=True)


def logistic_probabilities(fit: LogisticFit, Z: np.ndarray) -> np.ndarray:
    """Return the n x k matrix of propensities of a :class:`LogisticFit` at design ``Z``.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import LogisticFit, logistic_probabilities
    >>> fit = LogisticFit(np.array([[0.0, 1.0]]), (1,), 2, 1.0, 0.0, True)
    >>> logistic_probabilities(fit, np.array([[0.0]])).tolist()
    [[0.5, 0.5]]
    """
    return _softmax(
        _linear_predictor(fit.coefficients, fit.free_arms, fit.n_arms, _with_intercept(Z))
    )


def _penalty_matrix(p1: int) -> np.ndarray:
    diag = np.ones(p1)
    diag[0] = 0.0  # the intercept is not penalised
    return np.diag(diag)


def logistic_scores(fit: LogisticFit, Z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-patient penalised score contributions, shape (n, m * (p + 1)).

    Row i is :math:`\\psi_i = ((1\\{a_i = j\\} - e_{ij}) \\tilde x_i - (\\lambda/n) P \\beta_j)_j`
    over the free arms j, with :math:`\\tilde x_i = (1, z_i)` and P the identity with the intercept
    entry set to 0; the rows sum to the gradient of the penalised log-likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import LogisticFit, logistic_scores
    >>> fit = LogisticFit(np.array([[0.0, 1.0]]), (1,), 2, 1.0, 0.0, True)
    >>> logistic_scores(fit, np.array([[-1.0], [0.0], [1.0]]), np.array([0, 1, 0])).shape
    (3, 2)
    """
    Z1 = _with_intercept(Z)
    n, p1 = Z1.shape
    e = logistic_probabilities(fit, Z)
    onehot = np.eye(fit.n_arms)[codes]
    penalty_share = fit.penalty / n * (fit.coefficients @ _penalty_matrix(p1))
    blocks = [
        (onehot[:, j] - e[:, j])[:, None] * Z1 - penalty_share[r]
        for r, j in enumerate(fit.free_arms)
    ]
    return np.hstack(blocks)


def logistic_hessian(fit: LogisticFit, Z: np.ndarray) -> np.ndarray:
    """Negative Hessian of the penalised log-likelihood, shape (m (p+1), m (p+1)).

    Block (j, l) is :math:`\\sum_i e_{ij}(\\delta_{jl} - e_{il}) \\tilde x_i \\tilde x_i^\\top +
    \\lambda P \\delta_{jl}`. It is singular along directions that leave every probability unchanged
    (with k >= 3 arms and no penalty: shifting every arm's coefficients by the same vector), so
    callers use a pseudo-inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import LogisticFit, logistic_hessian
    >>> fit = LogisticFit(np.array([[0.0, 1.0]]), (1,), 2, 1.0, 0.0, True)
    >>> logistic_hessian(fit, np.array([[-1.0], [0.0], [1.0]])).shape
    (2, 2)
    """
    Z1 = _with_intercept(Z)
    p1 = Z1.shape[1]
    e = logistic_probabilities(fit, Z)
    m = len(fit.free_arms)
    H = np.zeros((m * p1, m * p1))
    for r, j in enumerate(fit.free_arms):
        for s, ell in enumerate(fit.free_arms):
            w = e[:, j] * ((j == ell) - e[:, ell])
            block = (Z1 * w[:, None]).T @ Z1
            if r == s:
                block = block + fit.penalty * _penalty_matrix(p1)
            H[r * p1 : (r + 1) * p1, s * p1 : (s + 1) * p1] = block
    return H


def _objective(coefficients, free_arms, n_arms, Z1, codes, penalty) -> float:
    eta = _linear_predictor(coefficients, free_arms, n_arms, Z1)
    shift = eta.max(axis=1, keepdims=True)
    log_norm = shift[:, 0] + np.log(np.exp(eta - shift).sum(axis=1))
    loglik = eta[np.arange(len(codes)), codes] - log_norm
    slopes = coefficients[:, 1:]
    return float(-loglik.sum() + 0.5 * penalty * np.sum(slopes**2))


def _polish(fit: LogisticFit, Z: np.ndarray, codes: np.ndarray) -> LogisticFit:
    """Newton-Raphson steps with step halving on the penalised objective."""
    Z1 = _with_intercept(Z)
    coefficients = fit.coefficients.copy()
    args = (fit.free_arms, fit.n_arms, Z1, codes, fit.penalty)
    current = fit
    for _ in range(MAX_NEWTON_STEPS):
        gradient = logistic_scores(current, Z, codes).sum(axis=0)
        if np.max(np.abs(gradient)) < SCORE_TOLERANCE:
            break
        step = np.linalg.pinv(logistic_hessian(current, Z), hermitian=True) @ gradient
        step = step.reshape(coefficients.shape)
        value = _objective(coefficients, *args)
        scale = 1.0
        while scale > 1e-8:
            candidate = coefficients + scale * step
            if _objective(candidate, *args) <= value + 1e-12 * abs(value):
                break
            scale /= 2
        else:
            break
        coefficients = candidate
        current = LogisticFit(
            coefficients, fit.free_arms, fit.n_arms, fit.penalty, np.inf, converged=False
        )
    max_abs = float(np.max(np.abs(logistic_scores(current, Z, codes).sum(axis=0))))
    return LogisticFit(
        coefficients=coefficients,
        free_arms=fit.free_arms,
        n_arms=fit.n_arms,
        penalty=fit.penalty,
        max_abs_score=max_abs,
        converged=max_abs < 1e-6 * max(1.0, len(Z) / 100),
    )


def fit_multinomial_logistic(
    Z: np.ndarray, codes: np.ndarray, n_arms: int, *, penalty: float = 1.0
) -> tuple[LogisticFit, np.ndarray]:
    """Fit the multinomial logistic propensity model; return the fit and the n x k propensities.

    Parameters
    ----------
    Z : numpy.ndarray, shape (n, p)
        Model matrix (standardised numeric columns, one-hot indicators).
    codes : numpy.ndarray of int, shape (n,)
        Arm of each patient, ``0 .. n_arms - 1``; every arm must occur.
    n_arms : int
    penalty : float, default 1.0
        Ridge coefficient :math:`\\lambda` (>= 0) of the objective in the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import fit_multinomial_logistic
    >>> Z, codes = np.array([[-1.0], [0.0], [1.0], [2.0]]), np.array([0, 1, 0, 1])
    >>> fit, propensity = fit_multinomial_logistic(Z, codes, 2)
    >>> fit.converged, propensity.shape, bool(np.allclose(propensity.sum(axis=1), 1))
    (True, (4, 2), True)
    """
    if penalty < 0 or not np.isfinite(penalty):
        raise WeightingError(f"penalty must be a finite number >= 0; got {penalty!r}")
    C = np.inf if penalty == 0 else 1.0 / penalty
    model = LogisticRegression(C=C, l1_ratio=0.0, solver="lbfgs", tol=1e-10, max_iter=5000)
    with warnings.catch_warnings():
        # Convergence is judged below, on the score equations after Newton polishing.
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        model.fit(Z, codes)
    coefficients = np.column_stack([model.intercept_, model.coef_])
    free_arms = (1,) if n_arms == 2 else tuple(range(n_arms))
    start = LogisticFit(coefficients, free_arms, n_arms, float(penalty), np.inf, False)
    fit = _polish(start, Z, codes)
    return fit, logistic_probabilities(fit, Z)


def fit_boosting_crossfit(
    Z: np.ndarray,
    codes: np.ndarray,
    n_arms: int,
    *,
    n_folds: int = 5,
    seed: int = 0,
    params: dict | None = None,
) -> np.ndarray:
    """Cross-fitted propensities from gradient boosting, shape (n, k).

    The patients are split into ``n_folds`` folds stratified by arm (shuffled with ``seed``);
    each fold's propensities come from a ``HistGradientBoostingClassifier`` fitted on the other
    folds. Default settings (overridable by ``params``): ``max_iter=100``, ``learning_rate=0.05``,
    ``max_depth=3``, ``min_samples_leaf=10``, ``early_stopping=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from cit_bayes.weighting.propensity import fit_boosting_crossfit
    >>> Z, codes = np.arange(8.0)[:, None], np.arange(8) % 2
    >>> fit_boosting_crossfit(Z, codes, 2, n_folds=1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.WeightingError: n_folds must be at least 2; got 1
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    counts = np.bincount(codes, minlength=n_arms)
    if n_folds < 2:
        raise WeightingError(f"n_folds must be at least 2; got {n_folds}")
    if counts.min() < n_folds:
        raise WeightingError(
            f"cross-fitting with {n_folds} folds needs at least {n_folds} patients per arm; "
            f"the smallest arm has {int(counts.min())}"
        )
    settings = {
        "max_iter": 100,
        "learning_rate": 0.05,
        "max_depth": 3,
        "min_samples_leaf": 10,
        "early_stopping": False,
        "random_state": int(seed),
    }
    settings.update(params or {})
    propensity = np.zeros((len(codes), n_arms))
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=int(seed))
    with single_thread_if_small(len(codes)):
        for train, test in folds.split(Z, codes):
            model = HistGradientBoostingClassifier(**settings).fit(Z[train], codes[train])
            fold_probabilities = np.zeros((len(test), n_arms))
            fold_probabilities[:, model.classes_] = model.predict_proba(Z[test])
            propensity[test] = fold_probabilities
    return propensity
