"""Core of entropy balancing: the dual of one arm, with the stated fallback.

Arrays only (no labels); :class:`cit_bayes.weighting.BalancingWeights` adds them. The balance
functions it balances are :mod:`cit_bayes.weighting.balance_functions`; the tables and warnings of
what the solutions achieved, :mod:`cit_bayes.weighting.balancing_report`.

The problem
-----------
For the patients i of one arm, with base weights :math:`q_i > 0` (summing to 1), balance
functions :math:`c_i \\in \\mathbb{R}^p` (standardised covariates, see
:func:`~cit_bayes.weighting.balance_functions.constraint_matrix`) and a target vector :math:`m`,
entropy balancing (Hainmueller 2012) solves

.. math::

    \\min_{w} \\sum_i w_i \\log(w_i / q_i) \\quad\\text{s.t.}\\quad
    \\sum_i w_i = 1,\\; w_i \\ge 0,\\; \\sum_i w_i c_i = m .

Its dual is the unconstrained convex problem :math:`\\min_\\lambda L(\\lambda)`,
:math:`L(\\lambda) = \\log \\sum_i q_i \\exp(\\lambda^\\top (c_i - m))`, whose minimiser gives
:math:`w_i \\propto q_i \\exp(\\lambda^\\top c_i)`; the gradient of L is the weighted mean of
:math:`c - m` (the imbalance) and its Hessian the weighted covariance of c.

Directions in which the arm does not vary
-----------------------------------------
If the arm's rows :math:`c_i` span fewer than p dimensions around their mean (a level absent from
the arm, a covariate constant in the arm, levels that together cover the whole arm), no
reweighting of the arm can move its mean in the missing directions. The dual is then solved in the
directions in which the arm varies: with :math:`V` an orthonormal basis of the row space of the
arm's centred rows (singular values above ``RANK_TOLERANCE`` times the largest), the reduced
constraints :math:`V^\\top (c_i - m)` are balanced and the component of the target outside that
space is left as it is (reported as ``structural`` imbalance). For a level absent from an arm this
is the same as pooling that level with the reference level of its covariate in that arm.

Exact balance and the ridge fallback
------------------------------------
Newton's method with backtracking (Armijo) line search from :math:`\\lambda = 0`. Exact balance is
declared when the largest absolute reduced imbalance falls below ``GRADIENT_TOLERANCE`` within
``MAX_ITERATIONS`` steps with :math:`\\lVert\\lambda\\rVert_\\infty \\le` ``LAMBDA_LIMIT``.
Otherwise the target lies outside (or on the edge of) the convex hull of the arm's rows: the dual
is unbounded below and diverges. Then approximate balancing weights are computed from the ridge
dual :math:`L(\\lambda) + \\tfrac{\\rho}{2}\\lVert\\lambda\\rVert^2`, whose weights minimise
:math:`\\mathrm{KL}(w\\,\\Vert\\,q) + \\tfrac{1}{2\\rho}\\lVert \\sum_i w_i c_i - m\\rVert^2` (their
imbalance is :math:`-\\rho\\lambda`), along the grid ``RIDGE_GRID`` (1 down to 1e-4,
quarter-decades, warm starts). As :math:`\\rho \\to 0` the imbalance falls to the best the arm can
reach (and the weights to the closest to q among those reaching it); the weights used are those of
the **largest** :math:`\\rho` whose largest absolute imbalance is within ``tolerance`` (SD units)
of the best imbalance on the grid: balance as close as the arm allows, up to ``tolerance``, with
weights as close to the base weights as possible. Some weights can underflow to 0 (patients the
closest balance does not use); none is negative, NaN or infinite.

References
----------
Hainmueller J (2012). Entropy balancing for causal effects: a multivariate reweighting method to
produce balanced samples in observational studies. Political Analysis 20(1):25-46.
Zubizarreta JR (2015). Stable weights that balance covariates for estimation with incomplete
outcome data. Journal of the American Statistical Association 110(511):910-922.
Boyd S, Vandenberghe L (2004). Convex Optimization, Sections 5.2 and 9.5. Cambridge University
Press.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ArmSolution",
    "BalancingState",
    "RIDGE_GRID",
    "arm_basis",
    "dual_objective",
    "solve_arm",
    "solve_dual",
]

GRADIENT_TOLERANCE = 1e-11
MAX_ITERATIONS = 100
LAMBDA_LIMIT = 50.0
RANK_TOLERANCE = 1e-9
#: Ridge values tried by the fallback, largest first (quarter-decades from 1 to 1e-4).
RIDGE_GRID: tuple[float, ...] = tuple(10.0 ** (-k / 4) for k in range(17))


@dataclass(frozen=True)
class ArmSolution:
    """The balancing weights of one arm (plain arrays).

    Attributes
    ----------
    weights : numpy.ndarray, shape (n_arm,)
        Normalised weights (sum 1), :math:`q_i \\exp(\\lambda^\\top (c_i - m))` rescaled.
    lam : numpy.ndarray, shape (p,)
        The dual solution in the full constraint space, :math:`V \\tilde\\lambda`.
    reduced_lam : numpy.ndarray, shape (r,)
    basis : numpy.ndarray, shape (p, r)
        Orthonormal basis V of the directions in which the arm varies.
    ridge : float
        0 for exact balance, else the ridge :math:`\\rho` of the fallback.
    status : str
        ``"exact"`` or ``"approximate"``.
    iterations : int
        Newton steps of the final solve.
    max_abs_gradient : float
        Largest absolute component of the reduced dual gradient at the solution.
    best_imbalance : float
        0 for exact balance; for the fallback, the smallest largest-absolute imbalance (SD
        units, in the directions in which the arm varies) over the ridge grid: the best balance
        the arm can reach.

    Examples
    --------
    >>> solve_arm(np.array([[0.0], [1.0]]), np.array([0.5])).weights.tolist()
    [0.5, 0.5]
    """

    weights: np.ndarray
    lam: np.ndarray
    reduced_lam: np.ndarray
    basis: np.ndarray
    ridge: float
    status: str
    iterations: int
    max_abs_gradient: float
    best_imbalance: float


@dataclass(frozen=True)
class BalancingState:
    """What the variance of :func:`cit_bayes.weighting.weighted_outcome` needs (plain arrays).

    ``matrix`` the standardised balance functions (n, p); ``base`` the base weights (mean 1);
    ``tilt`` the target population's tilting h_i (1 for ATE, 1{a_i = focal} for ATT, h(e(x_i))
    for ATO and matching); ``target`` the target means (p,); ``focal`` the focal arm's code
    (ATT) or None; ``solutions`` one :class:`ArmSolution` per arm (None for the focal arm).

    Examples
    --------
    The state of an ATE balancing of two arms on one balance function, built by hand: each
    arm's solution reweights it to the target (the mean over all patients).

    >>> import numpy as np
    >>> from cit_bayes.weighting.balancing_dual import BalancingState, solve_arm
    >>> matrix = np.array([[-1.0], [0.0], [1.0], [-0.5], [0.5], [2.0]])
    >>> codes = np.array([0, 0, 0, 1, 1, 1])
    >>> target = matrix.mean(axis=0)
    >>> solutions = tuple(solve_arm(matrix[codes == j], target) for j in range(2))
    >>> state = BalancingState(matrix, np.ones(6), np.ones(6), target, None, solutions)
    >>> [bool(np.allclose(solution.weights @ state.matrix[codes == j], state.target))
    ...  for j, solution in enumerate(state.solutions)]
    [True, True]
    """

    matrix: np.ndarray
    base: np.ndarray
    tilt: np.ndarray
    target: np.ndarray
    focal: int | None
    solutions: tuple


def arm_basis(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Orthonormal basis (p, r) of the directions in which the arm's rows vary.

    Examples
    --------
    The second balance function is constant in this arm, so only the first direction is kept:

    >>> import numpy as np
    >>> from cit_bayes.weighting.balancing_dual import arm_basis
    >>> basis = arm_basis(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]), np.full(3, 1 / 3))
    >>> basis.shape, np.abs(basis).round(9).tolist()
    ((2, 1), [[1.0], [0.0]])
    """
    centred = (rows - q @ rows) * np.sqrt(q)[:, None]
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    if singular.size == 0 or singular[0] == 0:
        return np.zeros((rows.shape[1], 0))
    keep = singular > RANK_TOLERANCE * singular[0]
    return vt[keep].T


def _softmax(eta: np.ndarray) -> np.ndarray:
    shifted = np.exp(eta - eta.max())
    return shifted / shifted.sum()


def dual_objective(lam, deviations, log_q, ridge: float = 0.0) -> float:
    """:math:`\\log\\sum_i q_i \\exp(\\lambda^\\top d_i) + (\\rho/2)\\lVert\\lambda\\rVert^2`.

    Examples
    --------
    With deviations -1 and 1 and equal base weights the dual is
    :math:`\\log((e^{-\\lambda} + e^{\\lambda}) / 2) = \\log\\cosh\\lambda`, and the ridge adds
    :math:`(\\rho/2)\\lambda^2`:

    >>> import math
    >>> import numpy as np
    >>> from cit_bayes.weighting.balancing_dual import dual_objective
    >>> deviations, log_q = np.array([[-1.0], [1.0]]), np.log([0.5, 0.5])
    >>> value = dual_objective(np.array([1.0]), deviations, log_q)
    >>> abs(value - math.log(math.cosh(1.0))) < 1e-12, round(value, 6)
    (True, 0.433781)
    >>> round(dual_objective(np.array([1.0]), deviations, log_q, ridge=2.0) - value, 12)
    1.0
    """
    eta = log_q + deviations @ lam
    top = eta.max()
    return float(top + np.log(np.exp(eta - top).sum()) + 0.5 * ridge * lam @ lam)


def solve_dual(deviations, log_q, *, ridge=0.0, start=None, max_iterations=MAX_ITERATIONS):
    """Minimise the (ridge) dual by damped Newton steps.

    Parameters
    ----------
    deviations : numpy.ndarray, shape (n, r)
        :math:`d_i = V^\\top (c_i - m)`.
    log_q : numpy.ndarray, shape (n,)
        Log base weights (normalised).
    ridge : float
    start : numpy.ndarray, optional
        Starting point (default 0).

    Returns
    -------
    lam, iterations, max_abs_gradient, converged

    Examples
    --------
    >>> solve_dual(np.array([[-1.5], [-0.5], [1.5]]), np.log(np.full(3, 1 / 3)))[3]  # converged
    True
    """
    r = deviations.shape[1]
    lam = np.zeros(r) if start is None else np.array(start, dtype=float)
    if r == 0:
        return lam, 0, 0.0, True
    identity = np.eye(r)
    value = dual_objective(lam, deviations, log_q, ridge)
    for iteration in range(max_iterations + 1):
        pi = _softmax(log_q + deviations @ lam)
        mean = pi @ deviations
        gradient = mean + ridge * lam
        largest = float(np.max(np.abs(gradient)))
        diverging = ridge == 0 and np.max(np.abs(lam)) > LAMBDA_LIMIT
        if largest < GRADIENT_TOLERANCE and not diverging:
            return lam, iteration, largest, True
        if iteration == max_iterations or diverging:
            break
        hessian = (deviations * pi[:, None]).T @ deviations - np.outer(mean, mean)
        hessian += ridge * identity
        step = -np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        slope = float(gradient @ step)
        scale = 1.0
        while scale > 1e-12:
            candidate = lam + scale * step
            new_value = dual_objective(candidate, deviations, log_q, ridge)
            if new_value <= value + 1e-4 * scale * slope:
                break
            # near the optimum rounding can hide the decrease: accept a step that shrinks the
            # gradient instead
            pi_new = _softmax(log_q + deviations @ candidate)
            new_gradient = pi_new @ deviations + ridge * candidate
            if new_value <= value + 1e-12 * abs(value) and (
                np.max(np.abs(new_gradient)) < 0.5 * largest
            ):
                break
            scale /= 2
        else:
            break  # no progress
        lam, value = candidate, new_value
    pi = _softmax(log_q + deviations @ lam)
    largest = float(np.max(np.abs(pi @ deviations + ridge * lam)))
    return lam, iteration, largest, False


def _arm_weights(deviations, log_q, reduced_lam) -> np.ndarray:
    return _softmax(log_q + deviations @ reduced_lam)


def solve_arm(rows, target, q=None, *, tolerance: float = 0.01, keep=None) -> ArmSolution:
    """Entropy-balancing weights of one arm toward ``target``, with the stated fallback.

    Parameters
    ----------
    rows : numpy.ndarray, shape (n_arm, p)
        The arm's balance functions (standardised).
    target : numpy.ndarray, shape (p,)
        Target means of the balance functions.
    q : numpy.ndarray, shape (n_arm,), optional
        Base weights (default uniform); normalised here.
    tolerance : float, default 0.01
        Largest absolute imbalance (in SD units) accepted by the ridge fallback.
    keep : numpy.ndarray of bool, shape (p,), optional
        The balance functions this arm balances (default all); the others are left out of its
        constraints (their imbalance is reported as structural).

    Returns
    -------
    ArmSolution

    Examples
    --------
    >>> solve_arm(np.array([[0.0], [1.0]]), np.array([2.0])).status  # 2 is out of reach
    'approximate'
    """
    rows = np.asarray(rows, dtype=float)
    n = len(rows)
    q = np.full(n, 1.0 / n) if q is None else np.asarray(q, dtype=float) / np.sum(q)
    log_q = np.log(q)
    if keep is None:
        basis = arm_basis(rows, q)
    else:
        keep = np.asarray(keep, dtype=bool)
        basis = np.zeros((rows.shape[1], 0))
        if keep.any():
            part = arm_basis(rows[:, keep], q)
            basis = np.zeros((rows.shape[1], part.shape[1]))
            basis[keep] = part
    deviations = (rows - target) @ basis
    lam, iterations, largest, converged = solve_dual(deviations, log_q)
    if converged:
        return ArmSolution(
            _arm_weights(deviations, log_q, lam), basis @ lam, lam, basis, 0.0, "exact",
            iterations, largest, 0.0,
        )  # fmt: skip
    path = []
    lam = np.zeros(basis.shape[1])
    for ridge in RIDGE_GRID:
        lam, iterations, largest, _ = solve_dual(deviations, log_q, ridge=ridge, start=lam)
        weights = _arm_weights(deviations, log_q, lam)
        imbalance = float(np.max(np.abs(basis @ (weights @ deviations))))
        path.append((ridge, lam, iterations, largest, weights, imbalance))
    best = min(step[-1] for step in path)
    ridge, lam, iterations, largest, weights, imbalance = next(
        step for step in path if step[-1] <= best + tolerance
    )
    return ArmSolution(
        weights, basis @ lam, lam, basis, ridge, "approximate", iterations, largest, best,
    )  # fmt: skip
