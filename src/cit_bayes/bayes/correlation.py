"""Correlation matrices of a few days, unrolled into scalar graph operations.

The platelet-trajectory model's residual correlation across days is an LKJ-distributed
correlation matrix built from its canonical partial correlations (a C-vine); a patient's
recorded days give the block of that matrix its likelihood uses. These helpers build the
Cholesky factor, its blocks and the multivariate normal log density from nested lists of
scalars (symbolic or float): for matrices of at most days x days, scalar operations compile fast
and differentiate cheaply.

References
----------
Lewandowski D, Kurowicka D, Joe H. Generating random correlation matrices based on vines and
extended onion method. *J Multivar Anal* 2009;100:1989-2001.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

__all__ = ["correlation_cholesky", "cpc_shapes", "mvn_logpdf", "pattern_factor"]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _cholesky(matrix: list[list]) -> list[list]:
    """Lower Cholesky factor of a small symbolic SPD matrix, unrolled (entries are scalars).

    Scalar operations compile fast and differentiate cheaply; the matrices here are at most
    days x days. Used only for a set of recorded days that is not a leading block (the
    Cholesky factor of a leading block is the leading block of the factor).
    """
    k = len(matrix)
    factor = [[None] * k for _ in range(k)]
    for j in range(k):
        diagonal = matrix[j][j] - sum((factor[j][m] ** 2 for m in range(j)), start=0.0)
        factor[j][j] = pt.sqrt(diagonal)
        for i in range(j + 1, k):
            off = matrix[i][j] - sum((factor[i][m] * factor[j][m] for m in range(j)), start=0.0)
            factor[i][j] = off / factor[j][j]
    return factor


def correlation_cholesky(cpc: list) -> list[list]:
    """Lower Cholesky factor of a correlation matrix from its canonical partial correlations.

    ``cpc`` lists the C-vine partial correlations row by row of the strict lower triangle:
    entry (i, j), i > j, is the partial correlation of days j and i given days 0..j-1. The
    factor is :math:`L_{i0} = z_{i0}`, :math:`L_{ij} = z_{ij} \\sqrt{1 - \\sum_{m<j} L_{im}^2}`,
    :math:`L_{ii} = \\sqrt{1 - \\sum_{m<i} L_{im}^2}` (Lewandowski et al. 2009, section 2;
    the construction of Stan's ``cholesky_factor_corr``). Works on symbolic scalars or floats.

    Examples
    --------
    >>> from cit_bayes.bayes.correlation import correlation_cholesky
    >>> factor = correlation_cholesky([0.5])  # two days, correlation 0.5
    >>> [[round(value, 3) for value in row] for row in factor]
    [[1.0, 0.0], [0.5, 0.866]]
    """
    k = int(round((1 + np.sqrt(1 + 8 * len(cpc))) / 2))
    factor = [[0.0] * k for _ in range(k)]
    factor[0][0] = 1.0
    position = 0
    for i in range(1, k):
        used = 0.0
        for j in range(i):
            value = cpc[position] if j == 0 else cpc[position] * (1.0 - used) ** 0.5
            position += 1
            factor[i][j] = value
            used = used + value**2
        factor[i][i] = (1.0 - used) ** 0.5
    return factor


def cpc_shapes(n_days: int) -> np.ndarray:
    """Beta shape of each canonical partial correlation under LKJ(eta), less eta.

    Under the LKJ(eta) density :math:`\\propto \\det R^{\\eta - 1}` on d x d correlation
    matrices, the C-vine partial correlations are independent, the one of tree level
    :math:`k = j + 1` distributed as :math:`2\\,\\mathrm{Beta}(\\beta_k, \\beta_k) - 1`
    with :math:`\\beta_k = \\eta + (d - 1 - k)/2` (Lewandowski et al. 2009, section 3.2).
    Returns :math:`(d - 1 - k)/2` in the order of :func:`correlation_cholesky`.

    Examples
    --------
    >>> from cit_bayes.bayes.correlation import cpc_shapes
    >>> cpc_shapes(3).tolist()
    [0.5, 0.5, 0.0]
    """
    return np.array(
        [(n_days - 2 - j) / 2.0 for i in range(1, n_days) for j in range(i)], dtype=float
    )


def _triangular_inverse(factor: list[list]) -> list[list]:
    """Inverse of a small lower-triangular matrix given as nested scalars (unrolled)."""
    k = len(factor)
    inverse = [[0.0] * k for _ in range(k)]
    for i in range(k):
        inverse[i][i] = 1.0 / factor[i][i]
        for j in range(i):
            total = sum((factor[i][m] * inverse[m][j] for m in range(j, i)), start=0.0)
            inverse[i][j] = -total / factor[i][i]
    return inverse


def mvn_logpdf(residual, factor: list[list]):
    """Row-wise log N(residual | 0, L L^T) for residual (rows, k), L lower (nested scalars).

    The inverse of L is unrolled into a k x k tensor and applied with one matrix product,
    so the graph has a fixed, small number of array operations whatever k.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from cit_bayes.bayes.correlation import correlation_cholesky, mvn_logpdf
    >>> factor = correlation_cholesky([pt.scalar("cpc")])
    >>> mvn_logpdf(pt.matrix("residual"), factor).ndim  # one log density per row
    1
    """
    k = len(factor)
    inverse = _triangular_inverse(factor)
    matrix = pt.stack(
        [pt.stack([pt.as_tensor(v, dtype="float64") for v in row]) for row in inverse]
    )
    standard = pt.dot(residual, matrix.T)
    log_det = 2.0 * sum(
        (pt.log(factor[j][j]) for j in range(k) if not isinstance(factor[j][j], float)), start=0.0
    )
    return -0.5 * (pt.sum(standard**2, axis=1) + log_det + k * _LOG_2PI)


def pattern_factor(factor: list[list], days: list[int]) -> list[list]:
    """Cholesky factor of the correlation block of ``days`` (a leading block is read off).

    Examples
    --------
    >>> from cit_bayes.bayes.correlation import correlation_cholesky, pattern_factor
    >>> factor = correlation_cholesky([0.5, 0.2, 0.3])  # three days
    >>> [[round(value, 3) for value in row] for row in pattern_factor(factor, [0, 1])]
    [[1.0, 0.0], [0.5, 0.866]]
    """
    if days == list(range(len(days))):
        return [[factor[i][j] for j in days] for i in days]
    block = [
        [sum((factor[i][m] * factor[j][m] for m in range(min(i, j) + 1)), start=0.0) for j in days]
        for i in days
    ]
    return _cholesky(block)
