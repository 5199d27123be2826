"""What ``cit-bayes weights`` writes and prints: the tables and figures of a fitted weighting,
``settings.json`` (inputs by hash, every option, notes and warnings), the output folder's
``README.md`` and the terminal's per-arm summary (never row-level data).
"""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes import __version__
from cit_bayes.cli.weights_inputs import _truncate_arg
from cit_bayes.weighting import BalancingWeights, PropensityWeighting

__all__ = ["README", "PROPENSITY_DEFINITION", "ENTROPY_DEFINITION", "ENTROPY_FILES"]

README = """# {title}: output files

Written by `cit-bayes weights` (cit_bayes {version}). Settings and provenance: `settings.json`.

| file | content |
|---|---|
| `weights.csv` | one row per input row (but rows dropped by `--missing drop`), in input order: `row` (1-based data row number of the input file, header excluded), `arm`, `included` (0 = trimmed), `weight`, and `propensity_<arm>` for every arm |
| `balance.csv` | one row per covariate (numeric: mean; categorical: each level's share) and pair of arms: arm means before and after weighting, signed differences (arm_a - arm_b), `smd_denominator`, `smd_unweighted`, `smd_weighted` (absolute), `variance_ratio_unweighted`, `variance_ratio_weighted` (arm_a / arm_b), and the maximum absolute SMD over pairs |
| `balance_summary.csv` | one row per covariate or level: the largest pairwise absolute SMD before and after weighting and the pair attaining it (the love plot) |
| `table1_weighted.csv` | a weighted "Table 1": per arm, unweighted and weighted mean (SD) or %, with max absolute SMD |
| `ess.csv` | Kish effective sample size per arm, (sum w)^2 / sum w^2 |
| `weight_summary.csv` | weights per arm and overall: min, max, mean, coefficient of variation, share of the total weight held by the top 1% of patients |
| `overlap.csv` | distribution of each arm's propensity among the patients of each actual arm, with the common support |
| `design.csv` | the propensity model's columns (standardised numeric columns, one-hot levels) |
| `pooled_levels.csv`, `dropped_covariates.csv` | rare levels (fewer than `--rare-level-min` patients; with `--pool-absent-levels` also levels some arm lacks) pooled, and constant covariates dropped (empty when none) |
| `love_plot.png/.svg` | largest pairwise absolute SMD before and after weighting, line at 0.1 |
| `propensity_overlap.png/.svg` | distribution of each arm's propensity by actual arm |
| `outcome.csv` | (with `--outcome`) weighted mean outcome per arm and pairwise differences with sandwich (and bootstrap) CIs |
{entropy_files}
## Definitions

- Weight: {weight_definition}
- SMD denominator: the square root of the mean of the two arms' **unweighted** variances (p(1-p)
  for 0/1 variables, the sample variance otherwise), the same before and after weighting, so that
  the change reflects the means only; if both arms have variance 0, the unweighted variance of all
  patients.
- Weighted variance: reliability-weighted (sum w (x - m)^2 / (V1 - V2/V1)); p(1-p) for 0/1.
- Trimming: patients with min_k e_k(x) < alpha get weight 0 (Yoshida et al. 2019).
- Sandwich CI: {sandwich}
"""

PROPENSITY_DEFINITION = """w = h(x) / e_a(x), with h = 1 (ATE), 1 / sum_k 1/e_k (ATO, generalized overlap weights),
  e_t (ATT for the focal arm t), min_k e_k (matching) (Li & Li 2019)."""

ENTROPY_DEFINITION = """entropy balancing (Hainmueller 2012) for every arm: the weights closest
  (Kullback-Leibler) to uniform whose weighted covariate means (and, with --moments 2, second
  moments of numeric covariates) equal the target population's: all patients (ATE), the focal
  arm (ATT), the population tilted by h = 1 / sum_k 1/e_k (ATO) or min_k e_k (matching) of a
  multinomial logistic propensity model (Li & Li 2019). Where an arm cannot reach the target
  exactly, approximate balancing weights (ridge on the dual) are used and `balancing_solver.csv`
  says so. The propensity columns of `weights.csv` come from the logistic model (the target of
  ATO and matching; overlap diagnostics)."""

ENTROPY_FILES = """| `balancing_constraints.csv` | per arm and balance function (covariate mean, level share, second moment): target, achieved value, imbalance in SD units and the part of it the arm cannot move |
| `balancing_solver.csv` | per arm: exact or approximate balance, ridge, iterations, largest imbalance |
| `balancing_lambda.csv` | the dual solution: one row per balance function, one column per arm |
"""


def _file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes (what ``sha256sum`` prints), beside the data fingerprint."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _weights_table(weighting: PropensityWeighting, rows=()) -> pd.DataFrame:
    n = len(weighting.weights_)
    table = pd.DataFrame(
        {
            "row": np.asarray(rows) if len(rows) == n else np.arange(1, n + 1),
            "arm": weighting.arm_.astype(str).to_numpy(),
            "included": weighting.included_.astype(int).to_numpy(),
            "weight": weighting.weights_.to_numpy(),
        }
    )
    for label in weighting.arms_:
        table[f"propensity_{label}"] = weighting.propensity_[label].to_numpy()
    return table


def _write_outputs(
    weighting, outcome_table, out: Path, rows=(), *, synthetic: bool = False
) -> list[Path]:
    """Every table and figure; a synthetic cohort's with a ``synthetic`` column of 1s and the
    figures stamped (:func:`cit_bayes.report.figure_files.stamped`)."""
    from cit_bayes.report.balance_figures import love_plot, propensity_overlap_plot
    from cit_bayes.report.figure_files import SYNTHETIC_STAMP, stamped

    out.mkdir(parents=True, exist_ok=True)
    balance = weighting.balance()
    summary = weighting.balance_summary()
    design = weighting.design_
    tables = {
        "weights.csv": _weights_table(weighting, rows),
        "balance.csv": balance,
        "balance_summary.csv": summary,
        "table1_weighted.csv": weighting.table_one(),
        "ess.csv": weighting.effective_sample_size(),
        "weight_summary.csv": weighting.weight_summary(),
        "overlap.csv": weighting.overlap(),
        "design.csv": design.model_columns,
        "pooled_levels.csv": design.pooled,
        "dropped_covariates.csv": design.dropped,
    }
    if outcome_table is not None:
        tables["outcome.csv"] = outcome_table
    if isinstance(weighting, BalancingWeights):
        tables["balancing_constraints.csv"] = weighting.constraints_
        tables["balancing_solver.csv"] = weighting.solver_
        tables["balancing_lambda.csv"] = weighting.lambda_.reset_index()
    written = []
    for name, table in tables.items():
        (table.assign(synthetic=1) if synthetic else table).to_csv(out / name, index=False)
        written.append(out / name)
    with stamped(SYNTHETIC_STAMP if synthetic else None):
        written += love_plot(summary, out / "love_plot", title=f"Balance ({_describe(weighting)})")
        written += propensity_overlap_plot(
            tables["weights.csv"].drop(columns=["row", "included", "weight"]),
            out / "propensity_overlap",
            arms=[str(a) for a in weighting.arms_],
        )
    return written


def _describe(weighting) -> str:
    if isinstance(weighting, BalancingWeights):
        return f"entropy balancing, {weighting.estimand.upper()} target"
    return f"{weighting.estimand.upper()} weights"


def _print_summary(weighting, outcome_table, notes, caught, written, out) -> None:
    ess = weighting.effective_sample_size()
    summary = weighting.balance_summary()
    if isinstance(weighting, BalancingWeights):
        print(
            f"entropy balancing: estimand {weighting.estimand.upper()}, moments {weighting.moments}"
        )
        extra, values = "balance", weighting.solver_.set_index("arm")["status"]
    else:
        print(
            f"propensity-score weighting: estimand {weighting.estimand.upper()}, "
            f"model {weighting.model}"
        )
        extra, values = "trimmed", weighting.trimmed_.set_index("arm")["n_trimmed"]
    for note in notes:
        print(f"note: {note}")
    print(f"{'arm':<16}{'n':>6}{'ESS':>9}{extra:>13}")
    for row in ess.itertuples(index=False):
        print(f"{str(row.arm):<16}{row.n:>6}{row.ess:>9.1f}{str(values[row.arm]):>13}")
    print(
        f"max pairwise |SMD| over {len(summary)} covariates/levels: "
        f"{summary['max_smd_unweighted'].max():.3f} unweighted, "
        f"{summary['max_smd_weighted'].max():.3f} weighted"
    )
    if outcome_table is not None:
        print("weighted outcome (estimate [sandwich CI]):")
        for row in outcome_table.itertuples(index=False):
            label = row.arm if row.quantity == "arm_mean" else f"{row.arm} - {row.comparator}"
            print(
                f"  {label:<30}{row.estimate:>9.3f}  [{row.ci_low_sandwich:.3f}, {row.ci_high_sandwich:.3f}]"
            )
    for message in caught:
        print(f"warning: {message}", file=sys.stderr)
    print(f"wrote {len(written)} files to {out}")


def _settings(args, path: Path, weighting, cohort, notes, caught) -> dict:
    """``settings.json``: the inputs (file hash, no row), every option and what was noted."""
    return {
        "cit_bayes_version": __version__,
        "input_file": path.name,
        "input_sha256": _file_sha256(path),
        "cohort_fingerprint": cohort.fingerprint if cohort is not None else None,
        "columns": Path(args.columns).name if getattr(args, "columns", None) else None,
        "missing": getattr(args, "missing", "error"),
        "dropped": []
        if cohort is None
        else cohort.dropped.astype({"n_dropped": int}).to_dict(orient="records"),
        "synthetic": bool(cohort.synthetic) if cohort is not None else None,
        "treatment": args.treatment or "arm",
        "arms": [str(a) for a in weighting.arms_],
        "covariates": list(weighting.feature_names_in_),
        "outcome": args.outcome,
        "estimand": args.estimand,
        "reference": args.reference,
        "method": args.method,
        "method_from": "the analysis plan"
        if getattr(args, "method_from_plan", False)
        else "--method",
        "moments": getattr(weighting, "moments", None),
        "tolerance": getattr(weighting, "tolerance", None),
        "pool_absent_levels": getattr(weighting, "pool_absent_levels", None),
        "model": args.model,
        "penalty": args.penalty,
        "rare_level_min": weighting.rare_level_min,
        "trim": args.trim,
        "truncate": _truncate_arg(args.truncate),
        "stabilize": args.stabilize,
        "n_bootstrap": args.bootstrap,
        "seed": args.seed,
        "notes": notes,
        "warnings": caught,
    }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
