"""Progress in a log (issue 20, item 6): one line per fit started and ended with its time and
gate result, and a heartbeat while a step runs; nothing extra in a terminal."""

from __future__ import annotations

import io
import time

import pymc as pm
import pytest

from cit_bayes.bayes.sampling import SamplerSettings, fit_events, sample
from cit_bayes.cli.progress import StepPrinter


def test_a_log_hears_a_heartbeat_while_a_step_runs_and_none_after():
    stream = io.StringIO()
    printer = StepPrinter(total=1, stream=stream, interactive=False, heartbeat_s=0.05)
    printer.start("fit", "models")
    time.sleep(0.4)
    printer.done("fit", 0.4, "done")
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("  - fit: still running") for line in lines)
    assert lines[-1].startswith("[1/1] fit: done")
    time.sleep(0.2)
    assert stream.getvalue().splitlines() == lines  # the heartbeat stopped with the step


def test_a_terminal_gets_no_fit_lines_and_no_heartbeat():
    stream = io.StringIO()
    printer = StepPrinter(total=1, stream=stream, interactive=True, heartbeat_s=0.05)
    printer.start("fit", "models")
    printer.fit_event("start", "response/adjusted")
    time.sleep(0.2)
    printer.done("fit", 0.2, "done")
    assert stream.getvalue().splitlines() == [
        "[1/1] fit: models ...",
        "\u2713 [1/1] fit: done (0.2 s)",
    ]


@pytest.mark.filterwarnings("ignore::cit_bayes.exceptions.ConvergenceWarning")  # short chains
def test_sample_tells_the_observer_of_each_fit():
    with pm.Model() as model:
        pm.Normal("mu", 0.0, 1.0)
    stream = io.StringIO()
    printer = StepPrinter(total=1, stream=stream, interactive=False, heartbeat_s=0)
    settings = SamplerSettings(chains=2, draws=300, tune=300)
    with fit_events(printer.fit_event):
        fit = sample(model, seed=1, settings=settings, name="toy/normal")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  - fit toy/normal: started"
    verdict = "met the gates" if fit.passed else "MISSED a gate"
    assert lines[1].startswith(f"  - fit toy/normal: {verdict} (")
    sample(model, seed=1, settings=settings, name="toy/outside")  # no observer: nothing
    assert stream.getvalue().splitlines() == lines


def test_a_step_that_raised_leaves_no_heartbeat_behind():
    stream = io.StringIO()
    printer = StepPrinter(total=1, stream=stream, interactive=False, heartbeat_s=0.05)
    printer.start("validate", "the cohort")  # the step raises: done() never comes
    printer.stop()
    time.sleep(0.2)
    assert stream.getvalue() == ""
    closed = io.StringIO()
    printer = StepPrinter(total=1, stream=closed, interactive=False, heartbeat_s=0.05)
    printer.start("fit", "models")
    closed.close()  # a captured stream closed under the thread: it ends quietly
    time.sleep(0.2)
    assert not printer._beat[0].is_alive()
    printer.stop()
