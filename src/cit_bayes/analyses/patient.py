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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cit_bayes import __version__
from cit_bayes.analyses.fragments import (
    frequentist_recovery_fragment,
    frequentist_response_fragment,
    plt_fragment,
    recovery_fragment,
    response_analysis,
    safety_analysis,
)
from cit_bayes.analyses.results import (
    add_analysis,
    add_diagnostics,
    file_stem,
    new_results,
    save_fit,
    software_versions,
    write_results,
)
from cit_bayes.bayes import derive_seed
from cit_bayes.bayes.patient_base import PatientData, PatientFit
from cit_bayes.bayes.recovery import fit_recovery_model
from cit_bayes.bayes.response import fit_response_model
from cit_bayes.bayes.safety import fit_safety_model
from cit_bayes.bayes.trajectory import fit_trajectory_model
from cit_bayes.cohort import Cohort
from cit_bayes.cohort.schema import ARMS
from cit_bayes.exceptions import ModelError
from cit_bayes.plan import Analysis, AnalysisPlan
from cit_bayes.weighting.cohort_weights import (
    WeightedAnalysis,
    outcome_design,
    weight_analysis,
    weighted_outcomes,
)
from cit_bayes.weighting.survival import km_medians, weighted_cox, weighted_kaplan_meier

__all__ = [
    "PatientAnalysis",
    "compare_arms",
    "fit_models",
    "fit_name",
    "run_patient_analysis",
    "weight_cohort",
    "write_fit_outputs",
]

Progress = Callable[[str], None]


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


def fit_name(endpoint: str, analysis: str) -> str:
    """The name of a fit (and of its diagnostics entry): ``"<endpoint>/<analysis>"``."""
    return f"{endpoint}/{analysis}"


def _subset(data: PatientData, keep: np.ndarray) -> PatientData:
    return PatientData(
        arms=data.arms,
        arm_codes=data.arm_codes[keep],
        design=data.design[keep],
        covariates=data.covariates,
        weights=data.weights[keep],
        tilt=data.tilt[keep],
    )


def _counts(codes: np.ndarray, arms) -> dict[str, int]:
    return {arm: int(np.sum(codes == j)) for j, arm in enumerate(arms)}


def _tag(tables: dict, endpoint: str, analysis: str, into: dict) -> None:
    for name, table in tables.items():
        frame = table.copy()
        frame.insert(0, "analysis", analysis)
        into.setdefault(f"{endpoint}/{name}", []).append(frame)


class _Runner:
    """Fits one analysis's four models and collects fragments, tables and fits."""

    def __init__(self, cohort: Cohort, plan: AnalysisPlan, seed: int, progress: Progress):
        self.cohort, self.plan, self.seed, self.progress = cohort, plan, seed, progress
        self.data = cohort.data.reset_index(drop=True)
        self.arms = tuple(a for a in ARMS if a in set(self.data["arm"]))
        self.codes = np.array([self.arms.index(a) for a in self.data["arm"]], dtype="int64")
        self.design = outcome_design(cohort.covariates().reset_index(drop=True), plan)
        self.fits: dict[str, PatientFit] = {}
        self.tables: dict[str, list] = {}
        self.timings: dict[str, float] = {}
        self.provenance = {
            "plan_hash": plan.sha256,
            "data_fingerprint": cohort.fingerprint,
            "synthetic": int(cohort.synthetic),
        }

    def patient_data(self, weighted: WeightedAnalysis | None) -> PatientData:
        n = len(self.codes)
        data = PatientData(
            arms=self.arms,
            arm_codes=self.codes,
            design=self.design.matrix,
            covariates=self.design.columns,
            weights=np.ones(n) if weighted is None else weighted.weights,
            tilt=np.ones(n) if weighted is None else weighted.tilt,
        )
        return data if weighted is not None else data.unadjusted()

    def _fit(self, endpoint: str, analysis: Analysis, call) -> PatientFit:
        name = fit_name(endpoint, analysis.name)
        self.progress(f"fitting {name}")
        start = time.perf_counter()
        fit = call(
            seed=derive_seed(self.seed, name),
            name=name,
            settings=self.plan.sampler_for(endpoint),
            provenance=self.provenance
            | {"analysis": analysis.name, "estimand": analysis.estimand or "none"},
        )
        self.timings[name] = time.perf_counter() - start
        self.fits[name] = fit
        return fit

    def _common(self, analysis: Analysis, fit: PatientFit) -> dict:
        return {
            "estimand": analysis.estimand or "none",
            "adjusted": analysis.adjusted,
            "fit": fit.name,
            "passed": bool(fit.passed),
        }

    def outcomes(self) -> dict[str, np.ndarray]:
        """The outcome arrays of the four models (in patient order)."""
        frame, plan = self.data, self.plan
        return {
            "response": frame["response"].to_numpy(dtype=float),
            "plt": frame[[f"plt_{d}" for d in plan.days]].to_numpy(dtype=float),
            "day0": frame["plt_day0"].to_numpy(dtype=float),
            "time": frame["time_to_recovery"].to_numpy(dtype=float),
            "recovered": frame["recovered"].to_numpy(dtype=float),
            "events": frame[list(plan.safety_events)].to_numpy(dtype=float),
        }

    def fit(self, analysis: Analysis, weighted: WeightedAnalysis | None) -> None:
        """Fit the four models of one analysis (each fit kept under its name)."""
        plan, data, y = self.plan, self.patient_data(weighted), self.outcomes()
        keep = np.isfinite(y["response"])
        self._fit(
            "response",
            analysis,
            lambda **kw: fit_response_model(
                y["response"][keep], _subset(data, keep), prior=plan.priors["response"], **kw
            ),
        )
        self._fit(
            "plt",
            analysis,
            lambda **kw: fit_trajectory_model(
                y["day0"],
                y["plt"],
                data,
                days=plan.days,
                prior=plan.priors["plt"],
                adjust_baseline=analysis.adjusted,
                **kw,
            ),
        )
        keep = np.isfinite(y["time"]) & np.isfinite(y["recovered"])
        self._fit(
            "recovery",
            analysis,
            lambda **kw: fit_recovery_model(
                y["time"][keep],
                y["recovered"][keep],
                _subset(data, keep),
                horizon=plan.horizon,
                prior=plan.priors["recovery"],
                **kw,
            ),
        )
        self._fit(
            "safety",
            analysis,
            lambda **kw: fit_safety_model(
                y["events"], data, event_names=plan.safety_events, prior=plan.priors["safety"], **kw
            ),
        )

    def compare(self, analysis: Analysis, weighted: WeightedAnalysis | None, results: dict) -> None:
        """Posterior comparisons and frequentist cross-checks of one fitted analysis."""
        plan, data, spec, y = (
            self.plan,
            self.patient_data(weighted),
            self.plan.spec,
            self.outcomes(),
        )
        fits = {
            e: self.fits[fit_name(e, analysis.name)]
            for e in ("response", "plt", "recovery", "safety")
        }
        # response
        keep = np.isfinite(y["response"])
        fragment, tables = response_analysis(fits["response"].draws["rate"], spec)
        fragment = self._common(analysis, fits["response"]) | fragment
        fragment["n_analysed"] = _counts(self.codes[keep], self.arms)
        if weighted is None:
            outcome = _plain_outcomes(
                y["response"][keep], self.codes[keep], self.arms, spec.ci_level
            )
        elif keep.all():
            outcome = weighted_outcomes(
                weighted,
                y["response"],
                plan=plan,
                seed=derive_seed(self.seed, "bootstrap", analysis.name),
            )
        else:
            outcome = None
        if outcome is not None:
            fragment["frequentist"] = frequentist_response_fragment(outcome, spec.pairs)
            tables["frequentist"] = outcome
        self._store("response", analysis, fragment, tables, results)
        # platelet trajectory
        fit = fits["plt"]
        baseline = _baseline_means(y["day0"], data, analysis.adjusted)
        fragment, tables = plt_fragment(fit.draws["mean"], fit.draws["delta_plt"], baseline, spec)
        fragment = self._common(analysis, fit) | fragment
        recorded = np.isfinite(y["plt"])
        fragment["n_analysed"] = _counts(self.codes[recorded.any(axis=1)], self.arms)
        tables["observed"] = _observed_plt(y["day0"], y["plt"], self.codes, self.arms, plan.days)
        self._store("plt", analysis, fragment, tables, results)
        # recovery
        fit = fits["recovery"]
        keep = np.isfinite(y["time"]) & np.isfinite(y["recovered"])
        fragment, tables = recovery_fragment(
            fit.draws["cumulative_recovery"],
            fit.draws["rmtr"],
            fit.draws["arm_effect"],
            spec,
            reference=plan.recovery_reference,
            horizon=plan.horizon,
        )
        fragment = self._common(analysis, fit) | fragment
        fragment["n_analysed"] = _counts(self.codes[keep], self.arms)
        weights = None if weighted is None else weighted.weights[keep]
        labels = self.data["arm"].to_numpy()[keep]
        km = weighted_kaplan_meier(
            y["time"][keep],
            y["recovered"][keep],
            labels,
            weights,
            arms=self.arms,
            horizon=plan.horizon,
            ci_level=spec.ci_level,
        )
        cox = _cox_or_note(
            y["time"][keep],
            y["recovered"][keep],
            labels,
            weights,
            arms=self.arms,
            reference=plan.recovery_reference,
            ci_level=spec.ci_level,
        )
        medians = km_medians(km)
        fragment["frequentist"] = frequentist_recovery_fragment(km, medians, cox)
        tables |= {"kaplan_meier": km, "kaplan_meier_median": medians, "cox": cox}
        self._store("recovery", analysis, fragment, tables, results)
        # safety
        fit = fits["safety"]
        fragment, tables = safety_analysis(fit.draws["rate"], spec)
        fragment = self._common(analysis, fit) | fragment
        fragment["n_recorded"] = {
            event: _counts(self.codes[np.isfinite(y["events"][:, e])], self.arms)
            for e, event in enumerate(plan.safety_events)
        }
        self._store("safety", analysis, fragment, tables, results)

    def _store(self, endpoint, analysis, fragment, tables, results) -> None:
        fit = self.fits[fit_name(endpoint, analysis.name)]
        add_analysis(results, endpoint, analysis.name, fragment)
        add_diagnostics(
            results,
            fit.name,
            fit.diagnostics.as_dict()
            | {
                "fit": fit.name,
                "sampler": fit.fit.settings.sampler,
                "target_accept": fit.fit.settings.target_accept,
            },
        )
        _tag(tables, endpoint, analysis.name, self.tables)


def _plain_outcomes(y: np.ndarray, codes: np.ndarray, arms, ci_level: float) -> pd.DataFrame:
    """Unweighted response rate per arm and differences (Wald CIs), in weighted_outcome's shape."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + ci_level / 2)
    rows = []
    rates = {}
    for j, arm in enumerate(arms):
        values = y[codes == j]
        p, n = values.mean(), len(values)
        se = np.sqrt(p * (1 - p) / n)
        rates[arm] = (p, se)
        rows.append(("arm_mean", arm, "", p, se))
    for a in range(len(arms)):
        for b in range(a + 1, len(arms)):
            (pb, sb), (pa, sa) = rates[arms[b]], rates[arms[a]]
            rows.append(("difference", arms[b], arms[a], pb - pa, np.hypot(sa, sb)))
    frame = pd.DataFrame(rows, columns=["quantity", "arm", "comparator", "estimate", "se"])
    return frame.assign(
        ci_low_sandwich=frame["estimate"] - z * frame["se"],
        ci_high_sandwich=frame["estimate"] + z * frame["se"],
        n_bootstrap=0,
        confidence=ci_level,
        method=f"share of responders per arm, Wald {round(100 * ci_level)}% CI (unweighted)",
    )


def _cox_or_note(time, recovered, labels, weights, *, arms, reference, ci_level) -> pd.DataFrame:
    """The weighted Cox rows; when the model cannot be fitted, NaN rows that say why.

    A Cox failure (separation, no convergence) must not stop the Bayesian analysis it only
    cross-checks; the reason is kept in the ``note`` column and in ``results.json``.
    """
    try:
        return weighted_cox(
            time, recovered, labels, weights, arms=arms, reference=reference, ci_level=ci_level
        )
    except ModelError as error:
        return pd.DataFrame(
            {
                "key": f"{arm}/{reference}",
                "arm": arm,
                "reference": reference,
                "hazard_ratio": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_value": np.nan,
                "note": f"not estimable: {error}",
            }
            for arm in arms
            if arm != reference
        )


def _observed_plt(day0, counts, codes, arms, days) -> pd.DataFrame:
    """Observed (unweighted) mean count per arm and day, with n: aggregate numbers only."""
    rows = []
    values = np.column_stack([day0, counts])
    for j, arm in enumerate(arms):
        for k, day in enumerate(("day0", *days)):
            column = values[codes == j, k]
            column = column[np.isfinite(column)]
            rows.append(
                {
                    "arm": arm,
                    "day": int(day.removeprefix("day")),
                    "n": int(column.size),
                    "observed_mean": float(column.mean()) if column.size else float("nan"),
                    "observed_sd": float(column.std(ddof=1)) if column.size > 1 else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def _baseline_means(day0: np.ndarray, data: PatientData, adjusted: bool) -> dict[str, float]:
    """Observed mean day-0 count: of the target population (adjusted) or of each arm."""
    if adjusted:
        value = float(np.sum(data.tilt * day0) / np.sum(data.tilt))
        return dict.fromkeys(data.arms, value)
    return {arm: float(day0[data.arm_codes == j].mean()) for j, arm in enumerate(data.arms)}


def weight_cohort(
    cohort: Cohort, plan: AnalysisPlan, *, progress: Progress | None = None
) -> dict[str, WeightedAnalysis]:
    """The weights of every adjusted analysis of the plan, keyed by analysis name."""
    say = progress or (lambda message: None)
    covariates = cohort.covariates().reset_index(drop=True)
    arm = cohort.data["arm"].reset_index(drop=True)
    arms = tuple(a for a in ARMS if a in set(arm))
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
) -> tuple[dict[str, PatientFit], dict[str, float]]:
    """Fit the four models under every analysis; return the fits and seconds per fit."""
    runner = _runner(cohort, plan, seed, progress)
    for analysis in plan.analyses():
        runner.fit(analysis, weighting.get(analysis.name) if analysis.adjusted else None)
    return runner.fits, runner.timings


def _runner(cohort, plan, seed, progress) -> _Runner:
    seed = plan.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    runner = _Runner(cohort, plan, int(seed), progress or (lambda message: None))
    if len(runner.arms) < 2:
        raise ModelError(f"need at least two arms, got {runner.arms}")
    return runner


def compare_arms(
    cohort: Cohort,
    plan: AnalysisPlan,
    weighting: dict[str, WeightedAnalysis],
    fits: dict[str, PatientFit],
    *,
    seed: int | None = None,
    timings: dict[str, float] | None = None,
) -> PatientAnalysis:
    """Posterior comparisons, frequentist cross-checks and the results document."""
    runner = _runner(cohort, plan, seed, None)
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
        data={
            "file": cohort.source,
            "fingerprint": cohort.fingerprint,
            "arms": list(runner.arms),
            "patients": _counts(runner.codes, runner.arms),
            "n_dropped_by_arm": {k: int(v) for k, v in cohort.n_dropped_by_arm().items()},
            "response_rule": cohort.response_rule,
            "covariates": list(plan.covariates),
            "design_columns": list(runner.design.columns),
        },
        analyses=[{"name": a.name, "estimand": a.estimand or "none"} for a in plan.analyses()],
        primary_estimand=plan.primary_estimand,
        noninferiority_margin=plan.margin,
        priors={model: asdict(prior) for model, prior in plan.priors.items()},
        assumptions=_assumptions(cohort, plan),
    )
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
    """
    start = time.perf_counter()
    weighting = weight_cohort(cohort, plan, progress=progress)
    timings = {"weighting": time.perf_counter() - start}
    fits, fit_timings = fit_models(cohort, plan, weighting, seed=seed, progress=progress)
    start = time.perf_counter()
    result = compare_arms(cohort, plan, weighting, fits, seed=seed)
    timings |= fit_timings | {"contrasts": time.perf_counter() - start}
    return PatientAnalysis(
        results=result.results,
        tables=result.tables,
        fits=result.fits,
        weighting=result.weighting,
        timings=timings,
        plan=plan,
    )


def _assumptions(cohort: Cohort, plan: AnalysisPlan) -> list[str]:
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
    if cohort.synthetic:
        out.insert(
            0,
            "The cohort is SYNTHETIC (reconstructed or simulated), not patient data: its numbers "
            "illustrate the method and must not be read as clinical evidence.",
        )
    return out


def _is_prior_setting(name: str) -> bool:
    return name.startswith("prior_")


def write_fit_outputs(analysis: PatientAnalysis, out_dir: str | Path) -> dict[str, object]:
    """Write ``results.json``, ``idata/*.nc`` and ``tables/*.csv`` under ``out_dir``.

    Only aggregate numbers are written (no patient identifier, no row-level value): the
    InferenceData keep the posterior, the sampler statistics and the prior settings of the
    model, not its data (outcomes, design, weights stay in memory; the data fingerprint in the
    provenance attributes identifies them). Returns the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, object] = {"results": write_results(analysis.results, out / "results.json")}
    written["idata"] = [
        save_fit(fit.fit, out / "idata" / f"{file_stem(name)}.nc", keep_data=_is_prior_setting)
        for name, fit in analysis.fits.items()
    ]
    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    paths = []
    for key, table in sorted(analysis.tables.items()):
        if key.endswith("/difference_draws"):  # posterior draws: in idata, not a summary table
            continue
        path = tables / f"{file_stem(key)}.csv"
        table.to_csv(path, index=False)
        paths.append(path)
    written["tables"] = paths
    return written
