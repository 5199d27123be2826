"""``cit-bayes run``: the whole reanalysis in one command, ending in a report.

A thin face over :func:`cit_bayes.pipeline.run_pipeline`. Steps: validate, weight, fit, compare,
audit and published reanalysis (on the bundled data only), report. In a terminal each step shows
its start and the samplers' progress bars; in a log (not a terminal) each step prints one line
when it ends. Exit code 0 when every fit met the diagnostics gates, 1 when the report was
written but some fit missed a gate (the report says so in a banner), 2 on bad input (validation
errors are listed and no report folder is written; a ``--calibration`` folder without
``summary.json`` is bad input too).

The report shows a calibration of the intervals (``cit-bayes calibrate``): the one shipped with
the package (``data/calibration/default/``) by default, a user's own with ``--calibration DIR``,
none with ``--no-calibration``.
"""

from __future__ import annotations

import sys
import time

from cit_bayes.cli.fit import add_common_arguments, command_line, load_plan_from_args
from cit_bayes.cli.reconstruct import _draws as _count  # a whole number >= 1: one parser

#: M of ``--reconstructions`` without a number (``cit_bayes.analyses.reconstructions``, where it
#: is measured; repeated here so that the CLI's help needs no model import).
DEFAULT_RECONSTRUCTIONS = 20

__all__ = ["register", "run_run"]

DEFAULT_OUT = "reports/latest"


def register(subparsers) -> None:
    """Add the ``run`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.run import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["run", "--data", "cohort.csv", "--sampler", "pymc"])
    >>> args.data, args.sampler, args.out
    ('cohort.csv', 'pymc', 'reports/latest')
    >>> args.calibration, args.no_calibration
    (None, False)
    >>> parser.parse_args(["run", "--calibration", "reports/calibration"]).calibration
    'reports/calibration'
    >>> parser.parse_args(["run", "--reconstructions", "5"]).reconstructions
    5
    >>> parser.parse_args(["run", "--reconstructions"]).reconstructions
    20
    """
    parser = subparsers.add_parser(
        "run",
        help="the whole reanalysis in one command, ending in report.html and a methods supplement",
        description=(
            "Validate the cohort (default: the bundled reconstructed one), weight it for each "
            "estimand, fit the Bayesian models, compare the arms, audit the paper and reanalyse "
            "its tables (bundled data only), and write report.html, methods_supplement.md/.tex, "
            "results.json, figures/, tables/ and idata/ into the output folder."
        ),
    )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="the cohort (CSV, xlsx, sav, dta, parquet); default data/reconstructed/cohort.csv",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--out", metavar="DIR", default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--reconstructions",
        type=_count,
        nargs="?",
        const=DEFAULT_RECONSTRUCTIONS,
        metavar="M",
        help="instead of the bundled cohort, M cohorts (default when given without a number: "
        f"{DEFAULT_RECONSTRUCTIONS}) reconstructed from the paper's tables with their open "
        "choices drawn from models/reconstruction-uncertainty.toml, each analysed and the "
        "posterior draws pooled (bundled data only)",
    )
    parser.add_argument(
        "--reconstruction-uncertainty",
        metavar="FILE",
        help="the priors of the reconstruction's open choices (TOML; default "
        "models/reconstruction-uncertainty.toml); with --reconstructions",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_count,
        metavar="K",
        help="with --reconstructions or --missing impute: fit the cohorts on a local Dask "
        "cluster of K worker processes (default: one after another in this process)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="... or on an existing Dask scheduler's workers (e.g. tcp://127.0.0.1:8786)",
    )
    parser.add_argument(
        "--no-pdf",
        action="store_true",
        help="do not compile methods_supplement.pdf (it is compiled where pdflatex is installed)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--calibration",
        metavar="DIR",
        help="a `cit-bayes calibrate` output folder to show in the report (default: the one "
        "shipped with the package, data/calibration/default/, when present)",
    )
    shown.add_argument(
        "--no-calibration", action="store_true", help="show no calibration of the intervals"
    )
    parser.set_defaults(func=run_run)


def run_run(args) -> int:
    """Run the pipeline; return the exit code.

    Examples
    --------
    The pipeline takes minutes; a negative seed stops it before anything is read or written:

    >>> import argparse
    >>> from cit_bayes.cli.run import register, run_run
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> run_run(parser.parse_args(["run", "--seed", "-1"]))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: --seed must be a non-negative integer, got -1
    """
    from cit_bayes.cli.progress import StepPrinter
    from cit_bayes.pipeline import STEPS, run_pipeline

    start = time.perf_counter()
    plan = load_plan_from_args(args)
    printer = StepPrinter(total=len(STEPS))
    command = command_line(args, "run")
    try:
        result = run_pipeline(
            data=args.data,
            plan=plan,
            out_dir=args.out,
            seed=args.seed,
            columns=args.columns,
            labs=args.labs,
            missing=args.missing,
            response_rule=args.response_rule,
            steps=printer,
            sampler_progress=printer.interactive,
            command=command,
            published_sampler=args.sampler,
            calibration=False if args.no_calibration else args.calibration,
            reconstructions=args.reconstructions,
            reconstruction_uncertainty=args.reconstruction_uncertainty,
            workers=args.workers,
            scheduler=args.scheduler,
            pdf=not args.no_pdf,
        )
    finally:
        printer.stop()  # no heartbeat outlives the run, however it ends
    total = time.perf_counter() - start
    if result.synthetic:
        print("NOTE: the cohort is synthetic; the report's numbers illustrate the method only.")
    if result.failed_fits:
        print(f"diagnostics: FAILED: {', '.join(result.failed_fits)} (see the report's banner)")
    else:
        print("diagnostics: every fit passed the gates")
    if result.failed_checks:
        print(f"predictive checks: FAILED: {'; '.join(result.failed_checks)} (see the report)")
    print(f"wrote {result.out_dir}/report.html ({total:.0f} s)")
    sys.stdout.flush()
    return 0 if result.passed else 1
