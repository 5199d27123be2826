"""What the arms' dual solutions achieved: the tables and warnings of ``BalancingWeights``.

:func:`solution_report` builds the ``target_``, ``lambda_``, ``solver_`` and ``constraints_``
tables of :class:`cit_bayes.weighting.BalancingWeights` from the solutions of
:mod:`cit_bayes.weighting.balancing_dual`; :func:`warn_about_solutions` warns, from those tables,
about every arm that could not be balanced exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cit_bayes.exceptions import WeightingWarning

__all__ = ["BALANCED_SD", "solution_report", "warn_about_solutions"]

#: A balance function whose weighted mean is this close (SD units) to its target is balanced.
BALANCED_SD = 1e-8


def solution_report(design, codes, arms, problem, weights, solutions):
    """What the arms' dual solutions achieved, in the tables ``BalancingWeights`` reports.

    ``problem`` is ``(columns, matrix, target)`` of :func:`constraint_matrix`; ``solutions`` one
    :class:`ArmSolution` per arm (``None`` for the focal arm). Returns the ``target_``,
    ``lambda_``, ``solver_`` and ``constraints_`` tables (targets and achieved means in the
    covariates' units; imbalances in SD units).

    Examples
    --------
    Two arms of three patients balanced on age for the ATE: the target is the mean age of
    all six, (50 + 60 + 70 + 55 + 65 + 80) / 6 = 63.333, and both arms reach it.

    >>> import numpy as np
    >>> import pandas as pd
    >>> from cit_bayes.weighting.balance_functions import constraint_matrix
    >>> from cit_bayes.weighting.balancing_dual import solve_arm
    >>> from cit_bayes.weighting.balancing_report import solution_report
    >>> from cit_bayes.weighting.design import encode_covariates
    >>> design = encode_covariates(pd.DataFrame({"age": [50, 60, 70, 55, 65, 80]}))
    >>> codes = np.array([0, 0, 0, 1, 1, 1])
    >>> matrix, columns = constraint_matrix(design)
    >>> target = matrix.mean(axis=0)
    >>> solutions = [solve_arm(matrix[codes == j], target) for j in range(2)]
    >>> weights = np.concatenate([solution.weights for solution in solutions])
    >>> target_table, lambdas, solver, constraints = solution_report(
    ...     design, codes, ["A", "B"], (columns, matrix, target), weights, solutions)
    >>> target_table["target"].round(3).tolist(), solver["status"].tolist()
    ([63.333], ['exact', 'exact'])
    >>> constraints["achieved"].round(3).tolist(), lambdas.shape
    ([63.333, 63.333], (1, 2))
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


def warn_about_solutions(solver: pd.DataFrame, constraints: pd.DataFrame) -> None:
    """Warn about every arm that could not be balanced exactly, from the ``solver_`` and
    ``constraints_`` tables of :func:`solution_report` (called by ``BalancingWeights.fit``).

    Examples
    --------
    Tables cut down to the columns read: arm A is balanced, arm B misses one of its two
    balance functions (a level it lacks), so one warning names arm B:

    >>> import warnings
    >>> import pandas as pd
    >>> from cit_bayes.weighting.balancing_report import warn_about_solutions
    >>> solver = pd.DataFrame({"arm": ["A", "B"], "n": [3, 3], "n_constraints": [2, 2],
    ...                        "n_directions": [2, 1], "status": ["exact", "partial"]})
    >>> constraints = pd.DataFrame({"arm": ["A", "A", "B", "B"],
    ...                             "constraint": ["age", "stage[IV]", "age", "stage[IV]"],
    ...                             "imbalance_sd": [0.0, 0.0, 0.0, 0.5]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_about_solutions(solver, constraints)
    >>> message = str(caught[0].message)
    >>> len(caught), caught[0].category.__name__, message.split(":")[0]
    (1, 'WeightingWarning', "arm 'B' cannot be balanced exactly")
    >>> "1 of 2 balance function(s) off target, the largest stage[IV] by +0.5 SD" in message
    True
    """
    table = constraints
    for row in solver.itertuples(index=False):
        arm_rows = table[table["arm"] == row.arm]
        off = arm_rows[np.abs(arm_rows["imbalance_sd"]) > BALANCED_SD]
        if row.status == "focal" or off.empty:
            continue
        worst = off.loc[off["imbalance_sd"].abs().idxmax()]
        detail = (
            f"{len(off)} of {row.n_constraints} balance function(s) off target, the largest "
            f"{worst['constraint']} by {worst['imbalance_sd']:+.3g} SD"
        )
        if row.status == "partial":
            reason = (
                f"the arm does not vary in {row.n_constraints - row.n_directions} "
                "direction(s) of the covariates (a level absent from the arm, a covariate "
                "constant in it, or levels that cover it); those were left as they are"
            )
        else:
            reason = (
                "the target lies outside what reweighting the arm can reach (the dual "
                f"diverges); approximate balancing weights with ridge {row.ridge:.3g} (the "
                f"best reachable largest imbalance is {row.best_imbalance_sd:.3g} SD)"
            )
        warnings.warn(
            f"arm {row.arm!r} cannot be balanced exactly: {reason}; {detail} (the "
            "balancing constraints table lists every function, targets and achieved means)",
            WeightingWarning,
            stacklevel=4,
        )
