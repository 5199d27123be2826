"""Progress display for long commands: live in a terminal, one line a step in a log.

In a terminal each step shows a start line, the samplers draw their own progress bars below it
(:func:`cit_bayes.bayes.sampling.progress_bars`), and the step ends with a tick, its time and a
short summary. When the output is not a terminal (CI logs, files) every step prints one line
when it ends, every fit one line when it starts and one when it ends (its time and whether it
met the gates: :meth:`StepPrinter.fit_event`, through
:func:`cit_bayes.bayes.sampling.fit_events`), and a step still running says so every
``heartbeat_s`` seconds (30), with no control characters, so a log is never silent for long.
"""

from __future__ import annotations

import sys
import threading
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

    In a log, each fit's start and end:

    >>> printer = StepPrinter(total=1, stream=sys.stdout, interactive=False)
    >>> printer.fit_event("start", "response/adjusted")
      - fit response/adjusted: started
    >>> printer.fit_event("done", "response/adjusted", seconds=12.04, passed=True)
      - fit response/adjusted: met the gates (12.0 s)
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        heartbeat_s: float = 30.0,
    ):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        if interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interactive = interactive
        self.heartbeat_s = float(heartbeat_s)
        self.index = 0
        self._started = 0.0
        self._beat: tuple[threading.Thread, threading.Event] | None = None
        self._lock = threading.Lock()

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self.stream)
            self.stream.flush()

    def _heartbeat(self, step: str, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            elapsed = time.perf_counter() - self._started
            try:
                self._print(f"  - {step}: still running ({elapsed:.0f} s)")
            except (ValueError, OSError):  # the stream was closed under us: stop quietly
                return

    def stop(self) -> None:
        """Stop the heartbeat (a step that raised never reaches :meth:`done`): the command
        calls it when the run ends, however it ends."""
        self._stop_heartbeat()

    def _stop_heartbeat(self) -> None:
        if self._beat is not None:
            thread, stop = self._beat
            stop.set()
            thread.join()
            self._beat = None

    def fit_event(self, event: str, name: str, **info) -> None:
        """A fit started (``event`` ``"start"``) or ended (``"done"``, with ``seconds`` and
        ``passed``): one line each in a log; nothing in a terminal, where the bars show it."""
        if self.interactive:
            return
        if event == "start":
            self._print(f"  - fit {name}: started")
        else:
            verdict = "met the gates" if info.get("passed") else "MISSED a gate"
            self._print(f"  - fit {name}: {verdict} ({info.get('seconds', 0.0):.1f} s)")

    def start(self, step: str, description: str) -> None:
        """A step begins."""
        self.index += 1
        self._started = time.perf_counter()
        if self.interactive:
            self._print(f"[{self.index}/{self.total}] {step}: {description} ...")
        elif self.heartbeat_s > 0:
            self._stop_heartbeat()
            stop = threading.Event()
            thread = threading.Thread(target=self._heartbeat, args=(step, stop), daemon=True)
            thread.start()
            self._beat = (thread, stop)

    def done(self, step: str, seconds: float, summary: str) -> None:
        """A step ended (``summary``: one short line)."""
        self._stop_heartbeat()
        mark = "\u2713 " if self.interactive else ""
        self._print(f"{mark}[{self.index}/{self.total}] {step}: {summary} ({seconds:.1f} s)")

    def skipped(self, step: str, reason: str) -> None:
        """A step does not apply to this run."""
        self.index += 1
        self._print(f"[{self.index}/{self.total}] {step}: skipped ({reason})")
