"""Every table with the margins of an observed one, enumerated or drawn, with its statistics.

The exact tests of :mod:`cit_bayes.paper.statistics` compare the observed table with all the
r x c tables that share its row and column totals: :func:`enumerate_tables` visits every one
(rows filled one at a time, carrying the remaining column totals and the running sums of the
separable parts of the statistics), :func:`sample_tables` draws them with Patefield's algorithm
(``scipy.stats.random_table``) where there are too many (:func:`enumeration_bound`). Each table
comes with its hypergeometric log-probability, Pearson's X² and the likelihood-ratio G².
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import gammaln

__all__ = [
    "enumerate_tables",
    "enumeration_bound",
    "expected_counts",
    "g2_statistic",
    "log_probability",
    "pearson_statistic",
    "sample_tables",
]

_MC_CHUNK = 20_000


def expected_counts(table: np.ndarray) -> np.ndarray:
    """Expected counts under independence: row total x column total / grand total.

    Examples
    --------
    >>> expected_counts(np.array([[3, 1], [1, 3]])).tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """
    return np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()


def log_probability(tables: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Hypergeometric log-probability of each table given the margins ``rows``, ``columns``.

    Examples
    --------
    >>> table = np.array([[3, 1], [1, 3]])
    >>> round(float(np.exp(log_probability(table[None], table.sum(1), table.sum(0)))[0] * 70), 6)
    16.0
    """
    constant = gammaln(rows + 1).sum() + gammaln(columns + 1).sum() - gammaln(rows.sum() + 1)
    return constant - gammaln(tables + 1).sum(axis=(-2, -1))


def pearson_statistic(tables: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Pearson's X² of each table against the ``expected`` counts.

    Examples
    --------
    >>> table = np.array([[3, 1], [1, 3]])
    >>> float(pearson_statistic(table[None], expected_counts(table))[0])
    2.0
    """
    return ((tables - expected) ** 2 / expected).sum(axis=(-2, -1))


def g2_statistic(tables: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The likelihood-ratio G² of each table against the ``expected`` counts (0 log 0 = 0).

    Examples
    --------
    >>> table = np.array([[3, 1], [1, 3]])
    >>> # 2 (2·3 ln 1.5 + 2·1 ln 0.5)
    >>> round(float(g2_statistic(table[None], expected_counts(table))[0]), 3)
    2.093
    """
    tables = np.asarray(tables, dtype=float)
    safe = np.where(tables > 0, tables, 1.0)
    return 2 * (tables * np.log(safe / expected)).sum(axis=(-2, -1))


def _compositions(total: int, bounds: np.ndarray) -> np.ndarray:
    """All integer vectors x with sum(x) = total and 0 <= x_j <= bounds_j."""
    parts = np.zeros((1, 0), dtype=np.int64)
    remaining = np.array([total], dtype=np.int64)
    for bound in bounds[:-1]:
        top = np.minimum(remaining, bound)
        index = np.repeat(np.arange(len(remaining)), top + 1)
        values = np.concatenate([np.arange(t + 1) for t in top])
        parts = np.hstack([parts[index], values[:, None]])
        remaining = remaining[index] - values
    keep = remaining <= bounds[-1]
    return np.hstack([parts[keep], remaining[keep][:, None]])


def enumeration_bound(counts: np.ndarray) -> int:
    """Upper bound on the tables visited by row-wise enumeration (largest row left out).

    Examples
    --------
    >>> table = np.array([[3, 1], [1, 3]])
    >>> enumeration_bound(table)  # one free row of total 4 over 2 columns: 5 tables
    5
    """
    rows = sorted(counts.sum(axis=1).tolist())[:-1]
    n_columns = counts.shape[1]
    return math.prod(math.comb(int(r) + n_columns - 1, n_columns - 1) for r in rows)


def _row_statistics(block: np.ndarray, expected_row: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-row sums of log(x!), x^2/E and x log(x/E), separable parts of the statistics."""
    block_float = block.astype(float)
    safe = np.where(block > 0, block_float, 1.0)
    return (
        gammaln(block_float + 1).sum(axis=1),
        (block_float**2 / expected_row).sum(axis=1),
        (block_float * np.log(safe / expected_row)).sum(axis=1),
    )


def enumerate_tables(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-probability, Pearson X² and G² of every table with the margins of ``counts``.

    Rows are filled one at a time (all but the largest, which is the remainder), carrying only
    the remaining column totals and the running sums of the separable statistics.

    Examples
    --------
    >>> table = np.array([[3, 1], [1, 3]])
    >>> log_p, x2, g2 = enumerate_tables(table)  # the five tables with margins (4, 4), (4, 4)
    >>> probabilities = np.exp(log_p)  # 1, 16, 36, 16, 1 in 70
    >>> sorted(np.rint(probabilities * 70).astype(int).tolist())
    [1, 1, 16, 16, 36]
    >>> bool(abs(probabilities.sum() - 1) < 1e-12)
    True
    """
    rows, columns = counts.sum(axis=1), counts.sum(axis=0)
    total = counts.sum()
    expected = expected_counts(counts)
    order = np.argsort(-rows, kind="stable")
    largest, others = order[0], order[1:]
    remaining = columns[None, :].astype(np.int64)
    log_factorials = np.zeros(1)
    pearson_sum = np.zeros(1)
    g2_sum = np.zeros(1)
    for i in others:
        options = _compositions(int(rows[i]), columns)
        option_stats = _row_statistics(options, expected[i])
        fits = (options[None, :, :] <= remaining[:, None, :]).all(axis=-1)
        state, option = np.nonzero(fits)
        remaining = remaining[state] - options[option]
        log_factorials = log_factorials[state] + option_stats[0][option]
        pearson_sum = pearson_sum[state] + option_stats[1][option]
        g2_sum = g2_sum[state] + option_stats[2][option]
    last = _row_statistics(remaining, expected[largest])
    constant = gammaln(rows + 1).sum() + gammaln(columns + 1).sum() - gammaln(total + 1)
    log_probability = constant - (log_factorials + last[0])
    return log_probability, pearson_sum + last[1] - total, 2 * (g2_sum + last[2])


def sample_tables(
    counts: np.ndarray, n_samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-probability, X² and G² of tables drawn with Patefield's algorithm.

    Examples
    --------
    >>> table = np.array([[3, 1], [1, 3]])
    >>> log_p, x2, g2 = sample_tables(table, 1000, np.random.default_rng(1))  # X² 0, 2 or 8
    >>> log_p.shape, bool(np.isin(np.round(x2, 6), [0.0, 2.0, 8.0]).all())
    ((1000,), True)
    """
    rows, columns = counts.sum(axis=1), counts.sum(axis=0)
    expected = expected_counts(counts)
    distribution = stats.random_table(rows, columns)
    pieces = []
    for start in range(0, n_samples, _MC_CHUNK):
        size = min(_MC_CHUNK, n_samples - start)
        tables = distribution.rvs(size=size, method="patefield", random_state=rng)
        pieces.append(
            (
                log_probability(tables, rows, columns),
                pearson_statistic(tables, expected),
                g2_statistic(tables, expected),
            )
        )
    return tuple(np.concatenate([piece[k] for piece in pieces]) for k in range(3))
