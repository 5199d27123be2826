"""``cit-bayes reanalyse --published``: the Bayesian reanalysis of the paper's published tables.

A thin face over :func:`cit_bayes.analyses.published.run_published_reanalysis` and
:func:`cit_bayes.analyses.published.write_published_reanalysis`. Writes ``results.json``, ``summary.md``,
``figures/`` and ``idata/`` under the output folder and prints one line per endpoint and a
diagnostics verdict. Exit code 0 when every fit met the diagnostics gates, 1 when some fit missed
one (its results are written and marked failed), 2 on bad input.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from cit_bayes.bayes import SAMPLERS
from cit_bayes.exceptions import ConvergenceWarning, PlanError

__all__ = ["register", "run_reanalyse"]

DEFAULT_OUT = "reports/published"


def register(subparsers) -> None:
    """Add the ``reanalyse`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.reanalyse import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["reanalyse", "--prior-set", "flat", "skeptical", "--no-idata"])
    >>> args.published, args.prior_sets, args.out, args.no_idata
    (False, ['flat', 'skeptical'], 'reports/published', True)
    """
    parser = subparsers.add_parser(
        "reanalyse",
        help="Bayesian reanalysis of the published tables, with prior sensitivity",
        description=(
            "Fit Bayesian models (PyMC) to the paper's published aggregates - response (Table 2), "
            "platelet counts by day (Table 4), time to recovery among recovered patients "
            "(Table 6), transfusion and adverse events (Tables 8, 9) - under each prior set of "
            "models/priors, and write results.json, summary.md, figures and the fits."
        ),
    )
    parser.add_argument(
        "--published",
        action="store_true",
        help="reanalyse the paper's published tables (the only source supported so far)",
    )
    parser.add_argument(
        "--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--prior-set",
        metavar="NAME",
        nargs="+",
        action="extend",
        dest="prior_sets",
        help="prior set(s) to run (default: those of models/published_reanalysis.toml)",
    )
    parser.add_argument("--seed", type=int, metavar="S", help="master seed (default: the plan's)")
    parser.add_argument(
        "--sampler", choices=SAMPLERS, help="MCMC sampler (default: the plan's, nutpie)"
    )
    parser.add_argument(
        "--no-idata", action="store_true", help="do not write the fits as netCDF (idata/*.nc)"
    )
    parser.set_defaults(func=run_reanalyse)


def run_reanalyse(args) -> int:
    """Run the command; return the exit code.

    Examples
    --------
    Fitting takes minutes; without ``--published`` there is nothing to reanalyse:

    >>> import argparse
    >>> from cit_bayes.cli.reanalyse import register, run_reanalyse
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> run_reanalyse(parser.parse_args(["reanalyse"]))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: reanalyse needs a source: use --published (the paper's tables)
    """
    from cit_bayes.analyses.published import run_published_reanalysis, write_published_reanalysis
    from cit_bayes.output import check_output_folder, staged_folder

    if not args.published:
        raise PlanError("reanalyse needs a source: use --published (the paper's tables)")
    if args.seed is not None and args.seed < 0:
        raise PlanError(f"--seed must be a non-negative integer, got {args.seed}")
    check_output_folder(args.out)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = run_published_reanalysis(
            prior_sets=args.prior_sets, seed=args.seed, sampler=args.sampler
        )
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    with staged_folder(args.out) as staging:
        write_published_reanalysis(result, staging, save_idata=not args.no_idata)
    out = Path(args.out)
    results = result.results
    for endpoint in ("response", "plt", "recovery", "safety"):
        analyses = results.get(endpoint, {})
        print(f"{endpoint}: {len(analyses)} analyses ({', '.join(analyses)})")
    diagnostics = results["diagnostics"]
    failed = [name for name, entry in diagnostics.items() if not entry["passed"]]
    verdict = "all passed" if not failed else f"FAILED: {', '.join(failed)}"
    print(f"diagnostics: {len(diagnostics)} fits, {verdict}")
    print(
        f"wrote {out / 'results.json'} and {out / 'summary.md'} ({time.perf_counter() - start:.1f} s)"
    )
    return 1 if failed else 0
