"""What entropy balancing balances: the balance functions, levels an arm lacks, each arm's share.

:func:`constraint_matrix` turns the covariate design into standardised balance functions c(x);
:func:`encode_for_balancing` encodes the covariates, optionally pooling levels an arm lacks;
:func:`arm_constraints` says which balance functions each arm balances. The dual that balances
them is :mod:`cit_bayes.weighting.balancing_dual`.

Levels absent from an arm
-------------------------
With ``pool_absent_levels=True`` (:func:`encode_for_balancing`), after the rare-level rule of
:func:`~cit_bayes.weighting.design.encode_covariates`, the levels of a categorical covariate that
some arm lacks are pooled into one level (labels joined by ``"+"``); if that level is still
missing from some arm (or only one level is missing), the missing levels are merged into the
most frequent level instead, as the rare-level rule does. Every pooling is listed in the
design's ``pooled`` table with its ``rule``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from cit_bayes.exceptions import WeightingWarning
from cit_bayes.weighting.design import CovariateColumns, encode_columns

__all__ = ["arm_constraints", "constraint_matrix", "encode_for_balancing"]


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
        ``kind`` (``"level"``, ``"binary"`` for a 0/1 covariate, ``"numeric"``; a square is
        numeric), ``center``, ``scale`` (of the column before standardisation).

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
                "kind": numeric_kinds[row.covariate] if row.level == "" else "level",
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
                    "kind": "numeric",
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

    Examples
    --------
    Stage II is seen in the first arm only; with ``pool_absent`` it is pooled with the most
    common level, IV, so that both arms can be balanced on every level left:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from cit_bayes.weighting.balance_functions import encode_for_balancing
    >>> from cit_bayes.weighting.design import covariate_columns
    >>> X = pd.DataFrame({"age": [50, 60, 70, 55, 65, 75],
    ...                   "stage": ["III", "IV", "II", "III", "IV", "IV"]})
    >>> columns, codes = covariate_columns(X), np.array([0, 0, 0, 1, 1, 1])
    >>> kept = encode_for_balancing(columns, codes, 2, rare_level_min=0, pool_absent=False)
    >>> kept.balance_columns["level"].tolist()
    ['', 'II', 'III', 'IV']
    >>> design = encode_for_balancing(columns, codes, 2, rare_level_min=0, pool_absent=True)
    >>> design.balance_columns["level"].tolist()
    ['', 'IV+II', 'III']
    >>> design.pooled[["level", "n", "pooled_into", "rule"]].values.tolist()
    [['IV', 3, 'IV+II', 'absent from an arm'], ['II', 1, 'IV+II', 'absent from an arm']]
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


def arm_constraints(matrix, codes, n_arms: int, minimum: int, *, kinds) -> np.ndarray:
    """Which balance functions each arm balances: bool array, shape (n_arms, p).

    A level indicator or a 0/1 covariate (``kinds`` ``"level"`` or ``"binary"``) is left out of
    an arm's constraints when fewer than ``minimum`` of the arm's patients hold its rarer value
    there (e.g. 2 patients with bone metastases among 35). Balancing it would hang the arm's
    weights on those few patients (a Kish ESS that collapses) or, with the other constraints, put
    the target outside what the arm can reach; its imbalance is reported as structural and the
    outcome models adjust for the covariate. Numeric functions are always kept, also a numeric
    covariate that happens to take two values (ECOG 1 or 2).

    Parameters
    ----------
    matrix : numpy.ndarray, shape (n, p)
        The balance functions (:func:`constraint_matrix`).
    codes : numpy.ndarray, shape (n,)
        Each patient's arm code.
    n_arms, minimum : int
        The number of arms; the rarer value's minimum count in an arm (0: keep every function).
    kinds : sequence of str, length p
        Each function's ``kind`` (the ``columns`` of :func:`constraint_matrix`).

    Examples
    --------
    >>> matrix = np.array([[0.0, 1.0], [1.0, 2.0], [0.0, 3.0], [1.0, 4.0], [1.0, 5.0]])
    >>> codes = np.array([0, 0, 0, 1, 1])
    >>> arm_constraints(matrix, codes, 2, 2, kinds=["binary", "numeric"]).tolist()
    [[False, True], [False, True]]
    >>> arm_constraints(matrix, codes, 2, 2, kinds=["numeric", "numeric"]).tolist()
    [[True, True], [True, True]]
    """
    kinds = list(kinds)
    if len(kinds) != matrix.shape[1]:
        raise ValueError(f"{len(kinds)} kinds for {matrix.shape[1]} balance functions")
    keep = np.ones((n_arms, matrix.shape[1]), dtype=bool)
    if minimum <= 0:
        return keep
    for c in range(matrix.shape[1]):
        values = np.unique(matrix[:, c])
        if kinds[c] not in ("level", "binary") or len(values) != 2:
            continue
        for j in range(n_arms):
            column = matrix[codes == j, c]
            rarer = min(int(np.sum(column == values[0])), int(np.sum(column == values[1])))
            keep[j, c] = rarer >= minimum
    return keep
