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
row-level data. This module holds the parser, the estimator the options choose and the run; the
inputs are read by :mod:`cit_bayes.cli.weights_inputs`, the files and the summary written by
:mod:`cit_bayes.cli.weights_outputs`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from cit_bayes import __version__
from cit_bayes.cli.weights_inputs import (
    _check_generic_options,
    _cohort_inputs,
    _generic_inputs,
    _truncate_arg,
)
from cit_bayes.cli.weights_outputs import (
    ENTROPY_DEFINITION,
    ENTROPY_FILES,
    PROPENSITY_DEFINITION,
    README,
    _json_default,
    _print_summary,
    _settings,
    _write_outputs,
)
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


def register(subparsers) -> None:
    """Add the ``weights`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.weights import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["weights", "table.csv", "--treatment", "arm"])
    >>> args.method, args.estimand, args.rare_level_min, args.out  # method None: the plan's
    (None, 'ato', 5, 'reports/weights')
    """
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
    """Run the sub-command (see :func:`register`); return the exit code.

    Examples
    --------
    Entropy-balancing weights for the ATE on a generic table of six patients: each arm's
    weighted mean age meets the pooled mean exactly.

    >>> import argparse, contextlib, io, tempfile
    >>> from pathlib import Path
    >>> from cit_bayes.cli.weights import register, run_weights
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     table = Path(folder) / "table.csv"
    ...     _ = table.write_text("arm,age\\nA,50\\nA,60\\nA,70\\nB,55\\nB,65\\nB,80\\n")
    ...     args = parser.parse_args(["weights", str(table), "--treatment", "arm",
    ...                               "--method", "entropy", "--estimand", "ate",
    ...                               "--out", str(Path(folder) / "weights")])
    ...     with contextlib.redirect_stdout(io.StringIO()) as printed:
    ...         code = run_weights(args)
    ...     written = (Path(folder) / "weights" / "weights.csv").is_file()
    >>> code, written
    (0, True)
    >>> print("\\n".join(printed.getvalue().splitlines()[:-1]))  # the last names the folder
    entropy balancing: estimand ATE, moments 1
    arm                  n      ESS      balance
    A                    3      2.6        exact
    B                    3      2.7        exact
    max pairwise |SMD| over 1 covariates/levels: 0.587 unweighted, 0.000 weighted
    """
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
