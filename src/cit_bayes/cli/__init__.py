"""The ``cit-bayes`` command line: a thin face over the Python API.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed arguments and returning an
exit code). This module only dispatches and turns named errors into exit codes:

* 0: success (an audit with findings is still a success);
* 2: bad input (a named :class:`~cit_bayes.exceptions.CitBayesError`), printed without a traceback;
* 1: a step ran but failed (for example a reconstruction that misses a published target);
* 130: interrupted (Ctrl-C); 143: terminated (SIGTERM, as a job scheduler or ``kill`` stops a
  job). Both unwind the command like an error: a run's staging folder is removed and its
  child process (the paper-level steps, :mod:`cit_bayes.paper_steps`) stopped, so nothing is
  left running or half-written.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from cit_bayes import __version__
from cit_bayes.cohort.problems import group_by_column, write_problems
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
    "calibrate",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
#: Columns whose problems are printed; problems printed in full per column; rows listed.
MAX_GROUPS_SHOWN = 20
PER_GROUP_SHOWN = 2
ROWS_LISTED = 12
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread: a BaseException, so that no ``except Exception``
    swallows it, and every ``finally`` and context manager on the way out runs."""


@contextlib.contextmanager
def _termination_unwinds():
    """Turn SIGTERM into :class:`_Terminated` while a command runs (Python's default dies at
    once, skipping the clean-up), and restore the previous handler afterwards. Only the main
    thread may install a handler; elsewhere (a notebook's worker thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered.

    Examples
    --------
    >>> from cit_bayes.cli import build_parser
    >>> parser = build_parser()
    >>> args = parser.parse_args(["simulate", "--n", "50", "--seed", "3", "--out", "sim.csv"])
    >>> args.command, args.n, args.func.__name__
    ('simulate', 50, 'run_simulate')
    >>> parser.parse_args(["validate", "cohort.csv"]).func.__name__
    'run_validate'
    """
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


def report_error(error: CitBayesError, problems_file: str | None = None) -> None:
    """Print a named error for a person: the message, then the problems grouped by column
    (a count, the first few in full, the rows of the others), and write every problem to
    ``problems_file`` when one is named (``--problems``)."""
    print(f"error: {error}", file=sys.stderr)
    if not isinstance(error, CohortError) or not error.problems:
        return
    groups = group_by_column(error.all_problems)
    for column, group in groups[:MAX_GROUPS_SHOWN]:
        if column is None:
            print(f"  - {group[0]}", file=sys.stderr)
            continue
        noun = "problem" if len(group) == 1 else "problems"
        print(f"  column {column!r}: {len(group)} {noun}", file=sys.stderr)
        for problem in group[:PER_GROUP_SHOWN]:
            print(f"    - {problem}", file=sys.stderr)
        rows = [str(p.row) for p in group[PER_GROUP_SHOWN:] if p.row is not None]
        if rows:
            listed = ", ".join(rows[:ROWS_LISTED])
            more = f" and {len(rows) - ROWS_LISTED} more" if len(rows) > ROWS_LISTED else ""
            print(f"    - also rows {listed}{more}", file=sys.stderr)
    if len(groups) > MAX_GROUPS_SHOWN:
        print(f"  ... and {len(groups) - MAX_GROUPS_SHOWN} more columns", file=sys.stderr)
    if problems_file:
        try:
            path = write_problems(error.all_problems, problems_file)
        except CohortError as failure:
            print(f"error: {failure}", file=sys.stderr)
        else:
            count = len(error.all_problems)
            print(f"wrote the {count} problems to {path.name}", file=sys.stderr)
    elif len(error.all_problems) > PER_GROUP_SHOWN:
        print("  (--problems FILE writes every problem to a new CSV file)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (also used by the console script).

    Examples
    --------
    A named error is printed on stderr without a traceback, and the exit code says bad input:

    >>> import contextlib, io
    >>> from cit_bayes.cli import main
    >>> with contextlib.redirect_stderr(io.StringIO()) as printed:
    ...     code = main(["validate", "no-such-file.csv"])
    >>> code, printed.getvalue().splitlines()[0].split(": ")[0]
    (2, 'error')
    >>> "no-such-file.csv cannot be read as a table" in printed.getvalue()
    True

    Without a sub-command it prints the help and also returns 2:

    >>> with contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     code = main([])
    >>> code, printed.getvalue().split()[:2]
    (2, ['usage:', 'cit-bayes'])
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        with _termination_unwinds():
            return int(args.func(args) or EXIT_OK)
    except CitBayesError as error:
        report_error(error, getattr(args, "problems", None))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
