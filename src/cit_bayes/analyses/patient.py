"""The patient-level reanalysis behind ``cit-bayes fit``: cohort -> weights -> models -> contrasts.

:func:`run_patient_analysis` takes a validated :class:`~cit_bayes.cohort.Cohort` and an
:class:`~cit_bayes.plan.AnalysisPlan` and returns a :class:`PatientAnalysis` of plain data: the
``results.json`` document (shared layout, ``docs/results-schema.md``), tidy tables, the fits
(InferenceData with provenance) and the weights' diagnostics. :func:`write_fit_outputs` writes it
under one folder. Nothing here prints; progress goes to an optional callback.

For each analysis of the plan (``unadjusted``, ``adjusted`` = the primary estimand, and the
sensitivity estimands), the four models are fitted on the same compiled graphs (only ``pm.Data``
change): response, platelet trajectory, recovery and safety. The unadjusted analysis uses no
weights, no covariates and no baseline-count adjustment; the adjusted ones use the estimand's
weights (rescaled within arm to the Kish ESS by the models), the covariates, and g-computation
over the estimand's target population.

Patients with an outcome that is not determined (a missing response, for example) are left
out of that endpoint's model only; the number analysed per arm is in each fragment
(``n_analysed``) and nothing is dropped silently.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes import __version__
from cit_bayes.analyses.endpoints import (
    Progress,
    arm_counts,
    endpoint_runner,
    fit_name,
)
from cit_bayes.analyses.results import (
    add_analysis,
    file_stem,
    new_results,
    save_fit,
    software_versions,
    write_results,
)
from cit_bayes.analyses.robustness import fit_robustness, robustness_summary
from cit_bayes.bayes.patient_fit import PatientFit
from cit_bayes.cohort import Cohort
from cit_bayes.confounding.summary import confounding_summary
from cit_bayes.plan import AnalysisPlan
from cit_bayes.weighting.cohort_weights import (
    OutcomeDesign,
    WeightedAnalysis,
    weight_analysis,
)

__all__ = [
    "PatientAnalysis",
    "compare_arms",
    "fit_models",
    "fit_name",
    "run_patient_analysis",
    "weight_cohort",
    "write_fit_draws",
    "write_fit_outputs",
]


@dataclass(frozen=True)
class PatientAnalysis:
    """Everything one patient-level reanalysis produced, as plain data.

    Attributes
    ----------
    results : dict
        The ``results.json`` document.
    tables : dict of str to pandas.DataFrame
        Tidy tables keyed ``"<endpoint>/<table>"`` (an ``analysis`` column in each) and
        ``"weighting/<table>"``; aggregate numbers only.
    fits : dict of str to PatientFit
        Keyed by fit name ``"<endpoint>/<analysis>"``.
    weighting : dict of str to WeightedAnalysis
        The weights of each adjusted analysis and their diagnostics.
    timings : dict of str to float
        Seconds per step (``weighting``, each fit, ``contrasts``).
    plan : AnalysisPlan

    Examples
    --------
    >>> from cit_bayes.analyses.patient import PatientAnalysis
    >>> analysis = PatientAnalysis(results={}, tables={}, fits={}, weighting={})
    >>> analysis.passed, analysis.failed_fits
    (True, [])
    """

    results: dict
    tables: dict[str, pd.DataFrame]
    fits: dict[str, PatientFit]
    weighting: dict[str, WeightedAnalysis]
    timings: dict[str, float] = field(default_factory=dict)
    plan: AnalysisPlan | None = None

    @property
    def passed(self) -> bool:
        """Whether every fit met every diagnostics gate."""
        return all(fit.passed for fit in self.fits.values())

    @property
    def failed_fits(self) -> list[str]:
        """Names of the fits that missed a gate."""
        return [name for name, fit in self.fits.items() if not fit.passed]

    @property
    def failed_checks(self) -> list[str]:
        """Names of the fits whose posterior predictive check failed (with the statistics)."""
        return [
            f"{name}: {', '.join(entry['predictive_check']['failures'])}"
            for name, entry in self.results.get("diagnostics", {}).items()
            if not entry.get("predictive_check", {}).get("passed", True)
        ]


def _grouping_summary(column: str, groups, arm_codes: np.ndarray) -> dict:
    """The grouping's column, number of groups and how many hold patients of one arm only
    (those arms' contrasts then lean on the spread of the group effects, not on data).

    Examples
    --------
    >>> _grouping_summary("centre", (("a", "b", "c"), np.array([0, 0, 1, 1, 2])),
    ...                   np.array([0, 1, 0, 0, 1]))
    {'column': 'centre', 'n_groups': 3, 'groups_in_one_arm': 2}
    """
    labels, codes = groups
    one_arm = sum(len(np.unique(arm_codes[codes == g])) == 1 for g in range(len(labels)))
    return {"column": column, "n_groups": len(labels), "groups_in_one_arm": int(one_arm)}


def weight_cohort(
    cohort: Cohort, plan: AnalysisPlan, *, progress: Progress | None = None
) -> dict[str, WeightedAnalysis]:
    """The weights of every adjusted analysis of the plan, keyed by analysis name.

    Examples
    --------
    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> sorted(weight_cohort(cohort, load_plan(), progress=print))
    weighting (ATE)
    weighting (ATO)
    ['adjusted', 'adjusted (ATO)']
    """
    say = progress or (lambda message: None)
    covariates = plan.cohort_covariates(cohort)
    arm = cohort.data["arm"].reset_index(drop=True)
    arms = tuple(a for a in plan.arms if a in set(arm))
    weighting = {}
    for analysis in plan.analyses():
        if analysis.adjusted:
            say(f"weighting ({analysis.estimand.upper()})")
            weighting[analysis.name] = weight_analysis(
                covariates,
                arm,
                analysis=analysis.name,
                estimand=analysis.estimand,
                plan=plan,
                arms=arms,
            )
    return weighting


def fit_models(
    cohort: Cohort,
    plan: AnalysisPlan,
    weighting: dict[str, WeightedAnalysis],
    *,
    seed: int | None = None,
    progress: Progress | None = None,
    design: OutcomeDesign | None = None,
) -> tuple[dict[str, PatientFit], dict[str, float]]:
    """Fit the four models under every analysis; return the fits and seconds per fit
    (``design``: see :func:`~cit_bayes.analyses.endpoints.endpoint_runner`).

    Examples
    --------
    Fitting takes minutes; the seed is checked before anything is fitted:

    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> fit_models(cohort, load_plan(), {}, seed=-1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: seed must be a non-negative integer, got -1
    """
    runner = endpoint_runner(cohort, plan, seed, progress, design)
    for analysis in plan.analyses():
        runner.fit(analysis, weighting.get(analysis.name) if analysis.adjusted else None)
    fit_robustness(runner, plan, weighting)
    return runner.fits, runner.timings


def compare_arms(
    cohort: Cohort,
    plan: AnalysisPlan,
    weighting: dict[str, WeightedAnalysis],
    fits: dict[str, PatientFit],
    *,
    seed: int | None = None,
    timings: dict[str, float] | None = None,
    imputation: dict | None = None,
    design: OutcomeDesign | None = None,
) -> PatientAnalysis:
    """Posterior comparisons, frequentist cross-checks and the results document.

    Under multiple imputation, ``cohort``, ``weighting`` and ``design`` are the first
    imputation's (the design in the encoding shared by every imputation), ``fits`` the pooled
    ones and ``imputation`` the summary of :func:`cit_bayes.analyses.imputed.imputation_summary`
    (``meta.data.imputation``).

    Examples
    --------
    It needs the fits of :func:`fit_models`; the seed is checked first:

    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> compare_arms(cohort, load_plan(), {}, {}, seed=-1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: seed must be a non-negative integer, got -1
    """
    runner = endpoint_runner(cohort, plan, seed, None, design)
    runner.fits = dict(fits)
    results = new_results(
        source="cohort",
        seed=runner.seed,
        package_version=__version__,
        synthetic=bool(cohort.synthetic),
        ci_level=plan.spec.ci_level,
        software=software_versions(),
        plan={"file": Path(plan.path).name, "sha256": plan.sha256, "name": plan.name},
        sampler=plan.sampler.as_dict() | {"target_accept_by_model": plan.target_accept_by_model},
        data=_data_block(cohort, plan, runner, imputation),
        analyses=[{"name": a.name, "estimand": a.estimand or "none"} for a in plan.analyses()],
        primary_estimand=plan.primary_estimand,
        noninferiority_margin=plan.margin,
        priors={model: asdict(prior) for model, prior in plan.priors.items()},
        assumptions=_assumptions(cohort, plan, imputation),
    )
    weight_tables = _compare_analyses(runner, plan, weighting, results)
    for name, fit in runner.fits.items():
        if name not in results["diagnostics"]:  # the robustness variants' fits
            runner.store_diagnostics(fit, results)
    robustness = robustness_summary(runner.fits, plan, runner.arms)
    if robustness is not None:
        results["robustness"] = robustness
    primary = next(a for a in plan.analyses() if a.adjusted)
    confounding = confounding_summary(runner.fits, plan, runner, primary.name)
    if confounding is not None:
        results["unmeasured_confounding"] = confounding
    results["meta"]["all_fits_passed"] = all(f.passed for f in runner.fits.values())
    tables = {
        key: pd.concat(frames, ignore_index=True)
        for key, frames in (runner.tables | weight_tables).items()
    }
    return PatientAnalysis(
        results=results,
        tables=tables,
        fits=runner.fits,
        weighting=dict(weighting),
        timings=dict(timings or {}),
        plan=plan,
    )


def _data_block(cohort: Cohort, plan: AnalysisPlan, runner, imputation: dict | None) -> dict:
    """``meta.data`` of the results: the cohort analysed, as counts and names (no row)."""
    block = {
        "file": cohort.source,
        "fingerprint": cohort.fingerprint,
        "arms": list(runner.arms),
        "patients": arm_counts(runner.codes, runner.arms),
        "n_dropped_by_arm": {k: int(v) for k, v in cohort.n_dropped_by_arm().items()},
        "response_rule": cohort.response_rule,
        "planned_days": list(plan.planned_days),
        "covariates": list(plan.covariates),
        "design_columns": list(runner.design.columns),
    }
    if runner.groups is not None:
        block["grouping"] = _grouping_summary(plan.group, runner.groups, runner.codes)
    if cohort.labs is not None:
        block["labs"] = cohort.labs.as_dict()
    if cohort.provenance is not None:
        block["provenance"] = cohort.provenance
    if imputation is not None:
        block["imputation"] = imputation
    return block


def _compare_analyses(runner, plan: AnalysisPlan, weighting, results: dict) -> dict[str, list]:
    """Each analysis of the plan compared into ``results`` (its weighting summary first, for an
    adjusted one); returns the weighting tables, by table name, one frame per analysis."""
    weight_tables: dict[str, list] = {}
    for analysis in plan.analyses():
        weighted = weighting.get(analysis.name) if analysis.adjusted else None
        if weighted is not None:
            summary = weighted.summary(plan.weighting.balance_threshold)
            add_analysis(results, "weighting", analysis.name, summary)
            for name in WEIGHTING_TABLES:
                frame = getattr(weighted, name).copy()
                frame.insert(0, "analysis", analysis.name)
                weight_tables.setdefault(f"weighting/{name}", []).append(frame)
        runner.compare(analysis, weighted, results)
    return weight_tables


WEIGHTING_TABLES = ("balance", "balance_pairs", "ess", "table_one", "overlap", "weight_summary")


def run_patient_analysis(
    cohort: Cohort,
    plan: AnalysisPlan,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
) -> PatientAnalysis:
    """Weight, fit and compare every analysis of the plan on a cohort.

    The three stages are also public (:func:`weight_cohort`, :func:`fit_models`,
    :func:`compare_arms`) so that a pipeline can time and report them apart.

    Parameters
    ----------
    cohort : Cohort
        A validated cohort (:func:`cit_bayes.cohort.read_cohort`).
    plan : AnalysisPlan
        :func:`cit_bayes.plan.load_plan`.
    seed : int, optional
        Master seed (default: the plan's); every fit's seed is derived from it and the fit's name.
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    PatientAnalysis

    Examples
    --------
    Fitting takes minutes; a bad seed stops the run once the weights are made:

    >>> from cit_bayes.cohort import validate_cohort
    >>> from cit_bayes.plan import load_plan
    >>> from cit_bayes.simulate import simulate_cohort
    >>> cohort = validate_cohort(simulate_cohort(60, seed=1).data)
    >>> run_patient_analysis(cohort, load_plan(), seed=-1)
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.ModelError: seed must be a non-negative integer, got -1
    """
    from cit_bayes.analyses import imputed

    imputation = imputed.impute_for_plan(cohort, plan, seed)
    start = time.perf_counter()
    if imputation is None:
        weighting = weight_cohort(cohort, plan, progress=progress)
        timings = {"weighting": time.perf_counter() - start}
        fits, fit_timings = fit_models(cohort, plan, weighting, seed=seed, progress=progress)
        summary = None
    else:
        weightings = imputed.weight_imputations(imputation, plan, progress=progress)
        timings = {"weighting": time.perf_counter() - start}
        fits, fit_timings = imputed.fit_imputations(
            imputation, plan, weightings, seed=seed, progress=progress
        )
        cohort, weighting = imputation.cohorts[0], weightings[0]
        summary = imputed.imputation_summary(imputation, weightings)
    design = None if imputation is None else imputed.shared_designs(imputation, plan)[0]
    start = time.perf_counter()
    result = compare_arms(
        cohort, plan, weighting, fits, seed=seed, imputation=summary, design=design
    )
    timings |= fit_timings | {"contrasts": time.perf_counter() - start}
    return PatientAnalysis(
        results=result.results,
        tables=result.tables,
        fits=result.fits,
        weighting=result.weighting,
        timings=timings,
        plan=plan,
    )


def _assumptions(cohort: Cohort, plan: AnalysisPlan, imputation: dict | None = None) -> list[str]:
    out = [
        "No unmeasured confounding: given the covariates "
        f"({', '.join(plan.covariates)}), the arm received is independent of the potential "
        "outcomes (conditional exchangeability), with positivity and consistency.",
        "Missing follow-up platelet counts are missing at random given the arm, covariates and "
        "the recorded counts; a patient whose counts stop before day "
        f"{plan.horizon} is censored at the last recorded day.",
        "Weighted likelihoods use weights rescaled within arm to the Kish effective sample "
        "size (the pseudo-posterior carries about the information of the effective sample).",
    ]
    if imputation is not None:
        columns = ", ".join(f"{k} ({v})" for k, v in imputation["imputed_by_column"].items())
        out.append(
            f"Missing baseline covariates ({columns} cells) are missing at random given the "
            "arm, the other covariates, the log baseline count and the outcomes (MAR): they "
            f"were imputed {imputation['m']} times by chained equations and the posterior "
            "draws pooled over the imputations."
        )
    if cohort.synthetic:
        out.insert(
            0,
            "The cohort is SYNTHETIC (reconstructed or simulated), not patient data: its numbers "
            "illustrate the method and must not be read as clinical evidence.",
        )
    return out


def _is_prior_setting(name: str) -> bool:
    return name.startswith("prior_")


def write_fit_outputs(
    analysis: PatientAnalysis, out_dir: str | Path, *, draws: bool = True
) -> dict[str, object]:
    """Write ``results.json``, ``idata/*.nc`` and ``tables/*.csv`` under ``out_dir`` (each table
    of a synthetic cohort with a column ``synthetic`` = 1); ``draws=False`` leaves ``idata/``
    to :func:`write_fit_draws` (the pipeline writes them while pdflatex runs).

    Only aggregate numbers are written (no patient identifier, no row-level value): the
    InferenceData keep the posterior, the sampler statistics and the prior settings of the
    model, not its data (outcomes, design, weights stay in memory; the data fingerprint in the
    provenance attributes identifies them). Returns the paths written.

    Examples
    --------
    >>> import tempfile
    >>> results = new_results(source="cohort", seed=1, package_version="0.1", synthetic=True)
    >>> analysis = PatientAnalysis(results, {"response/rate": pd.DataFrame({"arm": ["A"]})}, {}, {})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     [path.name for path in write_fit_outputs(analysis, out)["tables"]]
    ['response__rate.csv']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, object] = {"results": write_results(analysis.results, out / "results.json")}
    if draws:
        written["idata"] = write_fit_draws(analysis, out)
    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    synthetic = bool(analysis.results["meta"].get("synthetic"))
    paths = []
    for key, table in sorted(analysis.tables.items()):
        if key.endswith("/difference_draws"):  # posterior draws: in idata, not a summary table
            continue
        path = tables / f"{file_stem(key)}.csv"
        if synthetic:  # every table of a synthetic cohort says so, row by row
            table = table.assign(synthetic=1)
        table.to_csv(path, index=False)
        paths.append(path)
    written["tables"] = paths
    return written


def write_fit_draws(analysis: PatientAnalysis, out_dir: str | Path) -> list[Path]:
    """Write each fit's InferenceData to ``idata/<fit>.nc`` under ``out_dir``: the posterior,
    the sampler statistics and the prior settings, no row of the cohort.

    Examples
    --------
    >>> import tempfile
    >>> results = new_results(source="cohort", seed=1, package_version="0.1", synthetic=True)
    >>> with tempfile.TemporaryDirectory() as out:  # no fit: nothing written
    ...     write_fit_draws(PatientAnalysis(results, {}, {}, {}), out)
    []
    """
    out = Path(out_dir)
    return [
        save_fit(fit.fit, out / "idata" / f"{file_stem(name)}.nc", keep_data=_is_prior_setting)
        for name, fit in analysis.fits.items()
    ]
