"""The whole reanalysis in one call: validate, weight, fit, compare, audit, published, report.

:func:`run_pipeline` is what ``cit-bayes run`` (and ``make run``) executes. Every step reports to
an optional :class:`Steps` observer (the CLI's progress display); every file is written into a
staging folder beside the output folder and moved into place only when the whole run succeeded
(:func:`cit_bayes.output.staged_folder`), so a failure leaves no half-written report behind and an
earlier report untouched. The steps themselves are in :mod:`cit_bayes.run_steps` (the cohort's,
and the timer that reports them) and :mod:`cit_bayes.paper_steps` (the paper-level ones, in a
second process); this module runs them in order.

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

from dataclasses import dataclass, field
from pathlib import Path

from cit_bayes._paths import data_dir
from cit_bayes.calibration.report_block import calibration_block, calibration_folder
from cit_bayes.exceptions import ModelError
from cit_bayes.paper_steps import paper_steps
from cit_bayes.run_steps import (
    BUNDLED_COHORT,
    STEPS,
    Steps,
    StepTimer,
    add_reconstructions,
    compare_step,
    fit_step,
    read_step,
    reconstruct_step,
    report_step,
    weight_step,
)

__all__ = ["BUNDLED_COHORT", "PipelineResult", "Steps", "STEPS", "run_pipeline"]


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
    from cit_bayes.output import staged_folder

    step = StepTimer(steps or _Silent())
    bundled = is_bundled(data)
    plan, calibrated = _checked_inputs(plan, calibration, reconstructions, bundled)
    read = dict(columns=columns, labs=labs, missing=missing, response_rule=response_rule)
    with (
        staged_folder(out_dir) as staging,
        paper_steps(bundled, staging, published_sampler, seed) as paper,
    ):
        if reconstructions is None:
            cohort, imputation, drawn = read_step(step, data, read, plan, seed)
        else:  # the M reconstructed cohorts take the place of M imputations
            cohort, imputation, drawn = reconstruct_step(
                step, reconstructions, reconstruction_uncertainty
            )
        weighting, weightings, fit_work = weight_step(
            step, cohort, imputation, plan, seed=seed,
            unit="imputation" if drawn is None else "reconstruction",
            workers=workers, scheduler=scheduler,
        )  # fmt: skip
        fits, fit_seconds = fit_step(step, fit_work, steps, sampler_progress)
        analysis = compare_step(
            step, cohort, plan, weighting, fits, fit_seconds, seed=seed,
            imputation=imputation, weightings=weightings, reconstructed=drawn is not None,
        )  # fmt: skip
        if drawn is not None:
            add_reconstructions(analysis, drawn, fits, plan)
        if calibrated is not None:
            analysis.results["calibration"] = calibrated
        files, published = report_step(step, staging, analysis, paper, command=command, pdf=pdf)
    failed = _failed_fits(analysis, published)
    return PipelineResult(
        Path(out_dir),
        not failed,
        failed,
        synthetic=bool(cohort.synthetic),
        bundled=bundled,
        step_seconds=step.seconds,
        files=files,
        failed_checks=tuple(analysis.failed_checks),
    )


def _checked_inputs(plan, calibration, reconstructions, bundled: bool):
    """What is read and checked before anything runs: (the plan, the ``calibration`` block of
    ``results.json`` or None)."""
    from cit_bayes.plan import load_plan

    if reconstructions is not None and (not bundled or not isinstance(reconstructions, int)
                                        or reconstructions < 1):  # fmt: skip
        raise ModelError(
            "reconstructions: a whole number >= 1 of cohorts reconstructed from the paper's "
            "tables; it replaces the bundled cohort and does not apply to a cohort file (--data)"
        )
    plan = load_plan() if plan is None else plan
    calibration_dir = calibration_folder(calibration)
    calibrated = None if calibration_dir is None else calibration_block(calibration_dir, plan)
    return plan, calibrated
