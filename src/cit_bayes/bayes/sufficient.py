"""Patients whose inputs are identical, merged into one row that carries their summed weight.

A weighted log-likelihood :math:`\\sum_i w_i \\log p(y_i \\mid x_i, \\theta)` takes the same value
when the patients with the same inputs (arm, covariate row, group, outcome) are merged into one
row of weight :math:`\\sum w_i`: the merged rows and their summed weights are sufficient
statistics of the model, exactly, whatever :math:`\\theta`. The response model's likelihood then
runs over the distinct (arm, covariates, group, response) rows, the recovery model's over the
distinct (arm, covariates, group, follow-up, event) rows, and the g-computation over the
distinct (covariates, group) rows with their summed tilts (:func:`cit_bayes.bayes.gcomp.distinct_patients`).
A patient of weight 0 contributes nothing and is left out.

How much this saves depends on the covariates, not on the number of patients: with
categorical covariates only (stage, tumour type, sex), a registry of 10^5 patients has at most
a few hundred distinct rows per arm; with a continuous covariate (the log baseline platelet
count of the default plan) nearly every patient is a row of their own, and nothing is merged
(the likelihood of a logistic or hazard regression on a continuous covariate has no smaller
sufficient statistic). Numbers are the same either way; only the cost changes.

No library merges weighted rows for a PyMC ``pm.Potential`` likelihood (``numpy.unique``
does the grouping), hence this module.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cit_bayes.exceptions import ModelError

__all__ = ["merge_identical_rows"]


def merge_identical_rows(
    columns: Mapping[str, np.ndarray], weight
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Merge the rows with identical values in every column; sum their weights.

    Parameters
    ----------
    columns : mapping of str to numpy.ndarray
        Arrays with the same first dimension n (one row per patient; 2-D arrays, such as a
        design, compare whole rows). No NaN (a NaN never equals itself).
    weight : array-like, shape (n,)
        Non-negative weights; rows of weight 0 are left out.

    Returns
    -------
    merged : dict of str to numpy.ndarray
        One row per distinct combination, in the order of first appearance, each array with
        its own dtype.
    summed : numpy.ndarray
        The summed weight of each merged row.

    Examples
    --------
    >>> from cit_bayes.bayes.sufficient import merge_identical_rows
    >>> arm = np.array([0, 0, 1, 0])
    >>> design = np.array([[1.0], [1.0], [1.0], [2.0]])
    >>> merged, summed = merge_identical_rows({"arm": arm, "design": design}, [1.0, 0.5, 2.0, 1.0])
    >>> merged["arm"].tolist(), merged["design"].ravel().tolist(), summed.tolist()
    ([0, 1, 0], [1.0, 1.0, 2.0], [1.5, 2.0, 1.0])
    """
    weight = np.asarray(weight, dtype=float)
    if weight.ndim != 1:
        raise ModelError("weights must be one-dimensional")
    arrays = {name: np.asarray(value) for name, value in columns.items()}
    for name, value in arrays.items():
        if value.shape[:1] != weight.shape:
            raise ModelError(f"{name} has {value.shape[:1]} rows, the weights {weight.shape}")
    keep = weight > 0
    kept = {name: value[keep] for name, value in arrays.items()}
    flat = [value.reshape(len(value), -1).astype(float) for value in kept.values()]
    key = np.column_stack(flat) if flat else np.zeros((int(keep.sum()), 0))
    if np.isnan(key).any():
        raise ModelError("rows to merge must not hold NaN")
    if key.shape[1] == 0:  # nothing tells the rows apart: one row
        return {name: value[:1] for name, value in kept.items()}, np.array([weight[keep].sum()])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct rows in the order they first appear
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    summed = np.bincount(rank[inverse.ravel()], weights=weight[keep], minlength=len(order))
    rows = first[order]
    return {name: value[rows] for name, value in kept.items()}, summed
