"""``cit-bayes weights``: propensity-score or entropy-balancing weights, balance diagnostics and
weighted outcomes.

A thin face over :class:`cit_bayes.weighting.PropensityWeighting` (``--method propensity``) and
:class:`cit_bayes.weighting.BalancingWeights` (``--method entropy``); without ``--method``, the
analysis plan's method (``[weighting] method`` of ``--plan``, default ``models/default.toml``:
entropy), so that ``weights`` and ``run`` weight alike. Without
``--treatment`` the
file is read as a CIT cohort (:func:`cit_bayes.cohort.read_cohort`) and weighted on the baseline
covariates of the schema; with ``--treatment`` any table the cohort reader reads (CSV/TSV,
Excel, SPSS, Stata, Parquet) works. Everything is written under the
output folder; the terminal gets a per-arm summary (counts, effective sample sizes, balance), never
row-level data.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes import __version__
from cit_bayes.exceptions import WeightingError
from cit_bayes.weighting import (
    ESTIMANDS,
    BalancingWeights,
    PropensityWeighting,
    weighted_outcome,
)

__all__ = ["register", "run_weights"]

DEFAULT_OUT = "reports/weights"
METHODS = ("propensity", "entropy")

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


def register(subparsers) -> None:
    """Add the ``weights`` sub-command."""
    parser = subparsers.add_parser(
        "weights",
        help="entropy-balancing or propensity-score weights with balance diagnostics (any arms)",
        description=(
            "Compute propensity-score or entropy-balancing weights for an estimand (the analysis "
            "plan's method unless --method says otherwise), and write "
            "weights, balance tables, effective sample sizes, figures and (with --outcome) "
            "weighted outcome estimates. Without --treatment, FILE is read as a CIT cohort."
        ),
    )
    parser.add_argument(
        "file",
        metavar="FILE",
        help="cohort file, or any table (CSV, Excel, SPSS, Stata, Parquet) with --treatment",
    )
    parser.add_argument("--treatment", metavar="COL", help="treatment column of a generic table")
    parser.add_argument(
        "--labs",
        metavar="LABS",
        help="a CIT cohort's laboratory results in long format (see cit-bayes validate --labs)",
    )
    parser.add_argument(
        "--columns",
        metavar="MAP",
        help="a CIT cohort's column mapping TOML (other column names or value codes; see "
        "cit-bayes validate --columns)",
    )
    parser.add_argument(
        "--missing",
        choices=("error", "drop"),
        default="error",
        help="a CIT cohort's rows with a missing covariate, baseline count or undeterminable "
        "response: 'error' (default) lists them, 'drop' drops them and counts them per arm "
        "(run and fit also impute them: --missing impute; weights of imputed cohorts differ "
        "per imputation, so this command does not)",
    )
    parser.add_argument(
        "--covariates",
        metavar="A,B,C",
        help="comma-separated covariates (default: the cohort's baseline covariates, or every "
        "column but the treatment and outcome of a generic table)",
    )
    parser.add_argument("--outcome", metavar="COL", help="numeric outcome column (e.g. response)")
    parser.add_argument("--estimand", choices=ESTIMANDS, default="ato", help="default: ato")
    parser.add_argument("--reference", metavar="ARM", help="focal arm of att; comparator arm")
    parser.add_argument(
        "--trim", type=float, metavar="ALPHA", help="drop patients with any e_k < ALPHA"
    )
    parser.add_argument(
        "--truncate", metavar="P[,Q]", help="truncate weights at percentiles P and 100-P (or P,Q)"
    )
    parser.add_argument("--stabilize", action="store_true", help="mean weight 1 within each arm")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="propensity: weights from a propensity model; entropy: entropy balancing, "
        "covariate means of every arm balanced to the target by construction (default: the "
        "analysis plan's [weighting] method, entropy in models/default.toml)",
    )
    parser.add_argument(
        "--plan",
        metavar="TOML",
        help="analysis plan whose weighting method is the default (default models/default.toml)",
    )
    parser.add_argument(
        "--moments",
        type=int,
        choices=(1, 2),
        help="entropy: 1 balances means and level shares, 2 also second moments (default 1)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        help="entropy: imbalance (SD units) accepted above the best reachable when exact "
        "balance is impossible (default 0.01)",
    )
    parser.add_argument(
        "--pool-absent-levels",
        action="store_true",
        help="entropy: pool the levels of a categorical covariate that some arm lacks",
    )
    parser.add_argument(
        "--rare-level-min",
        type=int,
        default=5,
        metavar="N",
        help="pool categorical levels seen in fewer than N patients (default 5)",
    )
    parser.add_argument("--model", choices=("logistic", "boosting"), default="logistic")
    parser.add_argument("--penalty", type=float, default=1.0, help="ridge penalty (0: none)")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap resamples")
    parser.add_argument(
        "--seed", type=int, default=20250101, help="seed (bootstrap, boosting folds)"
    )
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"default: {DEFAULT_OUT}")
    parser.set_defaults(func=run_weights)


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise WeightingError("--covariates lists no column")
    return names


def _truncate_arg(text: str | None):
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise WeightingError(f"--truncate expects P or P,Q (percentiles); got {text!r}") from None
    return values[0] if len(values) == 1 else tuple(values)


def _read_generic(path: Path) -> pd.DataFrame:
    """Any table the cohort reader reads (CSV/TSV, Excel, SPSS, Stata, Parquet), columns typed.

    The file is read by :func:`cit_bayes.cohort.io.read_table` (one reader for the package:
    encoding, delimiter and decimal-comma detection, blank rows skipped with their numbers
    kept); a text column whose every non-blank cell is a number becomes numeric, as a CSV
    reader's type inference would make it.
    """
    from cit_bayes.cohort.io import read_table

    raw = read_table(path)
    frame = raw.frame.copy()
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        text = column.map(lambda v: v.strip() if isinstance(v, str) else v)
        text = text.mask(text.map(lambda v: isinstance(v, str) and not v))
        if raw.decimal_comma:
            text = text.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)
        numbers = pd.to_numeric(text, errors="coerce")
        frame[name] = numbers if numbers.notna().sum() == text.notna().sum() else text
    return frame


def _looks_like_identifier(series: pd.Series) -> bool:
    text = not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return text and series.nunique(dropna=True) == len(series) and len(series) > 1


def _generic_inputs(args, path: Path):
    frame = _read_generic(path)
    missing = [c for c in [args.treatment, args.outcome] if c is not None and c not in frame]
    covariates = _split(args.covariates)
    missing += [c for c in covariates or [] if c not in frame]
    if missing:
        raise WeightingError(
            f"{path.name}: no column(s) {missing}; columns are {list(frame.columns)}"
        )
    notes = []
    if covariates is None:
        candidates = [c for c in frame.columns if c not in {args.treatment, args.outcome}]
        identifiers = [c for c in candidates if _looks_like_identifier(frame[c])]
        covariates = [c for c in candidates if c not in identifiers]
        if identifiers:
            notes.append(
                f"left out identifier-like column(s) {identifiers} (a distinct text value on every row)"
            )
    outcome = frame[args.outcome] if args.outcome else None
    return frame[covariates], frame[args.treatment], outcome, notes, None


def _cohort_inputs(args, path: Path):
    from cit_bayes.cohort import read_cohort
    from cit_bayes.plan import load_plan

    # read as the plan reads it: its arms, its covariates (or those --covariates names), and
    # the counts of a long-format laboratory file
    plan = load_plan(args.plan)
    columns = plan.cohort_columns()
    names = _split(args.covariates)
    if names is not None:
        columns["used_covariates"] = tuple(names)
    cohort = read_cohort(
        path,
        getattr(args, "columns", None),
        labs=getattr(args, "labs", None),
        missing=getattr(args, "missing", "error"),
        **columns,
    )
    covariates = cohort.covariates()
    if names is not None:
        unknown = [c for c in names if c not in covariates and c not in cohort.data]
        if unknown:
            raise WeightingError(
                f"unknown covariate(s) {unknown}; baseline covariates are {list(covariates.columns)}"
            )
        covariates = pd.concat(
            [covariates[c] if c in covariates else cohort.data[c] for c in names], axis=1
        )
    outcome = None
    if args.outcome:
        if args.outcome not in cohort.data:
            raise WeightingError(f"no outcome column {args.outcome!r} in the cohort")
        outcome = cohort.data[args.outcome]
    notes = [f"synthetic cohort ({cohort.source})"] if cohort.synthetic else []
    if not cohort.dropped.empty:
        counts = ", ".join(
            f"{row.arm} {row.n_dropped} ({row.reason})" for row in cohort.dropped.itertuples()
        )
        notes.append(
            f"dropped {int(cohort.dropped['n_dropped'].sum())} rows for missing values "
            f"(--missing drop): {counts}; weights.csv's row is the input file's data row"
        )
    return covariates, cohort.data["arm"], outcome, notes, cohort


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


def _estimator(args, reference, cohort):
    arms = list(cohort.arms) if cohort is not None else None
    if args.method == "entropy":
        unused = [
            flag
            for flag, used in (
                ("--trim", args.trim is not None),
                ("--truncate", args.truncate is not None),
                ("--model boosting", args.model != "logistic"),
            )
            if used
        ]
        if unused:
            hint = (
                " (the analysis plan's method; add --method propensity for propensity weights)"
                if getattr(args, "method_from_plan", False)
                else ""
            )
            raise WeightingError(
                f"{', '.join(unused)}: not used by --method entropy{hint} (balancing weights are "
                "neither trimmed nor truncated; the target's propensity model is logistic)"
            )
        return BalancingWeights(
            args.estimand,
            moments=1 if args.moments is None else args.moments,
            reference=reference,
            arms=arms,
            tolerance=0.01 if args.tolerance is None else args.tolerance,
            pool_absent_levels=args.pool_absent_levels,
            rare_level_min=args.rare_level_min,
            penalty=args.penalty,
            stabilize=args.stabilize,
        )
    unused = [
        flag
        for flag, value in (
            ("--moments", args.moments),
            ("--tolerance", args.tolerance),
            ("--pool-absent-levels", args.pool_absent_levels or None),
        )
        if value is not None
    ]
    if unused:
        raise WeightingError(f"{', '.join(unused)}: only used by --method entropy")
    return PropensityWeighting(
        args.estimand,
        model=args.model,
        penalty=args.penalty,
        reference=reference,
        arms=arms,
        stabilize=args.stabilize,
        trim=args.trim,
        truncate=_truncate_arg(args.truncate),
        rare_level_min=args.rare_level_min,
        random_state=args.seed,
    )


def run_weights(args) -> int:
    """Run the sub-command (see :func:`register`); return the exit code."""
    from cit_bayes.output import check_output_folder, staged_folder

    check_output_folder(args.out)
    if args.method is None:
        from cit_bayes.plan import load_plan

        args.method = load_plan(args.plan).weighting.method
        args.method_from_plan = True
    path = Path(args.file)
    # --reference is the focal arm of ATT, and the comparator of the outcome differences
    reference_for_model = args.reference if args.estimand == "att" else None
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        _check_generic_options(args)
        if args.treatment:
            X, arm, y, notes, cohort = _generic_inputs(args, path)
        else:
            X, arm, y, notes, cohort = _cohort_inputs(args, path)
        weighting = _estimator(args, reference_for_model, cohort).fit(X, arm)
        if args.reference is not None and args.reference not in weighting.arms_:
            raise WeightingError(
                f"--reference {args.reference!r} is not one of the arms {list(weighting.arms_)}"
            )
        outcome_table = None
        if y is not None:
            outcome_table = weighted_outcome(
                weighting,
                y,
                reference=args.reference,
                n_bootstrap=args.bootstrap,
                random_state=args.seed,
            )
    caught = [f"{r.category.__name__}: {r.message}" for r in records]
    settings = _settings(args, path, weighting, cohort, notes, caught)
    sandwich = (
        outcome_table["sandwich_method"].iloc[0] if outcome_table is not None else "not computed"
    )
    entropy = args.method == "entropy"
    out = Path(args.out)
    with staged_folder(out) as staging:
        written = _write_outputs(
            weighting,
            outcome_table,
            staging,
            cohort.rows if cohort is not None else (),
            synthetic=cohort is not None and bool(cohort.synthetic),
        )
        (staging / "settings.json").write_text(
            json.dumps(settings, indent=2, default=_json_default)
        )
        (staging / "README.md").write_text(
            README.format(
                title="Entropy-balancing weights" if entropy else "Propensity-score weighting",
                version=__version__,
                sandwich=sandwich,
                entropy_files=ENTROPY_FILES if entropy else "",
                weight_definition=ENTROPY_DEFINITION if entropy else PROPENSITY_DEFINITION,
            )
        )
        written += [staging / "settings.json", staging / "README.md"]
        written = [out / p.relative_to(staging) for p in written]
    _print_summary(weighting, outcome_table, notes, caught, written, out)
    return 0


def _check_generic_options(args) -> None:
    """A generic table (``--treatment``) is read as it is: no laboratory file, column mapping
    or missing-value policy, which read a CIT cohort."""
    if args.treatment and getattr(args, "labs", None):
        raise WeightingError(
            "--labs completes a CIT cohort; a generic table read with --treatment takes "
            "no laboratory file"
        )
    if args.treatment and (
        getattr(args, "columns", None) or getattr(args, "missing", "error") != "error"
    ):
        raise WeightingError(
            "--columns and --missing read a CIT cohort; a generic table read with "
            "--treatment is read as it is"
        )


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
