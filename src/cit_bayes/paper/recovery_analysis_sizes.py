"""How many patients per arm entered the paper's time-to-recovery analysis.

Table 6 prints the recovery time per arm as mean ± SD with the arm sizes (64, 37, 36, 50) in the
header, but its F (3.029, P = 0.035) cannot come from 187 patients (that would give F = 8.15):
only patients who recovered can have a recovery time, and how many did is not reported. Table 7
prints, for the six pairs of arms, the mean difference with a 95 % CI and a p-value. Each CI's
width depends on the two arms' SDs (printed) and sizes (unknown), so the sizes can be solved for.
They are the sizes of the *analysed subset*, not necessarily every patient who recovered: the
audit's day-14 cross-check (``audit_recovery.day14_recovery_checks``) and the ΔPLT quartiles show
that more patients reached 100 than these sizes allow, so other modules must not read them as
recovered counts.

The search runs over every vector of per-arm counts ``2 <= n_i <= arm size`` and keeps those for
which a procedure reproduces all six printed intervals within the rounding of the printed SDs
(± 0.005) and interval ends (± 0.0005), times ``tolerance``. Pairwise procedures (pooled and
Welch t) are checked pair by pair and combined; procedures with one pooled MSE for all arms
(Fisher LSD, Tukey, Bonferroni, Scheffé: half-width = critical value x sqrt(MSE (1/n_a + 1/n_b)))
are checked jointly through the ratio :math:`h_{ab}^2 / (1/n_a + 1/n_b)`, which they all require
to be the same for every pair. The printed pairwise p-values are an independent source: under
Fisher's LSD each fixes :math:`|t| = |d| / \\sqrt{MSE (1/n_a + 1/n_b)}` on :math:`N - k` df.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from cit_bayes.exceptions import PublishedDataError
from cit_bayes.paper.statistics_summary import anova_from_summary
from cit_bayes.paper.tables import load_tables

__all__ = [
    "ci_procedure_solutions",
    "implied_recovery_analysis_sizes",
    "recovery_analysis_size_solutions",
]

#: Half a unit of the printed SDs and mean differences / interval ends of Tables 6 and 7.
SD_HALF_UNIT = 0.005
CI_HALF_UNIT = 0.0005
MAX_GRID = 50_000_000
PROCEDURES = ("pooled_t", "welch_t", "common_mse")


def _recovery_inputs(tables: dict[str, pd.DataFrame] | None) -> dict:
    tables = load_tables() if tables is None else tables
    cells = tables["table6_recovery_delta"]
    cells = cells[cells["block"] == "recovery_days"]
    pairs = tables["table7_pairwise"]
    pairs = pairs[pairs["block"] == "recovery_days"]
    if cells.empty or pairs.empty or cells[["mean", "plusminus", "n_arm"]].isna().any().any():
        raise PublishedDataError("Tables 6/7 lack the recovery-time means, SDs or arm sizes")
    arms = list(cells["arm"])
    index = {arm: i for i, arm in enumerate(arms)}
    rows = []
    for row in pairs.itertuples():
        if row.arm_a not in index or row.arm_b not in index:
            raise PublishedDataError(f"Table 7 compares unknown arms {row.arm_a}, {row.arm_b}")
        if any(math.isnan(v) for v in (row.effect, row.effect_ci_low, row.effect_ci_high)):
            raise PublishedDataError("Table 7 lacks a recovery-time mean difference or its CI")
        rows.append(
            {
                "a": index[row.arm_a],
                "b": index[row.arm_b],
                "difference": float(row.effect),
                "half_width": (row.effect_ci_high - row.effect_ci_low) / 2,
                "p": float(row.p),
                "printed_p": row.printed_p,
            }
        )
    sizes = cells["n_arm"].astype(int).to_numpy()
    if math.prod(int(s) - 1 for s in sizes) > MAX_GRID:
        raise PublishedDataError(
            "arm sizes too large for a complete search of recovery-analysis sizes"
        )
    return {
        "arms": arms,
        "means": cells["mean"].to_numpy(float),
        "sds": cells["plusminus"].to_numpy(float),
        "sizes": sizes,
        "pairs": rows,
    }


def _axes(sizes: np.ndarray) -> list[np.ndarray]:
    """Per-arm candidate counts 2..size, each shaped to broadcast along its own axis."""
    axes = []
    for i, size in enumerate(sizes):
        shape = [1] * len(sizes)
        shape[i] = -1
        axes.append(np.arange(2, int(size) + 1, dtype=float).reshape(shape))
    return axes


def _t_quantile(df):
    """0.975 quantile of t, looked up once per distinct df (integer df repeat across the grid)."""
    df = np.asarray(df, dtype=float)
    unique, inverse = np.unique(df, return_inverse=True)
    return stats.t.ppf(0.975, unique)[inverse].reshape(df.shape)


def _pooled_half_width(na, nb, sa, sb):
    df = na + nb - 2
    return _t_quantile(df) * np.sqrt(((na - 1) * sa**2 + (nb - 1) * sb**2) / df * (1 / na + 1 / nb))


def _welch_half_width(na, nb, sa, sb):
    va, vb = sa**2 / na, sb**2 / nb
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return stats.t.ppf(0.975, df) * np.sqrt(va + vb)


def _pairwise_grid(inputs: dict, procedure: str, tolerance: float):
    """Boolean grid of count vectors reproducing every CI, and the CI score (pairwise methods)."""
    axes = _axes(inputs["sizes"])
    shape = tuple(int(s) - 1 for s in inputs["sizes"])
    compatible = np.ones(shape, dtype=bool)
    score = np.zeros(shape)
    function = _pooled_half_width if procedure == "pooled_t" else _welch_half_width
    sds = inputs["sds"]
    for pair in inputs["pairs"]:
        a, b = pair["a"], pair["b"]
        na, nb = axes[a].reshape(-1, 1), axes[b].reshape(1, -1)
        corners = np.stack(
            [
                function(
                    na,
                    nb,
                    sds[a] + sa * SD_HALF_UNIT * tolerance,
                    sds[b] + sb * SD_HALF_UNIT * tolerance,
                )
                for sa, sb in itertools.product((-1, 0, 1), repeat=2)
            ]
        )
        slack = CI_HALF_UNIT * tolerance
        ok = (corners.min(axis=0) <= pair["half_width"] + slack) & (
            corners.max(axis=0) >= pair["half_width"] - slack
        )
        residual = ((corners[4] - pair["half_width"]) / CI_HALF_UNIT) ** 2
        target = [1] * len(shape)
        target[a], target[b] = shape[a], shape[b]
        if a > b:
            ok, residual = ok.T, residual.T
        compatible &= ok.reshape(target)
        score = score + residual.reshape(target)
    return compatible, score


def _common_mse_grid(inputs: dict, tolerance: float) -> np.ndarray:
    """Count vectors for which h_ab^2 / (1/n_a + 1/n_b) can be one constant for all pairs."""
    axes = _axes(inputs["sizes"])
    low, high = np.zeros(()), np.full((), np.inf)
    for pair in inputs["pairs"]:
        factor = 1 / axes[pair["a"]] + 1 / axes[pair["b"]]
        h = pair["half_width"]
        slack = CI_HALF_UNIT * tolerance
        low = np.maximum(low, max(h - slack, 0.0) ** 2 / factor)
        high = np.minimum(high, (h + slack) ** 2 / factor)
    return np.broadcast_to(low <= high, tuple(int(s) - 1 for s in inputs["sizes"]))


def _lsd_p_grid(inputs: dict, tolerance: float) -> np.ndarray:
    """Count vectors for which Fisher's LSD reproduces every printed pairwise p."""
    axes = _axes(inputs["sizes"])
    k = len(axes)
    total = sum(axes)
    df = total - k
    sds = inputs["sds"]
    mse_low = sum((axes[i] - 1) * (sds[i] - SD_HALF_UNIT * tolerance) ** 2 for i in range(k)) / df
    mse_high = sum((axes[i] - 1) * (sds[i] + SD_HALF_UNIT * tolerance) ** 2 for i in range(k)) / df
    all_df = np.arange(0, int(inputs["sizes"].sum()) + 1)
    df_index = df.astype(int)
    compatible = np.ones(tuple(int(s) - 1 for s in inputs["sizes"]), dtype=bool)
    for pair in inputs["pairs"]:
        half = 0.5 * 10.0 ** -_decimals(pair["printed_p"]) * tolerance
        p_low, p_high = max(pair["p"] - half, 0.0), min(pair["p"] + half, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_needed_low = np.nan_to_num(stats.t.isf(p_high / 2, np.maximum(all_df, 1)), nan=0.0)
            t_needed_high = (
                np.full(all_df.shape, np.inf)
                if p_low <= 0
                else stats.t.isf(p_low / 2, np.maximum(all_df, 1))
            )
        factor = 1 / axes[pair["a"]] + 1 / axes[pair["b"]]
        d = abs(pair["difference"])
        t_max = (d + CI_HALF_UNIT * tolerance) / np.sqrt(mse_low * factor)
        t_min = max(d - CI_HALF_UNIT * tolerance, 0.0) / np.sqrt(mse_high * factor)
        compatible &= (t_max >= t_needed_low[df_index]) & (t_min <= t_needed_high[df_index])
    return compatible


def _decimals(printed: str) -> int:
    text = str(printed).strip().lstrip("<").rstrip("*#").strip()
    return len(text.split(".")[1]) if "." in text else 0


def ci_procedure_solutions(
    tables: dict[str, pd.DataFrame] | None = None,
    *,
    procedure: str = "pooled_t",
    tolerance: float = 1.0,
) -> pd.DataFrame:
    """Every vector of per-arm recovery-analysis sizes with which ``procedure`` reproduces Table 7's six CIs.

    Parameters
    ----------
    tables : dict of DataFrame, optional
        From :func:`~cit_bayes.paper.load_tables` (default: the bundled tables).
    procedure : {"pooled_t", "welch_t", "common_mse"}
        ``common_mse`` stands for every procedure whose half-width is a critical value times
        :math:`\\sqrt{MSE(1/n_a + 1/n_b)}` with one MSE (LSD, Tukey, Bonferroni, Scheffé); it
        checks the necessary condition that the ratio is common to all pairs.
    tolerance : float
        Multiplies the rounding half-units; 1 = exactly the printed precision.

    Returns
    -------
    pandas.DataFrame
        One row per compatible vector: a column per arm, ``total``, and ``ci_score`` (sum over
        pairs of the squared half-width residual in units of 0.0005, at the printed SDs; NaN
        for ``common_mse``), sorted by score.

    Examples
    --------
    >>> from cit_bayes.paper.recovery_analysis_sizes import ci_procedure_solutions
    >>> ci_procedure_solutions(procedure="pooled_t")["total"].tolist()
    [71]
    """
    if procedure not in PROCEDURES:
        raise PublishedDataError(f"unknown procedure {procedure!r}; expected one of {PROCEDURES}")
    inputs = _recovery_inputs(tables)
    if procedure == "common_mse":
        compatible, score = _common_mse_grid(inputs, tolerance), None
    else:
        compatible, score = _pairwise_grid(inputs, procedure, tolerance)
    found = np.argwhere(compatible)
    frame = pd.DataFrame(found + 2, columns=inputs["arms"])
    frame["total"] = frame[inputs["arms"]].sum(axis=1)
    frame["ci_score"] = score[tuple(found.T)] if score is not None else np.nan
    return frame.sort_values("ci_score", kind="stable").reset_index(drop=True)


def recovery_analysis_size_solutions(
    tables: dict[str, pd.DataFrame] | None = None, *, tolerance: float = 1.0
) -> pd.DataFrame:
    """Count vectors compatible with the Table 7 CIs (pooled t) or with its p-values (LSD).

    Returns
    -------
    pandas.DataFrame
        One row per vector compatible with either source: a column per arm, ``total``,
        ``ci_compatible``, ``lsd_p_compatible``, ``ci_score``, and the one-way ANOVA
        ``f_statistic`` and ``f_p_value`` these counts give with Table 6's means and SDs (to
        compare with the printed F = 3.029, P = 0.035), sorted with vectors compatible with
        both sources first, then by ``ci_score``.

    Examples
    --------
    >>> from cit_bayes.paper.recovery_analysis_sizes import recovery_analysis_size_solutions
    >>> solutions = recovery_analysis_size_solutions()
    >>> solutions["total"].tolist()[:3], solutions["ci_compatible"].tolist()[:2]
    ([71, 72, 70], [True, False])
    """
    inputs = _recovery_inputs(tables)
    ci_ok, score = _pairwise_grid(inputs, "pooled_t", tolerance)
    lsd_ok = _lsd_p_grid(inputs, tolerance)
    found = np.argwhere(ci_ok | lsd_ok)
    index = tuple(found.T)
    frame = pd.DataFrame(found + 2, columns=inputs["arms"])
    frame["total"] = frame[inputs["arms"]].sum(axis=1)
    frame["ci_compatible"] = ci_ok[index]
    frame["lsd_p_compatible"] = lsd_ok[index]
    frame["ci_score"] = score[index]
    anova = [anova_from_summary(inputs["means"], inputs["sds"], row) for row in found + 2]
    frame["f_statistic"] = [result.statistic for result in anova]
    frame["f_p_value"] = [result.p_value for result in anova]
    both = frame["ci_compatible"] & frame["lsd_p_compatible"]
    frame = frame.assign(_both=~both).sort_values(["_both", "ci_score"], kind="stable")
    return frame.drop(columns="_both").reset_index(drop=True)


def implied_recovery_analysis_sizes(
    tables: dict[str, pd.DataFrame] | None = None, *, tolerance: float = 1.0
) -> pd.DataFrame:
    """The number of patients per arm implied for the time-to-recovery analysis (Tables 6-7).

    Parameters
    ----------
    tables : dict of DataFrame, optional
        From :func:`~cit_bayes.paper.load_tables` (default: the bundled tables).
    tolerance : float
        Multiplies the rounding half-units of the printed values (1 = printed precision; a
        larger value gives a looser, wider set).

    Returns
    -------
    pandas.DataFrame
        One row per arm: ``arm``, ``n_arm`` (printed arm size), ``analysis_size`` (best-fitting
        count), ``analysis_size_low`` and ``analysis_size_high`` (range over every vector compatible
        with either source), ``share_of_arm`` (``analysis_size / n_arm``), ``n_solutions``
        (vectors compatible with either source) and ``evidence`` (which sources the best
        vector satisfies).

    Notes
    -----
    Two sources are searched separately (see the module docstring): the six printed CIs as
    pooled two-sample t intervals, and the six printed p-values as Fisher LSD comparisons. The
    best vector is the one with the smallest CI score among those compatible with both (else
    with the CIs, else with the p-values); the range runs over every vector compatible with
    either source. On the paper's tables the CIs alone single out
    (33, 9, 13, 16) (71 patients) even at twice the printed tolerance; the LSD p-values alone
    give rhTPO 32-34 with the other three the same; and these counts give the printed one-way
    ANOVA F(3, 67) = 3.029, P = 0.035 — a check that used neither source. The range is the
    uncertainty due to rounding under these procedures; it says nothing about a different
    procedure, which is an assumption (stated in the audit).

    Examples
    --------
    >>> implied_recovery_analysis_sizes()["analysis_size"].tolist()
    [33, 9, 13, 16]
    """
    solutions = recovery_analysis_size_solutions(tables, tolerance=tolerance)
    if solutions.empty:
        raise PublishedDataError(
            "no per-arm analysis sizes reproduce Table 7 within the printed rounding; "
            "try a larger tolerance"
        )
    arms = [c for c in solutions.columns if c not in _SOLUTION_COLUMNS]
    sizes = _recovery_inputs(tables)["sizes"]
    both = solutions["ci_compatible"] & solutions["lsd_p_compatible"]
    if both.any():
        best, evidence = solutions[both].iloc[0], "CIs (pooled t) and p-values (LSD) agree"
    elif solutions["ci_compatible"].any():
        best = solutions[solutions["ci_compatible"]].iloc[0]
        evidence = "CIs (pooled t) only; no vector also fits the LSD p-values"
    else:
        best = solutions.iloc[0]
        evidence = "p-values (LSD) only; no vector fits the CIs"
    return pd.DataFrame(
        {
            "arm": arms,
            "n_arm": sizes.astype(int),
            "analysis_size": [int(best[arm]) for arm in arms],
            "analysis_size_low": [int(solutions[arm].min()) for arm in arms],
            "analysis_size_high": [int(solutions[arm].max()) for arm in arms],
            "share_of_arm": [
                float(best[arm]) / size for arm, size in zip(arms, sizes, strict=True)
            ],
            "n_solutions": len(solutions),
            "evidence": evidence,
        }
    )


_SOLUTION_COLUMNS = {
    "total",
    "ci_compatible",
    "lsd_p_compatible",
    "ci_score",
    "f_statistic",
    "f_p_value",
}
