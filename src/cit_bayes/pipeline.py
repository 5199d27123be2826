"""The whole reanalysis in one call: validate, weight, fit, compare, audit, published, report.

:func:`run_pipeline` is what ``cit-bayes run`` (and ``make run``) executes. Every step reports to
an optional :class:`Steps` observer (the CLI's progress display); every file is written into a
staging folder beside the output folder and moved into place only when the whole run succeeded
(:func:`cit_bayes.output.staged_folder`), so a failure leaves no half-written report behind and an
earlier report untouched.

The paper-level steps (the audit of the published statistics and the Bayesian reanalysis of the
published tables) run when the cohort is the bundled reconstructed one, which stands for the
paper's cohort; a user's own cohort is not the paper's, and they are skipped.

Layout of the output folder: ``report.html``, ``methods_supplement.md`` and ``.tex``,
``results.json`` (shared layout), ``idata/`` (fits as netCDF), ``tables/`` (CSV, including
``report_numbers.csv``: every number the reports print and its key), ``figures/`` (PNG 300 dpi
and SVG), and on the bundled data ``published/`` and ``audit/`` (see ``reports/README.md``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cit_bayes._paths import data_dir
from cit_bayes.exceptions import ConvergenceWarning

__all__ = ["BUNDLED_COHORT", "PipelineResult", "Steps", "STEPS", "run_pipeline"]

#: The bundled (reconstructed, synthetic) cohort, relative to the data folder.
BUNDLED_COHORT = Path("reconstructed") / "cohort.csv"
#: The steps of a run, in order, with what each does.
STEPS: tuple[tuple[str, str], ...] = (
    ("validate", "read and validate the cohort"),
    ("weight", "weights and balance for each estimand"),
    ("fit", "Bayesian models under each analysis"),
    ("compare", "posterior comparisons and frequentist cross-checks"),
    ("audit", "audit of the paper's reported statistics"),
    ("published", "Bayesian reanalysis of the published tables"),
    ("report", "report.html, methods supplement, figures, tables"),
)


class Steps(Protocol):
    """What observes a run (``cit_bayes.cli.progress.StepPrinter`` fits)."""

    def start(self, step: str, description: str) -> None: ...

    def done(self, step: str, seconds: float, summary: str) -> None: ...

    def skipped(self, step: str, reason: str) -> None: ...


class _Silent:
    def start(self, step, description):
        pass

    def done(self, step, seconds, summary):
        pass

    def skipped(self, step, reason):
        pass


@dataclass(frozen=True)
class PipelineResult:
    """What a run wrote and how it went."""

    out_dir: Path
    passed: bool
    failed_fits: tuple[str, ...]
    synthetic: bool
    bundled: bool
    step_seconds: dict[str, float] = field(default_factory=dict)
    files: dict[str, object] = field(default_factory=dict)


def is_bundled(data: str | Path | None) -> bool:
    """Whether ``data`` is the bundled reconstructed cohort (``None`` means it)."""
    if data is None:
        return True
    return Path(data).resolve() == (data_dir() / BUNDLED_COHORT).resolve()


def run_pipeline(
    *,
    data: str | Path | None = None,
    plan=None,
    out_dir: str | Path = "reports/latest",
    seed: int | None = None,
    columns=None,
    missing: str = "error",
    response_rule: str = "any",
    steps: Steps | None = None,
    sampler_progress: bool = False,
    command: str = "",
    published_sampler: str | None = None,
) -> PipelineResult:
    """Run every step and write the report folder.

    Parameters
    ----------
    data : path, optional
        The cohort file; default the bundled reconstructed (synthetic) cohort.
    plan : AnalysisPlan, optional
        Default ``models/default.toml``.
    out_dir : path
        The report folder (replaced as a whole when the run succeeds).
    seed : int, optional
        Master seed of every step (default: each plan's own: the analysis plan's for the
        patient-level fits, the published reanalysis plan's and the audit's default on the
        bundled data).
    columns, missing, response_rule
        How to read the cohort (:func:`cit_bayes.cohort.read_cohort`).
    steps : Steps, optional
        Progress observer.
    sampler_progress : bool
        Show the samplers' progress bars (in a terminal).
    command : str
        The command line, recorded in the reproducibility section.
    published_sampler : str, optional
        Sampler of the published reanalysis (default: its plan's).

    Returns
    -------
    PipelineResult

    Raises
    ------
    CitBayesError
        On bad input (the cohort fails validation, a malformed plan): nothing is written.
    """
    from cit_bayes.analyses.patient import (
        compare_arms,
        fit_models,
        weight_cohort,
        write_fit_outputs,
    )
    from cit_bayes.bayes.sampling import progress_bars
    from cit_bayes.cohort import read_cohort
    from cit_bayes.output import staged_folder
    from cit_bayes.plan import load_plan
    from cit_bayes.run_record import fit_times, write_run_record

    observer = steps or _Silent()
    seconds: dict[str, float] = {}
    bundled = is_bundled(data)
    path = data_dir() / BUNDLED_COHORT if data is None else Path(data)
    plan = load_plan() if plan is None else plan

    def step(name: str, work: Callable[[], object], summary: Callable[[object], str]):
        observer.start(name, dict(STEPS)[name])
        start = time.perf_counter()
        value = work()
        seconds[name] = time.perf_counter() - start
        observer.done(name, seconds[name], summary(value))
        return value

    with (
        staged_folder(out_dir) as staging,
        _paper_steps(bundled, staging, published_sampler, seed) as paper,
    ):
        cohort = step(
            "validate",
            lambda: read_cohort(path, columns, missing=missing, response_rule=response_rule),
            lambda c: (
                f"{c.n} patients in {len(c.arms)} arms" + (" (synthetic)" if c.synthetic else "")
            ),
        )
        weighting = step(
            "weight",
            lambda: weight_cohort(cohort, plan),
            lambda w: "; ".join(
                f"{name}: max |SMD| {item.max_smd_unweighted:.2f} -> {item.max_smd_weighted:.2f}"
                for name, item in w.items()
            ),
        )
        with warnings.catch_warnings(record=True) as caught, progress_bars(sampler_progress):
            warnings.simplefilter("always", ConvergenceWarning)
            fits, fit_seconds = step(
                "fit",
                lambda: fit_models(cohort, plan, weighting, seed=seed),
                lambda f: (
                    f"{len(f[0])} fits, "
                    + (
                        "all passed the gates"
                        if all(x.passed for x in f[0].values())
                        else f"FAILED: {', '.join(n for n, x in f[0].items() if not x.passed)}"
                    )
                ),
            )
        _reissue(caught)
        analysis = step(
            "compare",
            lambda: compare_arms(cohort, plan, weighting, fits, seed=seed, timings=fit_seconds),
            lambda a: f"{len(a.tables)} tables",
        )
        files: dict[str, object] = {"fit": write_fit_outputs(analysis, staging)}
        audit_records = published = None
        if paper is not None:
            start = time.perf_counter()
            audit_records, published, paper_seconds = paper.result()
            seconds["paper_wait"] = time.perf_counter() - start
            for name, summary in (
                ("audit", f"{len(audit_records)} records"),
                (
                    "published",
                    "all fits passed" if _all_passed(published) else "some fits FAILED",
                ),
            ):
                observer.start(name, dict(STEPS)[name])
                seconds[name] = paper_seconds[name]
                observer.done(name, seconds[name], summary + " (in a second process, alongside)")
        else:
            for name in ("audit", "published"):
                observer.skipped(name, "the cohort is not the bundled one (the paper's)")
        from cit_bayes.report.patient_report import write_report

        files["report"] = step(
            "report",
            lambda: write_report(
                staging,
                analysis,
                published=published,
                audit=audit_records,
                command=command,
            ),
            lambda written: f"{len(written)} files",
        )
        files["run"] = write_run_record(
            staging,
            command=command,
            seed=analysis.results["meta"]["seed"],
            step_seconds=seconds,
            fits=fit_times(analysis.fits),
        )
    failed = tuple(analysis.failed_fits)
    if published is not None:
        failed += tuple(
            f"published:{name}" for name, d in published["diagnostics"].items() if not d["passed"]
        )
    return PipelineResult(
        out_dir=Path(out_dir),
        passed=not failed,
        failed_fits=failed,
        synthetic=bool(cohort.synthetic),
        bundled=bundled,
        step_seconds=seconds,
        files=files,
    )


def _all_passed(document: dict) -> bool:
    return all(entry["passed"] for entry in document["diagnostics"].values())


@contextlib.contextmanager
def _paper_steps(bundled: bool, staging: Path, sampler: str | None, seed: int | None):
    """Run the audit and the published reanalysis in a second process, alongside the fits.

    Half of the patient-level fitting is model compilation, which uses one core: running the
    paper-level steps beside it uses the other (measured by ``benchmarks/bench_run.py``). The
    child writes into the same staging folder; its errors surface when its result is read.
    ``seed`` (``run --seed``) is the master seed of the audit and the published reanalysis
    too; ``None`` leaves each its own plan's.
    """
    if not bundled:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_paper_work, str(staging), sampler, seed)
        try:
            yield future
        except BaseException:
            future.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()  # do not wait a minute for work that will be thrown away
            raise


def _paper_work(staging: str, sampler: str | None, seed: int | None) -> tuple[list, dict, dict]:
    """The audit and the published reanalysis (run in a child process)."""
    folder = Path(staging)
    start = time.perf_counter()
    records = _audit(folder / "audit", seed)
    middle = time.perf_counter()
    published = _published(folder / "published", sampler, seed)
    end = time.perf_counter()
    return records, published, {"audit": middle - start, "published": end - middle}


def _reissue(caught) -> None:
    """ConvergenceWarnings are shown in the report; re-issue any other warning."""
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _audit(folder: Path, seed: int | None) -> list:
    from cit_bayes.paper.audit import DEFAULT_SEED, run_audit, write_audit
    from cit_bayes.paper.tables import load_tables

    seed = DEFAULT_SEED if seed is None else seed
    records = run_audit(load_tables(), seed=seed)
    write_audit(records, folder, metadata={"seed": seed})
    import json

    return json.loads((folder / "audit.json").read_text(encoding="utf-8"))


def _published(folder: Path, sampler: str | None, seed: int | None) -> dict:
    from cit_bayes.analyses.published import run_published_reanalysis, write_published_reanalysis
    from cit_bayes.analyses.results import read_results

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = run_published_reanalysis(sampler=sampler, seed=seed)
    _reissue(caught)
    written = write_published_reanalysis(result, folder)
    return read_results(written["results"])
