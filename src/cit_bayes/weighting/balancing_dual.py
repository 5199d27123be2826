"""Core of entropy balancing: balance functions, levels an arm lacks, the dual of one arm.

Arrays only (no labels) apart from the covariate coding; :class:`cit_bayes.weighting.BalancingWeights`
adds them.

Levels absent from an arm
-------------------------
With ``pool_absent_levels=True`` (:func:`encode_for_balancing`), after the rare-level rule of
:func:`~cit_bayes.weighting.design.encode_covariates`, the levels of a categorical covariate that
some arm lacks are pooled into one level (labels joined by ``"+"``); if that level is still
missing from some arm (or only one level is missing), the missing levels are merged into the
most frequent level instead, as the rare-level rule does. Every pooling is listed in the
design's ``pooled`` table with its ``rule``.

The problem
-----------
For the patients i of one arm, with base weights :math:`q_i > 0` (summing to 1), balance
functions :math:`c_i \\in \\mathbb{R}^p` (standardised covariates, see
:func:`constraint_matrix`) and a target vector :math:`m`, entropy balancing (Hainmueller 2012)
solves

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

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cit_bayes.exceptions import WeightingWarning
from cit_bayes.weighting.design import CovariateColumns, encode_columns

__all__ = [
    "ArmSolution",
    "RIDGE_GRID",
    "arm_basis",
    "constraint_matrix",
    "dual_objective",
    "encode_for_balancing",
    "solve_arm",
    "solve_dual",
    "solution_report",
]

#: A balance function whose weighted mean is this close (SD units) to its target is balanced.
BALANCED_SD = 1e-8

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


def constraint_matrix(design, moments: int = 1) -> tuple[np.ndarray, list[dict]]:
    """Balance functions c(x), standardised over all patients, and their description.

    The columns of the propensity model matrix (numeric covariates, and one indicator per
    non-reference level) and, with ``moments=2``, the square of every numeric covariate that is
    not 0/1. Every column is centred at its mean over all patients and divided by its SD
    (divisor n - 1), so that imbalances are in units of SD. Balancing the non-reference levels
    balances the reference level too (the shares sum to 1).

    Returns
    -------
    matrix : numpy.ndarray, shape (n, p)
    columns : list of dict
        Per column: ``constraint`` (name), ``covariate``, ``level``, ``moment`` (1 or 2),
        ``center``, ``scale`` (of the column before standardisation).

    Examples
    --------
    >>> from cit_bayes.weighting.design import encode_covariates
    >>> constraint_matrix(encode_covariates(pd.DataFrame({"age": [50, 60, 70, 80]})), 2)[0].shape
    (4, 2)
    """
    if moments not in (1, 2):
        raise ValueError(f"moments must be 1 or 2; got {moments!r}")
    Z = design.model_matrix
    parts, columns = [], []
    numeric_kinds = {
        row.covariate: row.kind
        for row in design.balance_columns.itertuples(index=False)
        if row.kind != "level"
    }
    for c, row in enumerate(design.model_columns.itertuples(index=False)):
        parts.append(Z[:, c])
        columns.append(
            {
                "constraint": row.design_column,
                "covariate": row.covariate,
                "level": row.level,
                "moment": 1,
            }  # fmt: skip
        )
        if moments == 2 and numeric_kinds.get(row.covariate) == "numeric":
            parts.append(Z[:, c] ** 2)
            columns.append(
                {
                    "constraint": f"{row.design_column}^2",
                    "covariate": row.covariate,
                    "level": row.level,
                    "moment": 2,
                }  # fmt: skip
            )
    raw = np.column_stack(parts)
    center = raw.mean(axis=0)
    scale = raw.std(axis=0, ddof=1)
    scale[scale == 0] = 1.0
    for column, mu, sd in zip(columns, center, scale, strict=True):
        column["center"], column["scale"] = float(mu), float(sd)
    return (raw - center) / scale, columns


def _absent_level_map(design, codes, n_arms, minimum: int = 1) -> dict:
    """Per covariate, {design level: pooled level} for the levels some arm has fewer than
    ``minimum`` patients of (default 1: the levels some arm lacks)."""
    columns = design.balance_columns
    mapping = {}
    for covariate, group in columns[columns["kind"] == "level"].groupby("covariate", sort=False):
        indicators = design.balance_matrix[:, group.index.to_numpy()]
        present = np.array([indicators[codes == j].sum(axis=0) >= minimum for j in range(n_arms)]).T
        names = list(group["level"])
        missing = [name for name, row in zip(names, present, strict=True) if not row.all()]
        if not missing:
            continue
        rows = [names.index(name) for name in missing]
        members = missing
        if len(missing) == 1 or not present[rows].any(axis=0).all():
            counts = indicators.sum(axis=0)
            common = [name for name in names if name not in missing] or names
            most = max(common, key=lambda name: counts[names.index(name)])
            members = [most, *[name for name in missing if name != most]]
        target = "+".join(members)
        mapping[covariate] = {name: target for name in members}
    return mapping


def encode_for_balancing(
    columns: CovariateColumns,
    codes,
    n_arms: int,
    *,
    rare_level_min: int,
    pool_absent: bool,
    arm_level_min: int = 0,
):
    """:func:`~cit_bayes.weighting.design.encode_covariates`, then pool levels an arm lacks.

    ``columns``: the covariates as :func:`~cit_bayes.weighting.design.covariate_columns` read
    them (a bootstrap refit passes its resample's rows of the fit's, so that the table is not
    read again).
    Returns the design; with ``pool_absent`` its ``pooled`` table gains the poolings of levels
    that some arm lacks, or holds in fewer than ``arm_level_min`` patients, and a ``rule``
    column (``"rare level"`` or ``"absent from an arm"``).
    """
    if not pool_absent:
        return encode_columns(columns, rare_level_min=rare_level_min)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightingWarning)  # issued by the final encoding
        first = encode_columns(columns, rare_level_min=rare_level_min)
    mapping = _absent_level_map(first, codes, n_arms, max(1, arm_level_min))
    recoded = columns
    records = []
    for covariate, pooled in mapping.items():
        raw = columns.values[columns.names.index(covariate)]
        table = first.balance_columns
        group = table[(table["covariate"] == covariate) & (table["kind"] == "level")]
        indicators = first.balance_matrix[:, group.index.to_numpy()]
        design_levels = list(group["level"])
        final = {}
        for level in dict.fromkeys(raw):
            # the design level of this raw level (after the rare-level rule)
            in_design = design_levels[int(np.argmax(indicators[raw == level][0]))]
            final[level] = pooled.get(in_design, in_design)
            if final[level] != level:
                records.append(
                    {"covariate": covariate, "level": level, "n": int((raw == level).sum()),
                     "pooled_into": final[level],
                     "rule": "absent from an arm" if in_design in pooled else "rare level"}
                )  # fmt: skip
        order = dict.fromkeys(pooled.get(level, level) for level in design_levels)
        labels = np.array([final[v] for v in raw], dtype=object)
        recoded = recoded.with_levels(covariate, labels, list(order))
    design = encode_columns(recoded, rare_level_min=rare_level_min)
    kept = first.pooled[~first.pooled["covariate"].isin(list(mapping))].assign(rule="rare level")
    pooled_table = pd.concat([kept, pd.DataFrame(records, columns=kept.columns)])
    return dataclasses.replace(design, pooled=pooled_table.reset_index(drop=True))


def arm_constraints(matrix, codes, n_arms: int, minimum: int) -> np.ndarray:
    """Which balance functions each arm balances: bool array, shape (n_arms, p).

    A two-valued balance function (a level indicator or a 0/1 covariate) is left out of an arm's
    constraints when fewer than ``minimum`` of the arm's patients hold its rarer value there
    (e.g. 2 patients with bone metastases among 35). Balancing it would hang the arm's weights on
    those few patients (a Kish ESS that collapses) or, with the other constraints, put the
    target outside what the arm can reach; its imbalance is reported as structural and the
    outcome models adjust for the covariate. Numeric functions are always kept.

    Examples
    --------
    >>> matrix = np.array([[0.0, 1.0], [1.0, 2.0], [0.0, 3.0], [1.0, 4.0], [1.0, 5.0]])
    >>> arm_constraints(matrix, np.array([0, 0, 0, 1, 1]), 2, 2).tolist()
    [[False, True], [False, True]]
    """
    keep = np.ones((n_arms, matrix.shape[1]), dtype=bool)
    if minimum <= 0:
        return keep
    for c in range(matrix.shape[1]):
        values = np.unique(matrix[:, c])
        if len(values) != 2:
            continue
        for j in range(n_arms):
            column = matrix[codes == j, c]
            rarer = min(int(np.sum(column == values[0])), int(np.sum(column == values[1])))
            keep[j, c] = rarer >= minimum
    return keep


def arm_basis(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Orthonormal basis (p, r) of the directions in which the arm's rows vary."""
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
    """:math:`\\log\\sum_i q_i \\exp(\\lambda^\\top d_i) + (\\rho/2)\\lVert\\lambda\\rVert^2`."""
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


def solution_report(design, codes, arms, problem, weights, solutions):
    """What the arms' dual solutions achieved, in the tables ``BalancingWeights`` reports.

    ``problem`` is ``(columns, matrix, target)`` of :func:`constraint_matrix`; ``solutions`` one
    :class:`ArmSolution` per arm (``None`` for the focal arm). Returns the ``target_``,
    ``lambda_``, ``solver_`` and ``constraints_`` tables (targets and achieved means in the
    covariates' units; imbalances in SD units).
    """
    columns, matrix, target = problem
    names = [c["constraint"] for c in columns]
    model = design.model_columns.set_index("design_column")
    center = np.array([c["center"] for c in columns])
    scale = np.array([c["scale"] for c in columns])

    def natural(values):
        """Balance-function values (SD units) in the covariate's units."""
        raw = center + scale * values
        out = raw.copy()
        for c, column in enumerate(columns):
            if column["level"] == "":
                row = model.loc[column["constraint"].removesuffix("^2")]
                if column["moment"] == 1:
                    out[c] = row["center"] + row["scale"] * raw[c]
                else:
                    out[c] = row["scale"] ** 2 * raw[c]
        return out

    described = pd.DataFrame(
        {
            "constraint": names,
            "covariate": [c["covariate"] for c in columns],
            "level": [c["level"] for c in columns],
            "moment": [c["moment"] for c in columns],
        }
    )
    target_table = described.assign(target=natural(target))
    lambdas, solver, records = {}, [], []
    for j, label in enumerate(arms):
        rows = codes == j
        solution = solutions[j]
        achieved = weights[rows] @ matrix[rows] / weights[rows].sum()
        imbalance = achieved - target
        if solution is None:
            structural = np.zeros(len(names))
            status = "focal"
            lambdas[label] = np.zeros(len(names))
        else:
            basis = solution.basis
            structural = imbalance - basis @ (basis.T @ imbalance)
            status = solution.status
            if status == "exact" and np.max(np.abs(structural), initial=0) > BALANCED_SD:
                status = "partial"
            lambdas[label] = solution.lam
        solver.append(
            {
                "arm": label,
                "n": int(rows.sum()),
                "n_constraints": len(names),
                "n_directions": len(names) if solution is None else solution.basis.shape[1],
                "status": status,
                "ridge": 0.0 if solution is None else solution.ridge,
                "best_imbalance_sd": 0.0 if solution is None else solution.best_imbalance,
                "iterations": 0 if solution is None else solution.iterations,
                "max_abs_gradient": 0.0 if solution is None else solution.max_abs_gradient,
                "max_abs_imbalance_sd": float(np.max(np.abs(imbalance))),
            }
        )
        records.append(
            described.assign(
                arm=label,
                target=natural(target),
                achieved=natural(achieved),
                imbalance_sd=imbalance,
                structural_sd=structural,
                arm_status=status,
            )
        )
    lambda_table = pd.DataFrame(lambdas, index=pd.Index(names, name="constraint"))
    solver_table = pd.DataFrame(solver)
    table = pd.concat(records, ignore_index=True)
    order = ["arm", "constraint", "covariate", "level", "moment", "target", "achieved",
             "imbalance_sd", "structural_sd", "arm_status"]  # fmt: skip
    return target_table, lambda_table, solver_table, table.loc[:, order]
