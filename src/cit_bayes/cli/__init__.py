"""The ``cit-bayes`` command line: a thin face over the Python API.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed arguments and returning an
exit code). This module only dispatches and turns named errors into exit codes:

* 0: success (an audit with findings is still a success);
* 2: bad input (a named :class:`~cit_bayes.exceptions.CitBayesError`), printed without a traceback;
* 1: a step ran but failed (for example a reconstruction that misses a published target).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cit_bayes import __version__
from cit_bayes.exceptions import CitBayesError, CohortError

__all__ = ["main", "build_parser"]

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "audit",
    "weights",
    "validate",
    "simulate",
    "reconstruct",
    "reanalyse",
    "fit",
    "run",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
MAX_PROBLEMS_SHOWN = 50


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="cit-bayes",
        description=(
            "Bayesian and causal reanalysis of multi-arm studies of chemotherapy-induced "
            "thrombocytopenia."
        ),
    )
    parser.add_argument("--version", action="version", version=f"cit-bayes {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"cit_bayes.cli.{name}").register(subparsers)
    return parser


def report_error(error: CitBayesError) -> None:
    """Print a named error for a person: the message, then each problem on its own line."""
    print(f"error: {error}", file=sys.stderr)
    if isinstance(error, CohortError) and error.problems:
        shown = error.problems[:MAX_PROBLEMS_SHOWN]
        for problem in shown:
            print(f"  - {problem}", file=sys.stderr)
        hidden = len(error.problems) - len(shown)
        if hidden > 0:
            print(f"  ... and {hidden} more", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (also used by the console script)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or EXIT_OK)
    except CitBayesError as error:
        report_error(error)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
