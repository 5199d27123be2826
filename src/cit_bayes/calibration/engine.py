"""Running a calibration's replicates: in this process, or on Dask workers.

:func:`run_calibration` opens (or re-opens) the output folder, runs the replicates that have no
record yet, stores each record as it arrives, and writes the summary. The replicates run

* in this process (``workers=0``): one after the other, on this process's compiled models;
* on a local Dask cluster (default, ``workers`` processes, one thread each, sized to the
  machine's cores when not given);
* on an existing Dask cluster (``scheduler="tcp://host:port"``; a university's or hospital's,
  for example started with dask-jobqueue; start its workers with ``--nthreads 1``).

Only the setup (scattered to every worker once), the scenario names and the replicate numbers
travel to the workers, and only the records come back; the workers write nothing but their
compile caches. Each worker process compiles a model structure once and swaps the data of later
replicates into it; it runs one replicate at a time (:mod:`cit_bayes.calibration.replicate`)
in its own compile directory (:mod:`cit_bayes.calibration.workers`). A replicate's numbers
depend only on the setup and its number, so the coverage is the same whatever the number of
workers. A task lost with its worker is not recorded and runs again when the calibration is
resumed.

Why Dask: a maintained scheduler that runs unchanged from a laptop to an HPC cluster
(dask-jobqueue), with worker plugins for the per-worker setup and futures that stream results
back as they finish.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cit_bayes import __version__
from cit_bayes.calibration.sbc import (
    SBC_PREFIX,
    band_prob,
    pit_matrix,
    sbc_bands,
    sbc_table,
    sbc_verdicts,
)
from cit_bayes.calibration.setup import CalibrationSetup
from cit_bayes.calibration.store import CalibrationStore
from cit_bayes.calibration.summary import coverage_table, fit_counts, replicate_counts, verdicts
from cit_bayes.calibration.workers import default_workers
from cit_bayes.exceptions import PlanError

__all__ = [
    "CalibrationRun",
    "default_workers",
    "run_calibration",
    "summarise",
]


@dataclass(frozen=True)
class CalibrationRun:
    """What :func:`run_calibration` did and found (plain data).

    Attributes
    ----------
    folder : pathlib.Path
    computed : int
        Replicates run by this call (the others were stored before).
    coverage : pandas.DataFrame
        :func:`cit_bayes.calibration.summary.coverage_table` of every stored replicate.
    summary : dict
        What ``summary.json`` holds.

    Examples
    --------
    Resuming a folder that holds a record of every replicate runs nothing (here one failed
    replicate, written by hand; a real one fits every analysis of a simulated cohort):

    >>> import tempfile
    >>> from cit_bayes.calibration.engine import run_calibration
    >>> from cit_bayes.plan import load_plan
    >>> setup = CalibrationSetup(load_plan(), scenarios=("null",), replicates=1, seed=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     CalibrationStore.open(folder, setup).write({"scenario": "null", "index": 0,
    ...         "status": "failed", "error": "ModelError: x", "seconds": 2.0})
    ...     run = run_calibration(setup, folder)
    >>> run.computed, len(run.coverage), run.summary["replicates"]["null"]["failed"]
    (0, 0, 1)
    """

    folder: Path
    computed: int
    coverage: pd.DataFrame
    summary: dict


def run_calibration(
    setup: CalibrationSetup,
    out,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    compile_root: str | None = None,
) -> CalibrationRun:
    """Run (or resume) a calibration into the folder ``out`` and summarise it.

    Parameters
    ----------
    setup : CalibrationSetup
    out : path
        The output folder (created; re-opened when it holds the same setup).
    workers : int, optional
        Local cluster size (default: :func:`default_workers`); 0 runs in this process.
    scheduler : str, optional
        Address of an existing Dask scheduler (``workers`` is then ignored).
    progress : callable, optional
        Called as ``progress(done, failed, total)`` after each replicate of this call.
    compile_root : str, optional
        Parent of the workers' compile directories (default: the user's PyTensor cache).

    Examples
    --------
    A folder holding another setup's replicates is refused before anything runs:

    >>> import tempfile
    >>> from cit_bayes.plan import load_plan
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     one = CalibrationSetup(load_plan(), scenarios=("null",), replicates=1, seed=1)
    ...     _ = CalibrationStore.open(folder, one)
    ...     run_calibration(CalibrationSetup(load_plan(), scenarios=("null",), seed=2), folder)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: ... holds a calibration of another setup (differs in: seed); name a new --out folder
    """
    store = CalibrationStore.open(out, setup)
    pending = store.pending(setup)
    report = progress or (lambda done, failed, total: None)
    if workers is not None and workers < 0:
        raise PlanError(f"calibrate: workers must be >= 0, got {workers}")
    if pending and scheduler is None and workers == 0:
        computed = _in_process(setup, store, pending, report)
    elif pending:
        computed = _on_dask(setup, store, pending, report, workers, scheduler, compile_root)
    else:
        computed = 0
    coverage, summary = summarise(setup, store)
    return CalibrationRun(store.folder, computed, coverage, summary)


def _in_process(setup, store, pending, report) -> int:
    from cit_bayes.calibration.replicate import run_replicate

    failed = 0
    for done, (scenario, index) in enumerate(pending, 1):
        record = run_replicate(setup, scenario, index)
        store.write(record)
        failed += record["status"] == "failed"
        report(done, failed, len(pending))
    return len(pending)


def _on_dask(setup, store, pending, report, workers, scheduler, compile_root) -> int:
    from distributed import as_completed

    from cit_bayes.calibration.replicate import run_replicate
    from cit_bayes.calibration.workers import dask_client

    done = failed = 0
    with dask_client(workers, scheduler, compile_root) as client:
        shared = client.scatter(setup, broadcast=True)
        futures = [
            client.submit(run_replicate, shared, scenario, index, pure=False)
            for scenario, index in pending
        ]
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception:  # the worker was lost: not a result; a resume runs it again
                continue
            finally:
                future.release()
            store.write(record)
            done += 1
            failed += record["status"] == "failed"
            report(done, failed, len(pending))
    return done


def summarise(setup: CalibrationSetup, store: CalibrationStore):
    """Coverage table and summary of every stored replicate; writes ``coverage.csv`` and
    ``summary.json`` into the folder.

    Examples
    --------
    A calibration with no replicate run yet (each one fits every analysis of a simulated
    cohort): an empty table, and a summary that counts both replicates as not run.

    >>> import os
    >>> import tempfile
    >>> from cit_bayes.calibration.engine import summarise
    >>> from cit_bayes.plan import load_plan
    >>> setup = CalibrationSetup(load_plan(), scenarios=("null",), replicates=2, seed=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     coverage, summary = summarise(setup, CalibrationStore.open(folder, setup))
    ...     written = sorted(os.listdir(folder))
    >>> coverage.empty, summary["replicates"]["null"]["not run"], summary["verdicts"]
    (True, 2, [])
    >>> written
    ['calibration.json', 'coverage.csv', 'summary.json']
    """
    records = store.records(setup)
    coverage = coverage_table(records, setup.levels)
    fits = fit_counts(records)
    groups = [g for g in setup.groups() if g.startswith(SBC_PREFIX)]
    bands = {}
    for group in groups:
        pits = pit_matrix(records, group)
        if not pits.empty:
            bands[group] = sbc_bands(pits, band_prob(pits.shape[1]), setup.seed, group)
    sbc = sbc_table(records, groups, setup.seed, bands)
    summary = {
        "what": (
            "coverage of the analyses' credible intervals over cohorts simulated with a known "
            "truth (the sample estimand of the plan's primary estimand: "
            f"{setup.plan.primary_estimand.upper()})"
        ),
        "run_on": {
            "cit_bayes": __version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cores": default_workers(),
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "setup": setup.fingerprint() | {"replicates": setup.replicates},
        "replicates": replicate_counts(records, setup),
        "seconds": {
            "replicate_mean": _mean([r["seconds"] for r in records]),
            "replicate_total": round(sum(r["seconds"] for r in records), 1),
        },
        "verdicts": verdicts(coverage, 0.95) if 0.95 in setup.levels else [],
        "sbc_verdicts": sbc_verdicts(sbc),
        "fits": fits.to_dict("records"),
        "coverage": coverage.to_dict("records"),
        "sbc": sbc.to_dict("records"),
        "synthetic": (
            "every number here comes from simulated cohorts (models/scenarios) and, for SBC, "
            "from data drawn from the models' own priors: they describe the analyses' "
            "behaviour, not any patient"
        ),
    }
    coverage.to_csv(store.folder / "coverage.csv", index=False)
    if not sbc.empty:
        sbc.to_csv(store.folder / "sbc.csv", index=False)
        _sbc_figures(sbc, bands, store.folder / "figures")
    store.write_json("summary.json", summary)
    return coverage, summary


def _sbc_figures(table, bands, folder) -> None:
    from cit_bayes.report.calibration_figures import sbc_figure
    from cit_bayes.report.figure_files import save_figure

    for model, group in table.groupby("model", sort=False):
        figure = sbc_figure(
            bands[f"{SBC_PREFIX}{model}"],
            int(group["replicates"].min()),
            float(group["band_prob"].iloc[0]),
            f"Simulation-based calibration of the {model} model (synthetic data from its prior)",
        )
        save_figure(figure, folder / f"sbc_{model}.png")


def _mean(values) -> float | None:
    return round(sum(values) / len(values), 3) if values else None
