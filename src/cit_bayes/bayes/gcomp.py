"""g-computation on the stored posterior draws, outside the sampler.

The marginal quantities of the outcome models (response rates, mean counts, cumulative
recovery) average patient-level predictions over the target population, in every posterior
draw. Written as ``pm.Deterministic`` they are evaluated by the sampler's expansion function,
one draw at a time, in compiled code without vector instructions (fast-math is off for
reproducibility: :mod:`cit_bayes.bayes._pytensor_setup`), and they enlarge the compiled graph.
Here they are computed once the draws are stored: the same formulas, vectorised with numpy over
blocks of draws, in threads (numpy releases the GIL in its array loops), on the distinct
patients only (patients with the same covariate row and group have the same prediction, so they
count once with their tilts summed: exact).

Nothing changes for the sampler (its draws are those of the model without the deterministics,
bit for bit), and the results are the same formulas up to floating-point rounding (the order of
the sums differs).

Measured for issue 17 (2 cores): at n = 187 the recovery model's expansion took 58 us a draw in
the sampler.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from cit_bayes.bayes.sufficient import merge_identical_rows

__all__ = [
    "BLOCK_ELEMENTS",
    "draws_matrix",
    "distinct_patients",
    "linear_predictor",
    "average_over_patients",
    "as_posterior",
]

#: How many (draw x patient x output) elements one block of the average holds (about 64 MB of
#: float64): bounds the memory whatever the cohort's size.
BLOCK_ELEMENTS = 8_000_000


def draws_matrix(posterior: xr.Dataset, name: str) -> np.ndarray:
    """A posterior variable as an array of shape (chains x draws, ...).

    Examples
    --------
    >>> import xarray as xr
    >>> from cit_bayes.bayes.gcomp import draws_matrix
    >>> posterior = xr.Dataset({"b": (("chain", "draw", "covariate"), np.zeros((2, 3, 4)))})
    >>> draws_matrix(posterior, "b").shape
    (6, 4)
    """
    values = posterior[name].transpose("chain", "draw", ...).values
    return values.reshape((values.shape[0] * values.shape[1], *values.shape[2:]))


def distinct_patients(
    design: np.ndarray, tilt: np.ndarray, group_index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The distinct (covariate row, group) pairs with positive tilt, and their summed tilts.

    Returns
    -------
    design, tilt, group_index
        One row per distinct pair; ``group_index`` is None when none was given.

    Examples
    --------
    >>> from cit_bayes.bayes.gcomp import distinct_patients
    >>> design = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
    >>> rows, tilt, _ = distinct_patients(design, np.array([1.0, 2.0, 0.5]))
    >>> rows.tolist(), tilt.tolist()
    ([[0.0, 1.0], [2.0, 0.0]], [3.0, 0.5])
    """
    columns = {"design": np.asarray(design, dtype=float)}
    if group_index is not None:
        columns["group"] = np.asarray(group_index).astype("int64")
    rows, summed = merge_identical_rows(columns, tilt)
    return rows["design"], summed, rows.get("group")


def linear_predictor(
    posterior: xr.Dataset, design: np.ndarray, group_index: np.ndarray | None = None
) -> Callable[[slice], np.ndarray]:
    """The covariate part of the linear predictor, design @ coefficient (+ the group's
    intercept), as a function of a block of draws: ``linear(draws)`` has shape (len(draws),
    patients). Computed block by block, so that draws x patients never sit in memory at once
    (8,000 draws of 10^5 patients would take 6.4 GB).

    Examples
    --------
    >>> import xarray as xr
    >>> from cit_bayes.bayes.gcomp import linear_predictor
    >>> posterior = xr.Dataset({"coefficient": (("chain", "draw", "covariate"), [[[1.0, 2.0]]])})
    >>> linear = linear_predictor(posterior, np.array([[1.0, 0.0], [1.0, 1.0]]))
    >>> linear(slice(0, 1)).tolist()
    [[1.0, 3.0]]
    """
    coefficient = draws_matrix(posterior, "coefficient")  # (S, p)
    design_t = np.ascontiguousarray(np.asarray(design, dtype=float).T)
    effect = None
    if group_index is not None and "group_effect" in posterior:
        effect = draws_matrix(posterior, "group_effect")
        group_index = np.asarray(group_index)

    def linear(draws: slice) -> np.ndarray:
        values = coefficient[draws] @ design_t
        if effect is not None:
            values += effect[draws][:, group_index]
        return values

    return linear


def average_over_patients(
    per_patient: Callable[[slice], np.ndarray], n_draws: int, n_patients: int, n_out: int,
    tilt: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The tilt-weighted average over patients of per-patient predictions, in blocks of draws.

    Parameters
    ----------
    per_patient : callable
        ``per_patient(draws)`` returns the predictions of the draws in the slice ``draws``, shape
        (len(draws), n_patients, n_out).
    n_draws, n_patients, n_out : int
    tilt : array, shape (n_patients,)

    Returns
    -------
    numpy.ndarray, shape (n_draws, n_out)
        :math:`\\sum_i h_i f_i / \\sum_i h_i` in every draw.

    Examples
    --------
    >>> from cit_bayes.bayes.gcomp import average_over_patients
    >>> values = np.arange(12.0).reshape(2, 3, 2)  # 2 draws, 3 patients, 2 outputs
    >>> average_over_patients(lambda s: values[s], 2, 3, 2, np.array([1.0, 1.0, 2.0])).tolist()
    [[2.5, 3.5], [8.5, 9.5]]
    """
    tilt = np.asarray(tilt, dtype=float)
    share = tilt / tilt.sum()
    block = max(1, BLOCK_ELEMENTS // max(1, n_patients * n_out))
    out = np.empty((n_draws, n_out))

    def work(start: int) -> None:
        draws = slice(start, min(n_draws, start + block))
        out[draws] = np.einsum("snk,n->sk", per_patient(draws), share)

    starts = range(0, n_draws, block)
    workers = min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        for start in starts:
            work(start)
    else:  # the blocks in threads, one BLAS thread each (no oversubscription of the cores)
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, starts))
    return out


def as_posterior(values: np.ndarray, posterior: xr.Dataset, dims: tuple[str, ...],
                 coords: dict) -> xr.DataArray:  # fmt: skip
    """An array of shape (chains x draws, ...) as a posterior variable with these dims.

    Examples
    --------
    >>> import xarray as xr
    >>> from cit_bayes.bayes.gcomp import as_posterior
    >>> posterior = xr.Dataset(coords={"chain": [0, 1], "draw": [0, 1, 2]})
    >>> as_posterior(np.zeros((6, 2)), posterior, ("arm",), {"arm": ["a", "b"]}).dims
    ('chain', 'draw', 'arm')
    """
    shape = (posterior.sizes["chain"], posterior.sizes["draw"], *values.shape[1:])
    return xr.DataArray(
        values.reshape(shape),
        dims=("chain", "draw", *dims),
        coords={"chain": posterior["chain"], "draw": posterior["draw"], **coords},
    )
