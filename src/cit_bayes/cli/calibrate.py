"""``cit-bayes calibrate``: how often the analyses' credible intervals cover the truth.

A thin face over :func:`cit_bayes.calibration.engine.run_calibration`: simulates ``--replicates``
cohorts of ``--n`` patients under each scenario, fits the unadjusted, fixed-weight and
design-uncertainty analyses of the plan on each, and writes per-replicate records,
``coverage.csv``, ``summary.json`` and, with ``--sbc S``, S simulation-based-calibration
replicates of each model (``sbc.csv``, ``figures/sbc_<model>.png``) into ``--out``. Replicates run on a local Dask cluster
(``--workers``, default one per core), on an existing one (``--scheduler``), or in this process
(``--workers 0``). Interrupted, the same command resumes where it stopped. Exit code 0 when
every replicate ran (failed replicates are counted in the summary), 130 when interrupted.
"""

from __future__ import annotations

import sys
import time

from cit_bayes.calibration.setup import ANALYSES, ENDPOINTS, SCENARIOS

__all__ = ["register", "run_calibrate"]

DEFAULT_OUT = "reports/calibration"


def register(subparsers) -> None:
    """Add the ``calibrate`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.calibrate import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["calibrate", "--replicates", "5", "--workers", "0"])
    >>> args.replicates, args.sbc, args.workers, args.scenarios, args.out
    (5, 200, 0, ['paper-like', 'null', 'strong-confounding'], 'reports/calibration')
    """
    from cit_bayes.cli.fit import add_plan_arguments

    parser = subparsers.add_parser(
        "calibrate",
        help="coverage of the analyses' credible intervals over simulated cohorts",
        description=(
            "Simulate cohorts with a known truth under each scenario (models/scenarios), fit "
            "the plan's unadjusted, fixed-weight and design-uncertainty analyses on each, and "
            "measure how often their 50, 80 and 95 %% intervals cover the truth of the plan's "
            "primary estimand, with Monte Carlo errors, bias, decision rates and every fit's "
            "diagnostics. Resumes an interrupted calibration in the same --out folder."
        ),
    )
    add_plan_arguments(parser)
    parser.add_argument(
        "--scenarios", nargs="+", default=list(SCENARIOS), metavar="NAME",
        help="bundled scenario names or scenario TOML paths (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--n", type=int, default=187, help="patients per cohort (default 187)")
    parser.add_argument(
        "--replicates", type=int, default=200, help="cohorts per scenario (default 200)"
    )
    parser.add_argument(
        "--endpoints", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS),
        help="outcome models (default: all three)",
    )  # fmt: skip
    parser.add_argument(
        "--analyses", nargs="+", choices=ANALYSES, default=list(ANALYSES),
        help="analyses compared (default: all three)",
    )  # fmt: skip
    parser.add_argument(
        "--sbc", type=int, default=200, metavar="S",
        help="simulation-based-calibration replicates of each model (default 200; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--sbc-endpoints", nargs="+", choices=ENDPOINTS, metavar="MODEL",
        help="the models SBC checks (default: --endpoints)",
    )  # fmt: skip
    parser.add_argument(
        "--design-draws", type=int, metavar="B",
        help="design draws of the design-uncertainty analysis (default: the plan's)",
    )  # fmt: skip
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, metavar="K",
        help="worker processes of a local Dask cluster (default: one per core; 0: this process)",
    )  # fmt: skip
    where.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://127.0.0.1:8786 (workers: --nthreads 1)",
    )  # fmt: skip
    parser.add_argument(
        "--out", metavar="DIR", default=DEFAULT_OUT,
        help=f"calibration folder (default {DEFAULT_OUT}); the same folder resumes",
    )  # fmt: skip
    parser.set_defaults(func=run_calibrate)


def run_calibrate(args) -> int:
    """Run or resume the calibration; print the verdicts and where the files are.

    Examples
    --------
    A real call simulates and fits hundreds of cohorts (hours); the settings are checked
    before anything runs, so a cohort too small to fit stops at once:

    >>> import argparse
    >>> from cit_bayes.cli.calibrate import register, run_calibrate
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> run_calibrate(parser.parse_args(["calibrate", "--n", "10", "--workers", "0"]))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: calibrate: n must be at least 20 patients, got 10
    """
    from cit_bayes.calibration.engine import run_calibration
    from cit_bayes.calibration.setup import CalibrationSetup
    from cit_bayes.cli.fit import load_plan_from_args

    plan = load_plan_from_args(args)
    setup = CalibrationSetup(
        plan,
        scenarios=tuple(args.scenarios),
        n=args.n,
        replicates=args.replicates,
        seed=plan.seed if args.seed is None else args.seed,
        endpoints=tuple(args.endpoints),
        analyses=tuple(args.analyses),
        design_draws=args.design_draws,
        sbc=args.sbc,
        sbc_endpoints=None if args.sbc_endpoints is None else tuple(args.sbc_endpoints),
    )
    with _ProgressBar() as bar:
        run = run_calibration(
            setup, args.out, workers=args.workers, scheduler=args.scheduler, progress=bar.update
        )
    counts = run.summary["replicates"]
    for name, count in counts.items():
        print(
            f"{name}: {count['done']} done, {count['failed']} failed, {count['not run']} not run "
            f"(of {count['asked']}; {run.computed} run now)"
        )
    for sentence in run.summary["verdicts"] + run.summary["sbc_verdicts"]:
        print(sentence)
    print(f"wrote {run.folder}/coverage.csv and summary.json")
    return 0 if all(c["not run"] == 0 for c in counts.values()) else 1


class _ProgressBar:
    """Replicates done and failed with the estimated time left (rich; plain lines in a log)."""

    def __enter__(self):
        self.started = time.perf_counter()
        self.interactive = sys.stderr.isatty()
        self.progress = None
        self.task = None
        return self

    def update(self, done: int, failed: int, total: int) -> None:
        if not self.interactive:
            if done == total or done % 10 == 0:
                left = (time.perf_counter() - self.started) / done * (total - done)
                print(
                    f"{done}/{total} replicates ({failed} failed), about {left / 60:.0f} min left",
                    file=sys.stderr,
                    flush=True,
                )
            return
        if self.progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("replicates"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
            )
            self.progress.start()
            self.task = self.progress.add_task("calibrate", total=total, failed=0)
        self.progress.update(self.task, completed=done, failed=failed)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False
