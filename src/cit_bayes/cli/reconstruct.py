"""``cit-bayes reconstruct``: synthetic pseudo-cohorts consistent with every published table.

Writes the cohort(s), ``fidelity.csv`` (every published target, the reconstructed value, the
tolerance, pass/fail) and ``fidelity.txt`` (the same as text, headed by a statement that the
cohort is synthetic) into the folder of ``--out``, prints the report, and exits 1 when any
target is missed (0 otherwise; 2 on a bad plan). The default output is
``reports/reconstructed/cohort.csv``, so the shipped ``data/reconstructed/cohort.csv`` is only
replaced when asked for with ``--out data/reconstructed/cohort.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cit_bayes.exceptions import ReconstructionError
from cit_bayes.reconstruct.cohorts import (
    DEFAULT_SEED,
    reconstruct_cohorts,
    write_reconstruction,
)

__all__ = ["DEFAULT_OUT", "register", "run"]

#: Default cohort file (relative to the working directory); the shipped cohort lives elsewhere.
DEFAULT_OUT = Path("reports") / "reconstructed" / "cohort.csv"

EXIT_OK = 0
EXIT_FAILED = 1


def _count(text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from error
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def _seed(text: str) -> int:
    return _count(text, minimum=0)


def _draws(text: str) -> int:
    return _count(text, minimum=1)


def _csv_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() != ".csv":
        raise argparse.ArgumentTypeError(f"the cohort file must end in .csv, got {path.name!r}")
    return path


def register(subparsers) -> None:
    """Add the ``reconstruct`` sub-command.

    Examples
    --------
    >>> import argparse
    >>> from cit_bayes.cli.reconstruct import register
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["reconstruct", "--draws", "3"])
    >>> args.draws, args.seed, args.out.as_posix()
    (3, 20250101, 'reports/reconstructed/cohort.csv')
    """
    parser = subparsers.add_parser(
        "reconstruct",
        help="build synthetic pseudo-cohorts that reproduce the paper's published tables",
        description=(
            "Reconstruct synthetic pseudo-cohorts (187 patients, marked synthetic) whose per-arm "
            "summaries reproduce Tables 1, 2, 4, 6, 8 and 9 of the paper, and report the "
            "fidelity of each. Exit 1 if any published target is missed."
        ),
    )
    parser.add_argument(
        "--seed", type=_seed, default=DEFAULT_SEED, help=f"base seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--draws",
        type=_draws,
        default=1,
        metavar="M",
        help="number of cohorts, from seeds spawned from the base seed (default 1)",
    )
    parser.add_argument(
        "--out",
        type=_csv_path,
        default=DEFAULT_OUT,
        help=(
            f"cohort file (.csv; default {DEFAULT_OUT}); with M > 1 draws, <stem>_drawNNN.csv. "
            "Use data/reconstructed/cohort.csv to refresh the shipped cohort"
        ),
    )
    parser.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="reconstruction plan (TOML; default models/reconstruction.toml)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Reconstruct, write, print the fidelity report; return the exit code.

    Examples
    --------
    A plan that cannot be read stops the command before anything is written:

    >>> import argparse
    >>> from cit_bayes.cli.reconstruct import register, run
    >>> parser = argparse.ArgumentParser(prog="cit-bayes")
    >>> register(parser.add_subparsers())
    >>> run(parser.parse_args(["reconstruct", "--plan", "missing.toml"]))
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: reconstruction plan not found: missing.toml
    """
    try:
        results = reconstruct_cohorts(args.seed, args.draws, plan=args.plan)
    except ReconstructionError as error:  # the step ran but could not meet the targets
        print(f"reconstruction failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    written = write_reconstruction(results, args.out)
    if len(results) == 1:
        print(results[0].fidelity_text())
    else:
        print(results[0].header().replace(", draw 1", f", draws 1-{len(results)}"))
        for result in results:
            gates = result.fidelity[result.fidelity["gate"]]
            failed = gates[~gates["passed"]]
            print(
                f"draw {result.draw}: {len(gates) - len(failed)}/{len(gates)} targets met "
                f"({result.seconds:.1f} s)"
                + ("" if failed.empty else "; missed: " + ", ".join(failed["check"]))
            )
    print()
    for key, path in written.items():
        if key in ("fidelity", "fidelity_text") or (len(results) > 1 and key.startswith("draw")):
            print(f"wrote {path}")
    if len(results) == 1:
        print(f"wrote {written['cohorts']}")
    failed_draws = [r.draw for r in results if not r.passed]
    if failed_draws:
        print(f"FAILED: draw(s) {failed_draws} miss at least one published target", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
