"""The steps of ``cit-bayes run`` on the cohort, each timed and reported to the run's observer.

:data:`STEPS` names the steps of a run in order; :class:`StepTimer` times each and tells the
observer (:class:`Steps`, the CLI's progress display) when it starts and ends, and waits for the
paper-level steps of the second process (:mod:`cit_bayes.paper_steps`). The patient-level steps
are here: ``validate`` (the cohort file read, or ``--reconstructions M`` cohorts reconstructed),
``weight``, ``fit``, ``compare`` and ``report``. :func:`cit_bayes.pipeline.run_pipeline` runs them
in order.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Protocol

from cit_bayes._paths import data_dir
from cit_bayes.exceptions import ConvergenceWarning

__all__ = [
    "BUNDLED_COHORT",
    "STEPS",
    "Steps",
    "StepTimer",
    "read_step",
    "reconstruct_step",
    "weight_step",
    "fit_step",
    "compare_step",
    "report_step",
    "add_reconstructions",
    "reissue",
]

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
    """What observes a run (``cit_bayes.cli.progress.StepPrinter`` fits).

    Examples
    --------
    >>> class Recorder:  # an observer that keeps the steps' summaries
    ...     def __init__(self):
    ...         self.done_steps = []
    ...     def start(self, step, description): pass
    ...     def done(self, step, seconds, summary): self.done_steps.append((step, summary))
    ...     def skipped(self, step, reason): pass
    >>> recorder = Recorder()
    >>> StepTimer(recorder)("validate", lambda: 187, lambda n: f"{n} patients")
    187
    >>> recorder.done_steps
    [('validate', '187 patients')]
    """

    def start(self, step: str, description: str) -> None: ...

    def done(self, step: str, seconds: float, summary: str) -> None: ...

    def skipped(self, step: str, reason: str) -> None: ...


class StepTimer:
    """Times each step and tells the observer when it starts and ends.

    Examples
    --------
    >>> class Recorder:  # an observer that logs what it is told
    ...     def __init__(self):
    ...         self.log = []
    ...     def start(self, step, description): self.log.append((step, description))
    ...     def done(self, step, seconds, summary): self.log.append((step, summary))
    ...     def skipped(self, step, reason): self.log.append((step, "skipped"))
    >>> recorder = Recorder()
    >>> timer = StepTimer(recorder)
    >>> timer("fit", lambda: {"response/adjusted": None}, lambda fits: f"{len(fits)} fits")
    {'response/adjusted': None}
    >>> list(timer.seconds), timer.seconds["fit"] >= 0
    (['fit'], True)
    >>> timer.paper(None)  # not the bundled cohort: no audit, no published reanalysis
    (None, None)
    >>> recorder.log[:2]  # the step's description from STEPS, then its summary
    [('fit', 'Bayesian models under each analysis'), ('fit', '1 fits')]
    >>> recorder.log[2:]
    [('audit', 'skipped'), ('published', 'skipped')]
    """

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


def read_step(step: StepTimer, data, read: dict, plan, seed):
    """The ``validate`` step on a cohort file: (cohort, its imputations or None, None).

    Under ``missing="impute"`` the weights, fits and cross-checks run on each imputation.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cit_bayes.plan import load_plan
    >>> observer = SimpleNamespace(start=lambda step, description: None,
    ...                            done=lambda step, seconds, summary: print(step, summary))
    >>> cohort, imputation, drawn = read_step(StepTimer(observer), None, {}, load_plan(), 1)
    validate 187 patients in 4 arms (synthetic)
    >>> imputation, drawn  # no missing="impute"; a file, not reconstructed cohorts
    (None, None)
    """
    from cit_bayes.cohort import read_cohort

    path = data_dir() / BUNDLED_COHORT if data is None else Path(data)
    cohort = step(
        "validate", lambda: read_cohort(path, **read, **plan.cohort_columns()), _cohort_summary
    )
    return cohort, step.imputation(cohort, plan, seed), None


def reconstruct_step(step: StepTimer, m: int, uncertainty):
    """The ``validate`` step of ``--reconstructions M``: (the first cohort, the M cohorts as
    imputations, what :func:`_reconstruct` drew).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> observer = SimpleNamespace(start=lambda step, description: None,
    ...                            done=lambda step, seconds, summary: print(step, summary))
    >>> cohort, imputation, drawn = reconstruct_step(StepTimer(observer), 1, None)  # about 1 s
    validate 1 cohort reconstructed, 0 failed draw(s) replaced
    >>> cohort.n, len(imputation.cohorts), drawn[1].source  # the priors the choices came from
    (187, 1, 'reconstruction-uncertainty.toml')
    """
    from cit_bayes.analyses.reconstructions import as_imputation

    drawn = step(
        "validate",
        lambda: _reconstruct(m, uncertainty),
        lambda run: (
            f"{_count(len(run[0]), 'cohort')} reconstructed, {len(run[2])} failed draw(s) replaced"
        ),
    )
    imputation = as_imputation(drawn[0], drawn[0][0].seed)
    return imputation.cohorts[0], imputation, drawn


def weight_step(step: StepTimer, cohort, imputation, plan, *, seed, unit, workers, scheduler):
    """The ``weight`` step: (the first cohort's weighting, every cohort's or None, the fit
    step's work).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cit_bayes._paths import data_dir
    >>> from cit_bayes.cohort import read_cohort
    >>> from cit_bayes.plan import load_plan
    >>> plan = load_plan()
    >>> cohort = read_cohort(data_dir() / BUNDLED_COHORT, **plan.cohort_columns())
    >>> quiet = SimpleNamespace(start=lambda *told: None, done=lambda *told: None)
    >>> weighting, weightings, fit_work = weight_step(
    ...     StepTimer(quiet), cohort, None, plan, seed=1, unit="imputation", workers=None,
    ...     scheduler=None)
    >>> sorted(weighting), weightings  # the adjusted analyses' weights; no imputations
    (['adjusted', 'adjusted (ATO)'], None)
    >>> round(weighting["adjusted"].max_smd_balanceable, 2)  # exact balance where it can
    0.0
    >>> fit_work.func.__name__  # the fit step's work, not yet run
    'fit_models'
    """
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


def fit_step(step: StepTimer, fit_work, steps, sampler_progress: bool):
    """The ``fit`` step: its fits and their times; warnings other than convergence warnings
    (which the report shows) re-issued.

    Examples
    --------
    A real ``fit_work`` is :func:`cit_bayes.analyses.patient.fit_models` (minutes of sampling);
    this one fits nothing and warns as a fit that missed its gates would:

    >>> import warnings
    >>> from types import SimpleNamespace
    >>> observer = SimpleNamespace(start=lambda step, description: None,
    ...                            done=lambda step, seconds, summary: print(step, summary))
    >>> def fit_work():
    ...     warnings.warn("response/adjusted: R-hat 1.02", ConvergenceWarning)
    ...     return {}, {}
    >>> with warnings.catch_warnings(record=True) as shown:
    ...     warnings.simplefilter("always")
    ...     fit_step(StepTimer(observer), fit_work, observer, sampler_progress=False)
    fit 0 fits, all passed the gates
    ({}, {})
    >>> len(shown)  # the ConvergenceWarning is not shown again (the report states it)
    0
    """
    from cit_bayes.bayes.sampling import fit_events, progress_bars

    with (
        warnings.catch_warnings(record=True) as caught,
        progress_bars(sampler_progress),
        fit_events(getattr(steps, "fit_event", None)),  # a log's line per fit
    ):
        warnings.simplefilter("always", ConvergenceWarning)
        result = step("fit", fit_work, _fit_summary)
    reissue(caught)
    return result


def compare_step(
    step: StepTimer, cohort, plan, weighting, fits, fit_seconds, *, seed, imputation, weightings,
    reconstructed: bool,
):  # fmt: skip
    """The ``compare`` step: the patient-level analysis (imputations summarised, if any).

    Examples
    --------
    It needs the fits of :func:`fit_step` (minutes of sampling); the seed is checked first:

    >>> from types import SimpleNamespace
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> quiet = SimpleNamespace(start=lambda *told: None, done=lambda *told: None)
    >>> compare_step(StepTimer(quiet), cohort, load_plan(), {}, {}, {}, seed=-1,
    ...              imputation=None, weightings=None, reconstructed=False)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: seed must be a non-negative integer, got -1
    """
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


def report_step(step: StepTimer, staging: Path, analysis, paper, *, command: str, pdf: bool):
    """The fits' outputs written, the paper-level steps waited for, then the ``report`` step
    and ``run.json``: (the files written, the published reanalysis's results or None).

    Examples
    --------
    It needs the analysis of :func:`compare_step`; ``results.json`` is checked against its
    layout before anything is reported or written:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> from cit_bayes.analyses.patient import PatientAnalysis
    >>> observer = SimpleNamespace(start=print, done=print, skipped=print)
    >>> analysis = PatientAnalysis(results={"diagnostics": {}}, tables={}, fits={}, weighting={})
    >>> with tempfile.TemporaryDirectory() as staging:
    ...     report_step(StepTimer(observer), Path(staging), analysis, None,
    ...                 command="cit-bayes run", pdf=False)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ResultsSchemaError: results do not follow the layout: missing 'meta' block
    """
    from cit_bayes.analyses import patient
    from cit_bayes.report.patient_report import write_report

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
    return files, published


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


def add_reconstructions(analysis, drawn, fits, plan) -> None:
    """``meta.data.reconstructions`` in place of the first cohort's provenance, and the
    assumption it adds.

    Examples
    --------
    On one reconstructed cohort and no fits (a real run passes the pooled fits, whose key
    answers are then followed across the cohorts):

    >>> from types import SimpleNamespace
    >>> from cit_bayes.analyses.patient import PatientAnalysis
    >>> from cit_bayes.analyses.results import new_results
    >>> from cit_bayes.plan import load_plan
    >>> quiet = SimpleNamespace(start=lambda *told: None, done=lambda *told: None)
    >>> drawn = reconstruct_step(StepTimer(quiet), 1, None)[2]  # about 1 s
    >>> results = new_results(source="cohort", seed=1, package_version="0.1", synthetic=True,
    ...                       data={"provenance": {}}, assumptions=[])
    >>> analysis = PatientAnalysis(results, {}, {}, {})
    >>> add_reconstructions(analysis, drawn, {}, load_plan())
    >>> data = analysis.results["meta"]["data"]
    >>> list(data), data["reconstructions"]["m"], data["reconstructions"]["key_answers"]
    (['reconstructions'], 1, {})
    >>> len(analysis.results["meta"]["assumptions"])
    1
    """
    from cit_bayes.analyses.reconstructions import reconstruction_summary

    cohorts, priors, failures = drawn
    primary = next(a for a in plan.analyses() if a.adjusted)
    summary = reconstruction_summary(cohorts, failures, priors, fits, plan, primary.name)
    data = analysis.results["meta"]["data"]  # changed only once the summary stands
    data.pop("provenance", None)
    data["reconstructions"] = summary
    analysis.results["meta"]["assumptions"].append(
        f"The cohort is {_count(len(cohorts), 'synthetic cohort')} reconstructed from the "
        "paper's tables, their open choices (prognostic effects, copula loadings, recovered "
        f"counts, order noise) drawn from the priors of {priors.source}; the posterior draws are "
        "pooled by mixing over the cohorts, so the intervals include the reconstruction's "
        "uncertainty."
    )


def _count(m: int, noun: str) -> str:
    return f"{m} {noun}" + ("" if m == 1 else "s")


def _all_passed(document: dict) -> bool:
    return all(entry["passed"] for entry in document["diagnostics"].values())


def reissue(caught) -> None:
    """ConvergenceWarnings are shown in the report; re-issue any other warning.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:  # as fit_step catches them
    ...     warnings.simplefilter("always")
    ...     warnings.warn("response/adjusted: R-hat 1.02", ConvergenceWarning)
    ...     warnings.warn("an option is deprecated", FutureWarning)
    >>> with warnings.catch_warnings(record=True) as shown:
    ...     warnings.simplefilter("always")
    ...     reissue(caught)
    >>> [(w.category.__name__, str(w.message)) for w in shown]
    [('FutureWarning', 'an option is deprecated')]
    """
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
