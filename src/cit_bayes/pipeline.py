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

The calibration of the intervals (``cit-bayes calibrate``, ``docs/calibration.md``) that the
report shows is read before anything runs: the one shipped with the package
(``data/calibration/default/``) unless another folder is named (``calibration``); it becomes the
``calibration`` block of ``results.json``
(:func:`cit_bayes.calibration.report_block.calibration_block`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from cit_bayes._paths import data_dir
from cit_bayes.calibration.report_block import calibration_block, calibration_folder
from cit_bayes.exceptions import ConvergenceWarning, ModelError

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
    ("report", "report.html, methods supplement, figures; the fits' draws (idata/)"),
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
    """What a run wrote and how it went.

    Examples
    --------
    >>> result = PipelineResult(Path("reports/latest"), True, (), synthetic=True, bundled=True)
    >>> result.passed, result.failed_fits, result.step_seconds
    (True, (), {})
    """

    out_dir: Path
    passed: bool
    failed_fits: tuple[str, ...]
    synthetic: bool
    bundled: bool
    step_seconds: dict[str, float] = field(default_factory=dict)
    files: dict[str, object] = field(default_factory=dict)
    failed_checks: tuple[str, ...] = ()


def is_bundled(data: str | Path | None) -> bool:
    """Whether ``data`` is the bundled reconstructed cohort (``None`` means it)."""
    if data is None:
        return True
    return Path(data).resolve() == (data_dir() / BUNDLED_COHORT).resolve()


class _Timer:
    """Times each step and tells the observer when it starts and ends."""

    def __init__(self, observer: Steps):
        self.observer = observer
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, work: Callable[[], object], summary: Callable[[object], str]):
        self.observer.start(name, dict(STEPS)[name])
        start = time.perf_counter()
        value = work()
        self.seconds[name] = time.perf_counter() - start
        self.observer.done(name, self.seconds[name], summary(value))
        return value

    def imputation(self, cohort, plan, seed):
        """The imputations of a cohort read with ``missing="impute"`` (timed as ``impute``,
        reported within the weighting step), or None."""
        from cit_bayes.analyses.imputed import impute_for_plan

        start = time.perf_counter()
        imputation = impute_for_plan(cohort, plan, seed)
        if imputation is not None:
            self.seconds["impute"] = time.perf_counter() - start
        return imputation

    def record(self, staging: Path, command: str, analysis) -> Path:
        """Write ``run.json``: when and how long, kept out of the results (``run_record``)."""
        from cit_bayes.run_record import fit_times, write_run_record

        return write_run_record(
            staging,
            command=command,
            seed=analysis.results["meta"]["seed"],
            step_seconds=self.seconds,
            fits=fit_times(analysis.fits),
        )

    def paper(self, paper) -> tuple[list | None, dict | None]:
        """Wait for the paper-level steps of the second process (or say why there are none)."""
        if paper is None:
            for name in ("audit", "published"):
                self.observer.skipped(name, "the cohort is not the bundled one (the paper's)")
            return None, None
        start = time.perf_counter()
        records, published, paper_seconds = paper.result()
        self.seconds["paper_wait"] = time.perf_counter() - start
        passed = "all fits passed" if _all_passed(published) else "some fits FAILED"
        for name, summary in (("audit", f"{len(records)} records"), ("published", passed)):
            self.observer.start(name, dict(STEPS)[name])
            self.seconds[name] = paper_seconds[name]
            self.observer.done(
                name, self.seconds[name], summary + " (in a second process, alongside)"
            )
        return records, published


def _cohort_summary(cohort) -> str:
    return f"{cohort.n} patients in {len(cohort.arms)} arms" + (
        " (synthetic)" if cohort.synthetic else ""
    )


def _weighting_summary(weighting) -> str:
    """The largest |SMD| before and after weighting, over every column and over the columns
    the weights can balance (rare levels left to the outcome models are in the first only).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> item = SimpleNamespace(max_smd_unweighted=0.58, max_smd_weighted=0.45,
    ...                        max_smd_balanceable=1e-13)
    >>> _weighting_summary({"adjusted": item})
    'adjusted: max |SMD| 0.58 -> 0.45 (0.00 over the balanceable columns)'
    """
    return "; ".join(
        f"{name}: max |SMD| {item.max_smd_unweighted:.2f} -> {item.max_smd_weighted:.2f} "
        f"({item.max_smd_balanceable:.2f} over the balanceable columns)"
        for name, item in weighting.items()
    )


def _fit_summary(result) -> str:
    fits = result[0]
    failed = [name for name, fit in fits.items() if not fit.passed]
    return f"{len(fits)} fits, " + (
        f"FAILED: {', '.join(failed)}" if failed else "all passed the gates"
    )


def _report_summary(written: dict) -> str:
    pdf = "with methods_supplement.pdf" if "supplement_pdf" in written else "no PDF"
    return f"{len(written)} files, {pdf}"


def _failed_fits(analysis, published: dict | None) -> tuple[str, ...]:
    failed = tuple(analysis.failed_fits)
    if published is not None:
        failed += tuple(
            f"published:{name}" for name, d in published["diagnostics"].items() if not d["passed"]
        )
    return failed


def run_pipeline(
    *,
    data: str | Path | None = None,
    plan=None,
    out_dir: str | Path = "reports/latest",
    seed: int | None = None,
    columns=None,
    labs: str | Path | None = None,
    missing: str = "error",
    response_rule: str = "any",
    steps: Steps | None = None,
    sampler_progress: bool = False,
    command: str = "",
    published_sampler: str | None = None,
    calibration: str | Path | bool | None = None,
    reconstructions: int | None = None,
    reconstruction_uncertainty: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    pdf: bool = True,
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
    columns, labs, missing, response_rule
        How to read the cohort (:func:`cit_bayes.cohort.read_cohort`; ``labs``: laboratory
        results in long format, :mod:`cit_bayes.cohort.labs`).
    steps : Steps, optional
        Progress observer.
    sampler_progress : bool
        Show the samplers' progress bars (in a terminal).
    command : str
        The command line, recorded in the reproducibility section.
    published_sampler : str, optional
        Sampler of the published reanalysis (default: its plan's).
    calibration : path or False, optional
        A ``cit-bayes calibrate`` output folder, shown in the report and recorded in
        ``results.json``; default the shipped one (``data/calibration/default/``) when present;
        ``False``: none (:func:`cit_bayes.calibration.report_block.calibration_folder`).
    reconstructions : int, optional
        Instead of the bundled cohort, M cohorts reconstructed with their open choices drawn
        from ``reconstruction_uncertainty`` (default ``models/reconstruction-uncertainty.toml``),
        each analysed and the fits pooled by mixing
        (:mod:`cit_bayes.analyses.reconstructions`); bundled data only.
    workers, scheduler : optional
        Fit the reconstructed (or imputed) cohorts on a Dask cluster: a local one of
        ``workers`` processes, or an existing scheduler's (one task per cohort, the same
        numbers as in this process; :func:`cit_bayes.analyses.imputed.fit_imputations`).
    pdf : bool
        Compile the methods supplement to PDF where pdflatex is installed
        (:func:`cit_bayes.report.pdf.compile_pdf`; a warning when it is not).

    Returns
    -------
    PipelineResult

    Raises
    ------
    CitBayesError
        On bad input (the cohort fails validation, a malformed plan, a calibration folder
        without ``summary.json``): nothing is written.

    Examples
    --------
    >>> result = run_pipeline(out_dir="reports/latest", seed=1)  # doctest: +SKIP
    """
    from cit_bayes.analyses import patient
    from cit_bayes.output import staged_folder
    from cit_bayes.plan import load_plan
    from cit_bayes.report.patient_report import write_report

    step = _Timer(steps or _Silent())
    bundled = is_bundled(data)
    if reconstructions is not None and (not bundled or not isinstance(reconstructions, int)
                                        or reconstructions < 1):  # fmt: skip
        raise ModelError(
            "reconstructions: a whole number >= 1 of cohorts reconstructed from the paper's "
            "tables; it replaces the bundled cohort and does not apply to a cohort file (--data)"
        )
    plan = load_plan() if plan is None else plan
    calibration_dir = calibration_folder(calibration)
    calibrated = None if calibration_dir is None else calibration_block(calibration_dir, plan)
    with (
        staged_folder(out_dir) as staging,
        _paper_steps(bundled, staging, published_sampler, seed) as paper,
    ):
        if reconstructions is None:
            read = dict(columns=columns, labs=labs, missing=missing, response_rule=response_rule)
            cohort, imputation, drawn = _read_step(step, data, read, plan, seed)
        else:  # the M reconstructed cohorts take the place of M imputations
            cohort, imputation, drawn = _reconstruct_step(
                step, reconstructions, reconstruction_uncertainty
            )
        weighting, weightings, fit_work = _weight_step(
            step, cohort, imputation, plan, seed=seed,
            unit="imputation" if drawn is None else "reconstruction",
            workers=workers, scheduler=scheduler,
        )  # fmt: skip
        fits, fit_seconds = _fit_step(step, fit_work, steps, sampler_progress)
        analysis = _compare_step(
            step, cohort, plan, weighting, fits, fit_seconds, seed=seed,
            imputation=imputation, weightings=weightings, reconstructed=drawn is not None,
        )  # fmt: skip
        if drawn is not None:
            _add_reconstructions(analysis, drawn, fits, plan)
        if calibrated is not None:
            analysis.results["calibration"] = calibrated
        fit_files = patient.write_fit_outputs(analysis, staging, draws=False)
        files: dict[str, object] = {"fit": fit_files}
        audit_records, published = step.paper(paper)

        def write_draws() -> None:  # idata/, while pdflatex compiles in a process of its own
            fit_files["idata"] = patient.write_fit_draws(analysis, staging)

        files["report"] = step(
            "report",
            lambda: write_report(
                staging,
                analysis,
                published=published,
                audit=audit_records,
                command=command,
                pdf=pdf,
                alongside=write_draws,
            ),
            _report_summary,
        )
        files["run"] = step.record(staging, command, analysis)
    failed = _failed_fits(analysis, published)
    extra = (bool(cohort.synthetic), bundled, step.seconds, files, tuple(analysis.failed_checks))
    return PipelineResult(Path(out_dir), not failed, failed, *extra)


def _read_step(step: _Timer, data, read: dict, plan, seed):
    """The ``validate`` step on a cohort file: (cohort, its imputations or None, None).

    Under ``missing="impute"`` the weights, fits and cross-checks run on each imputation.
    """
    from cit_bayes.cohort import read_cohort

    path = data_dir() / BUNDLED_COHORT if data is None else Path(data)
    cohort = step(
        "validate", lambda: read_cohort(path, **read, **plan.cohort_columns()), _cohort_summary
    )
    return cohort, step.imputation(cohort, plan, seed), None


def _reconstruct_step(step: _Timer, m: int, uncertainty):
    """The ``validate`` step of ``--reconstructions M``: (the first cohort, the M cohorts as
    imputations, what :func:`_reconstruct` drew)."""
    from cit_bayes.analyses.reconstructions import as_imputation

    drawn = step(
        "validate",
        lambda: _reconstruct(m, uncertainty),
        lambda run: f"{len(run[0])} cohorts reconstructed, {len(run[2])} failed draw(s) replaced",
    )
    imputation = as_imputation(drawn[0], drawn[0][0].seed)
    return imputation.cohorts[0], imputation, drawn


def _weight_step(step: _Timer, cohort, imputation, plan, *, seed, unit, workers, scheduler):
    """The ``weight`` step: (the first cohort's weighting, every cohort's or None, the fit
    step's work)."""
    from cit_bayes.analyses import imputed, patient

    if imputation is None:
        weighting = step("weight", lambda: patient.weight_cohort(cohort, plan), _weighting_summary)
        return weighting, None, partial(patient.fit_models, cohort, plan, weighting, seed=seed)
    weightings = step(
        "weight",
        lambda: imputed.weight_imputations(imputation, plan),
        lambda runs: f"{unit} 1 of {len(runs)}: {_weighting_summary(runs[0])}",
    )
    fit_work = partial(
        imputed.fit_imputations, imputation, plan, weightings,
        seed=seed, unit=unit, workers=workers, scheduler=scheduler,
    )  # fmt: skip
    return weightings[0], weightings, fit_work


def _fit_step(step: _Timer, fit_work, steps, sampler_progress: bool):
    """The ``fit`` step: its fits and their times; convergence warnings re-issued once each."""
    from cit_bayes.bayes.sampling import fit_events, progress_bars

    with (
        warnings.catch_warnings(record=True) as caught,
        progress_bars(sampler_progress),
        fit_events(getattr(steps, "fit_event", None)),  # a log's line per fit
    ):
        warnings.simplefilter("always", ConvergenceWarning)
        result = step("fit", fit_work, _fit_summary)
    _reissue(caught)
    return result


def _compare_step(
    step: _Timer, cohort, plan, weighting, fits, fit_seconds, *, seed, imputation, weightings,
    reconstructed: bool,
):  # fmt: skip
    """The ``compare`` step: the patient-level analysis (imputations summarised, if any)."""
    from cit_bayes.analyses import imputed, patient

    return step(
        "compare",
        lambda: patient.compare_arms(
            cohort if imputation is None else imputation.cohorts[0],
            plan,
            weighting,
            fits,
            seed=seed,
            timings=fit_seconds,
            imputation=None
            if imputation is None or reconstructed
            else imputed.imputation_summary(imputation, weightings),
            design=None if imputation is None else imputed.shared_designs(imputation, plan)[0],
        ),
        lambda a: f"{len(a.tables)} tables",
    )


def _reconstruct(m: int, uncertainty) -> tuple[list, object, list]:
    """M reconstructed cohorts with drawn assumptions (the shipped cohort's base seed)."""
    from cit_bayes.reconstruct.cohorts import DEFAULT_SEED
    from cit_bayes.reconstruct.uncertainty import (
        load_reconstruction_uncertainty,
        reconstruct_drawn_cohorts,
    )

    priors = load_reconstruction_uncertainty(uncertainty)
    cohorts, failures = reconstruct_drawn_cohorts(m, DEFAULT_SEED, uncertainty=priors)
    return cohorts, priors, failures


def _add_reconstructions(analysis, drawn, fits, plan) -> None:
    """``meta.data.reconstructions`` in place of the first cohort's provenance, and the
    assumption it adds."""
    from cit_bayes.analyses.reconstructions import reconstruction_summary

    cohorts, priors, failures = drawn
    primary = next(a for a in plan.analyses() if a.adjusted)
    data = analysis.results["meta"]["data"]
    data.pop("provenance", None)
    data["reconstructions"] = reconstruction_summary(
        cohorts, failures, priors, fits, plan, primary.name
    )
    analysis.results["meta"]["assumptions"].append(
        f"The cohort is {len(cohorts)} synthetic cohorts reconstructed from the paper's tables, "
        f"their open choices (prognostic effects, copula loadings, recovered counts, order "
        f"noise) drawn from the priors of {priors.source}; the posterior draws are pooled by "
        "mixing over the cohorts, so the intervals include the reconstruction's uncertainty."
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
