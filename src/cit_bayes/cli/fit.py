"""``cit-bayes fit FILE``: the adjusted Bayesian outcome models on a patient-level cohort.

A thin face over :func:`cit_bayes.analyses.patient.run_patient_analysis` and
:func:`cit_bayes.analyses.patient.write_fit_outputs`: reads and validates the cohort, weights it for each
estimand of the plan, fits the response, platelet-trajectory, recovery and safety models, and
writes ``results.json``, ``idata/*.nc`` and ``tables/*.csv`` under the output folder (written in
a staging folder and moved into place, so a failed run leaves nothing half-written). Prints
per-arm summaries and a diagnostics verdict, never row-level data. Exit code 0 when every fit met
the gates, 1 when some fit missed one (written and marked failed), 2 on bad input.
"""

from __future__ import annotations

import shlex
import sys
import time
import warnings

from cit_bayes.bayes import SAMPLERS
from cit_bayes.cli.validate import add_cohort_arguments
from cit_bayes.exceptions import ConvergenceWarning, PlanError
from cit_bayes.plan import ESTIMANDS

__all__ = ["register", "run_fit"]

DEFAULT_OUT = "reports/fit"


def add_common_arguments(parser) -> None:
    """Arguments shared by ``fit`` and ``run``: plan, seed, sampler, cohort reading."""
    add_plan_arguments(parser)
    add_cohort_arguments(parser)


def add_plan_arguments(parser) -> None:
    """The plan and its overrides: ``--plan``, ``--seed``, ``--estimand``, ``--sampler``,
    ``--draws``, ``--tune``, ``--target-accept`` (``fit``, ``run``, ``calibrate``)."""
    parser.add_argument(
        "--plan", metavar="TOML", help="analysis plan (default models/default.toml)"
    )
    parser.add_argument("--seed", type=int, metavar="S", help="master seed (default: the plan's)")
    parser.add_argument(
        "--estimand",
        choices=ESTIMANDS,
        help="primary estimand of the adjusted analysis (default: the plan's, ate)",
    )
    parser.add_argument("--sampler", choices=SAMPLERS, help="MCMC sampler (default: the plan's)")
    parser.add_argument(
        "--draws",
        type=int,
        metavar="N",
        help="draws per chain of the patient-level models (default: the plan's, 2000); more "
        "draws help when R-hat or ESS misses its gate",
    )
    parser.add_argument(
        "--tune", type=int, metavar="N", help="tuning steps per chain (default: the plan's)"
    )
    parser.add_argument(
        "--target-accept",
        type=float,
        metavar="P",
        help="NUTS target acceptance (0.5 <= P < 1) of every patient-level model, replacing the "
        "plan's per-model values; a higher value (0.95, 0.99) takes smaller steps, which is "
        "what helps against divergent transitions",
    )


def register(subparsers) -> None:
    """Add the ``fit`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.fit import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["fit", "cohort.csv", "--estimand", "ato"])
    >>> args.file, args.estimand, args.out, args.missing
    ('cohort.csv', 'ato', 'reports/fit', 'error')
    """
    parser = subparsers.add_parser(
        "fit",
        help="adjusted Bayesian outcome models on a patient-level cohort",
        description=(
            "Weight the cohort for each estimand of the plan (unadjusted, primary, sensitivity), "
            "fit the response, platelet-trajectory, recovery and safety models, compare the arms, "
            "and write results.json, idata/*.nc and tables/*.csv."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the cohort (CSV, xlsx, sav, dta, parquet)")
    add_common_arguments(parser)
    parser.add_argument(
        "--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.set_defaults(func=run_fit)


def load_plan_from_args(args):
    """The plan named by ``--plan`` with ``--estimand``, ``--sampler``, ``--draws``, ``--tune``
    and ``--target-accept`` applied."""
    from cit_bayes.plan import load_plan

    if args.seed is not None and args.seed < 0:
        raise PlanError(f"--seed must be a non-negative integer, got {args.seed}")
    plan = load_plan(args.plan)
    if args.estimand:
        plan = plan.with_primary(args.estimand)
    changes = {
        key: value
        for key, value in (("sampler", args.sampler), ("draws", args.draws), ("tune", args.tune))
        if value is not None
    }
    plan = plan.with_sampler(**changes) if changes else plan
    target_accept = getattr(args, "target_accept", None)
    return plan if target_accept is None else plan.with_target_accept(target_accept)


def report_convergence(caught) -> None:
    """Print caught ConvergenceWarnings on stderr; re-issue any other warning."""
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def command_line(args, command: str) -> str:
    """The command as typed (``args.argv``, set by :func:`cit_bayes.cli.main`), shell-quoted."""
    words = getattr(args, "argv", None) or [command]
    return "cit-bayes " + " ".join(shlex.quote(word) for word in words)


def run_fit(args) -> int:
    """Run the command; return the exit code.

    Examples
    --------
    Fitting takes minutes; a negative seed stops the command before the cohort is read:

    >>> import argparse, tempfile
    >>> from cit_bayes.cli.fit import register, run_fit
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> with tempfile.TemporaryDirectory() as out:
    ...     run_fit(parser.parse_args(["fit", "cohort.csv", "--seed", "-1", "--out", out]))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: --seed must be a non-negative integer, got -1
    """
    from cit_bayes.analyses.patient import run_patient_analysis, write_fit_outputs
    from cit_bayes.cohort import read_cohort
    from cit_bayes.output import check_output_folder, staged_folder
    from cit_bayes.run_record import fit_times, write_run_record

    check_output_folder(args.out)
    plan = load_plan_from_args(args)
    cohort = read_cohort(
        args.file,
        args.columns,
        missing=args.missing,
        response_rule=args.response_rule,
        labs=args.labs,
        **plan.cohort_columns(),
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = run_patient_analysis(
            cohort, plan, seed=args.seed, progress=lambda m: print(m, file=sys.stderr)
        )
    report_convergence(caught)
    with staged_folder(args.out) as staging:
        write_fit_outputs(result, staging)
        write_run_record(
            staging,
            command=command_line(args, "fit"),
            seed=result.results["meta"]["seed"],
            step_seconds={"fit": time.perf_counter() - start},
            fits=fit_times(result.fits),
        )
    if cohort.synthetic:
        print("NOTE: the cohort is synthetic; every number below illustrates the method only.")
    results = result.results
    primary = results["response"]["adjusted"]["rate"]
    rates = ", ".join(f"{arm} {100 * v['mean']:.1f}%" for arm, v in primary.items())
    print(f"adjusted response rate ({plan.primary_estimand.upper()}): {rates}")
    failed = result.failed_fits
    verdict = "all passed" if not failed else f"FAILED: {', '.join(failed)}"
    print(f"diagnostics: {len(result.fits)} fits, {verdict}")
    print(f"wrote {args.out}/results.json ({time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0
