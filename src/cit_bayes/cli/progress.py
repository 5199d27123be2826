"""Progress display for long commands: live in a terminal, one line a step in a log.

In a terminal each step shows a start line, the samplers draw their own progress bars below it
(:func:`cit_bayes.bayes.sampling.progress_bars`), and the step ends with a tick, its time and a
short summary. When the output is not a terminal (CI logs, files) every step prints exactly one
line when it ends, with no control characters.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["StepPrinter"]


class StepPrinter:
    """Print the steps of a run; the pipeline calls :meth:`start` and :meth:`done`.

    Parameters
    ----------
    total : int
        Number of steps announced (for the ``[k/n]`` counter).
    stream : file, optional
        Where to print (default ``sys.stderr``).
    interactive : bool, optional
        Terminal behaviour; default: whether ``stream`` is a TTY.

    Examples
    --------
    >>> import sys
    >>> from cit_bayes.cli.progress import StepPrinter
    >>> printer = StepPrinter(total=2, stream=sys.stdout, interactive=False)
    >>> printer.start("fit", "four models"); printer.done("fit", 3.0, "8 fits, all passed")
    [1/2] fit: 8 fits, all passed (3.0 s)
    >>> printer.skipped("audit", "no published tables")
    [2/2] audit: skipped (no published tables)
    """

    def __init__(self, total: int, stream: TextIO | None = None, interactive: bool | None = None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interactive = interactive
        self.index = 0
        self._started = 0.0

    def start(self, step: str, description: str) -> None:
        """A step begins."""
        self.index += 1
        self._started = time.perf_counter()
        if self.interactive:
            print(f"[{self.index}/{self.total}] {step}: {description} ...", file=self.stream)
            self.stream.flush()

    def done(self, step: str, seconds: float, summary: str) -> None:
        """A step ended (``summary``: one short line)."""
        mark = "\u2713 " if self.interactive else ""
        print(
            f"{mark}[{self.index}/{self.total}] {step}: {summary} ({seconds:.1f} s)",
            file=self.stream,
        )
        self.stream.flush()

    def skipped(self, step: str, reason: str) -> None:
        """A step does not apply to this run."""
        self.index += 1
        print(f"[{self.index}/{self.total}] {step}: skipped ({reason})", file=self.stream)
        self.stream.flush()
